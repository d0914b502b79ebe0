import { join } from "node:path";
import { CLOUDINIT_SECRET_KEYS, imageDirName, LAUNCHER_PVC_DISK_FILE } from "../../api/launcher.js";
import { quantityToBytes } from "../../api/quantity.js";
import { pathInside } from "../paths.js";
import type { LaunchedVm } from "../spec.js";
import { noCloudMetaData } from "./nocloud.js";

/**
 * Where a cloud-init document comes from: the spec itself, or a Secret volume the launcher
 * reads at start (its content never passes through the spec, the plan or the log).
 */
export type CloudInitSource =
  | { inline: string }
  | { secretDir: string; keys: readonly string[]; field: string };

/** One disk to make ready before QEMU starts, in spec order. */
export type DiskPlan =
  /** `source` lies in `imageDir` (the image's root); the guest writes to an overlay at `target`. */
  | { kind: "containerDisk"; name: string; imageDir: string; source: string; target: string }
  | { kind: "emptyDisk"; name: string; target: string; sizeBytes: number }
  | {
      kind: "cloudInitNoCloud";
      name: string;
      target: string;
      metaData: string;
      userData?: CloudInitSource;
      networkData?: CloudInitSource;
    }
  /**
   * A block-mode claim appears as the device `device`; a filesystem claim is mounted at
   * `claimDir` and holds the image `file`. Which one the pod has decides at prepare time.
   */
  | { kind: "persistentVolumeClaim"; name: string; device: string; claimDir: string; file: string };

export interface DiskDirs {
  disksDir: string;
  imagesDir: string;
  pvcsDir: string;
  pvcDevicesDir: string;
  cloudInitDir: string;
}

const SECTOR = 512;

/** Where each disk of the spec comes from and where its prepared file goes, in spec order. */
export function planDisks(vm: LaunchedVm, dirs: DiskDirs): DiskPlan[] {
  return vm.spec.disks.map((disk): DiskPlan => {
    const { name } = disk;
    if (disk.containerDisk) {
      const imageDir = join(dirs.imagesDir, imageDirName(disk.containerDisk.image));
      return {
        kind: "containerDisk",
        name,
        imageDir,
        source: pathInside(imageDir, disk.containerDisk.path),
        target: join(dirs.disksDir, `${name}.qcow2`),
      };
    }
    if (disk.emptyDisk) {
      const bytes = quantityToBytes(disk.emptyDisk.size);
      return {
        kind: "emptyDisk",
        name,
        target: join(dirs.disksDir, `${name}.img`),
        // Block devices come in whole sectors; round up rather than lose the tail.
        sizeBytes: Math.ceil(bytes / SECTOR) * SECTOR,
      };
    }
    if (disk.cloudInitNoCloud) {
      const c = disk.cloudInitNoCloud;
      const secretDir = (sub: keyof typeof CLOUDINIT_SECRET_KEYS) =>
        join(dirs.cloudInitDir, name, sub);
      const plan: DiskPlan = {
        kind: "cloudInitNoCloud",
        name,
        target: join(dirs.disksDir, `${name}.iso`),
        metaData: noCloudMetaData(vm),
      };
      if (c.userData !== undefined) plan.userData = { inline: c.userData };
      if (c.userDataSecretRef) {
        plan.userData = {
          secretDir: secretDir("userdata"),
          keys: CLOUDINIT_SECRET_KEYS.userdata,
          field: "cloudInitNoCloud.userDataSecretRef",
        };
      }
      if (c.networkData !== undefined) plan.networkData = { inline: c.networkData };
      if (c.networkDataSecretRef) {
        plan.networkData = {
          secretDir: secretDir("networkdata"),
          keys: CLOUDINIT_SECRET_KEYS.networkdata,
          field: "cloudInitNoCloud.networkDataSecretRef",
        };
      }
      return plan;
    }
    if (disk.persistentVolumeClaim) {
      const claimDir = join(dirs.pvcsDir, name);
      return {
        kind: "persistentVolumeClaim",
        name,
        device: join(dirs.pvcDevicesDir, name),
        claimDir,
        file: join(claimDir, LAUNCHER_PVC_DISK_FILE),
      };
    }
    // The API's refinement guarantees exactly one source; this only guards a future kind.
    throw new Error(`disk ${name}: no source the launcher knows`);
  });
}

/** Filesystem figures as statfs gives them (bytes per block, total and available blocks). */
export interface FsSize {
  bsize: number;
  blocks: number;
  bavail: number;
}

const MiB = 1024 * 1024;
/** Room left for the filesystem's own growth (extent trees) as the sparse image fills. */
export const PVC_RESERVE_FRACTION = 0.01;
export const PVC_RESERVE_MIN_BYTES = 4 * MiB;

/**
 * The size of a disk image created on an empty filesystem claim: the filesystem's size less
 * a small reserve, never more than is free, in whole MiB; 0 when nothing usable is left.
 */
export function pvcDiskSizeBytes(fs: FsSize): number {
  const total = fs.bsize * fs.blocks;
  const reserve = Math.max(PVC_RESERVE_MIN_BYTES, Math.ceil(total * PVC_RESERVE_FRACTION));
  const usable = Math.min(total - reserve, fs.bsize * fs.bavail);
  return usable <= 0 ? 0 : Math.floor(usable / MiB) * MiB;
}
