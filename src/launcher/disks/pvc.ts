import { lstat, open, stat, statfs } from "node:fs/promises";
import { DiskError } from "./errors.js";
import { inspectImage } from "./inspect.js";
import { type DiskPlan, pvcDiskSizeBytes } from "./plan.js";
import type { PreparedDisk } from "./prepared.js";

type PvcPlan = Extract<DiskPlan, { kind: "persistentVolumeClaim" }>;

/**
 * A claim's disk: the block device when the pod has one (volumeMode Block), else the image
 * file on the mounted filesystem, created sparse when the claim is new. Either way the
 * image is inspected like any other (a guest can write a qcow2 header onto its own raw disk).
 */
export async function preparePvcDisk(plan: PvcPlan): Promise<PreparedDisk> {
  const dev = await stat(plan.device).catch(() => undefined);
  if (dev) {
    if (!dev.isBlockDevice()) {
      throw new DiskError(`disk ${plan.name}: ${plan.device} is not a block device`);
    }
    const image = await inspectImage(plan.name, plan.device, { device: true });
    return {
      disk: {
        name: plan.name,
        path: plan.device,
        format: image.format,
        readOnly: false,
        device: true,
      },
      sizeBytes: image.virtualSizeBytes,
    };
  }
  const dir = await stat(plan.claimDir).catch(() => undefined);
  if (!dir?.isDirectory()) {
    throw new DiskError(
      `disk ${plan.name}: its claim is mounted neither as a block device at ${plan.device} nor as a filesystem at ${plan.claimDir}`,
    );
  }
  const file = await lstat(plan.file).catch(() => undefined);
  if (!file) {
    const sizeBytes = pvcDiskSizeBytes(await statfs(plan.claimDir));
    if (sizeBytes === 0) {
      throw new DiskError(`disk ${plan.name}: its claim has no room for a disk image`);
    }
    await createSparseFile(plan.file, sizeBytes, { exclusive: true });
    return {
      disk: { name: plan.name, path: plan.file, format: "raw", readOnly: false },
      sizeBytes,
    };
  }
  if (!file.isFile()) {
    throw new DiskError(
      `disk ${plan.name}: ${plan.file} is not a regular file (links are refused)`,
    );
  }
  const image = await inspectImage(plan.name, plan.file);
  return {
    disk: { name: plan.name, path: plan.file, format: image.format, readOnly: false },
    sizeBytes: image.virtualSizeBytes,
  };
}

/** A file of the given size that takes no space until the guest writes to it. */
export async function createSparseFile(
  path: string,
  sizeBytes: number,
  opts: { exclusive?: boolean } = {},
): Promise<void> {
  // Exclusive for a claim: never truncate an image another pod created a moment ago.
  const file = await open(path, opts.exclusive ? "wx" : "w");
  try {
    await file.truncate(sizeBytes);
  } finally {
    await file.close();
  }
}
