import { join } from "node:path";
import { imageDirName, LAUNCHER_PVC_DISK_FILE } from "../../api/launcher.js";
import { quantityToBytes } from "../../api/quantity.js";
import { pathInside } from "../paths.js";
import type { LaunchedVm } from "../spec.js";
import { type NoCloudFiles, noCloudFiles } from "./nocloud.js";

/** One disk to make ready before QEMU starts; `target` is the file QEMU will open. */
export type DiskPlan =
  | { kind: "containerDisk"; name: string; source: string; target: string }
  | { kind: "emptyDisk"; name: string; target: string; sizeBytes: number }
  | { kind: "cloudInitNoCloud"; name: string; target: string; files: NoCloudFiles }
  | { kind: "persistentVolumeClaim"; name: string; target: string };

export interface DiskDirs {
  disksDir: string;
  imagesDir: string;
  pvcsDir: string;
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
      return {
        kind: "cloudInitNoCloud",
        name,
        target: join(dirs.disksDir, `${name}.iso`),
        files: noCloudFiles(vm, disk.cloudInitNoCloud),
      };
    }
    if (disk.persistentVolumeClaim) {
      return {
        kind: "persistentVolumeClaim",
        name,
        target: join(dirs.pvcsDir, name, LAUNCHER_PVC_DISK_FILE),
      };
    }
    // The API's refinement guarantees exactly one source; this only guards a future kind.
    throw new Error(`disk ${name}: no source the launcher knows`);
  });
}
