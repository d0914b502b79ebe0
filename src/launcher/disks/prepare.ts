import { mkdir, rm } from "node:fs/promises";
import { dirname } from "node:path";
import type { Logger } from "../../util/log.js";
import type { DiskConfig } from "../../vmm/config.js";
import { prepareNoCloudSeed } from "./cloudinit.js";
import { DiskError } from "./errors.js";
import { ImageRefused } from "./format.js";
import { inspectImage, refuseLinksBelow } from "./inspect.js";
import type { DiskPlan } from "./plan.js";
import type { PreparedDisk } from "./prepared.js";
import { createSparseFile, preparePvcDisk } from "./pvc.js";
import { runTool, ToolMissingError } from "./tools.js";

export { DiskError };

/**
 * Make every planned disk exist on the host; returns them as the VMM wants them. A disk the
 * pod cannot provide or an image that is refused ends in DiskError naming the disk.
 */
export async function prepareDisks(plans: DiskPlan[], log: Logger): Promise<DiskConfig[]> {
  const disks: DiskConfig[] = [];
  for (const plan of plans) {
    const started = Date.now();
    const prepared = await prepareDisk(plan).catch((err: unknown) => {
      throw err instanceof ImageRefused ? new DiskError(err.message) : err;
    });
    const { disk, sizeBytes } = prepared;
    log.info(
      {
        disk: plan.name,
        kind: plan.kind,
        path: disk.path,
        format: disk.format,
        ...(sizeBytes !== undefined ? { sizeBytes } : {}),
        ms: Date.now() - started,
      },
      "disk ready",
    );
    disks.push(disk);
  }
  return disks;
}

async function prepareDisk(plan: DiskPlan): Promise<PreparedDisk> {
  switch (plan.kind) {
    case "containerDisk":
      return prepareContainerDisk(plan);
    case "emptyDisk":
      await mkdir(dirname(plan.target), { recursive: true });
      await createSparseFile(plan.target, plan.sizeBytes);
      return {
        disk: { name: plan.name, path: plan.target, format: "raw", readOnly: false },
        sizeBytes: plan.sizeBytes,
      };
    case "cloudInitNoCloud":
      await mkdir(dirname(plan.target), { recursive: true });
      await prepareNoCloudSeed(plan);
      return { disk: { name: plan.name, path: plan.target, format: "raw", readOnly: true } };
    case "persistentVolumeClaim":
      return preparePvcDisk(plan);
  }
}

/**
 * The image stays read-only and shared: the guest writes to a qcow2 overlay in the pod's
 * own disks directory. The overlay names the image and its format, both chosen here after
 * inspection; nothing the image says about other files is ever used.
 */
async function prepareContainerDisk(
  plan: Extract<DiskPlan, { kind: "containerDisk" }>,
): Promise<PreparedDisk> {
  await refuseLinksBelow(plan.name, plan.imageDir, plan.source);
  const image = await inspectImage(plan.name, plan.source);
  await mkdir(dirname(plan.target), { recursive: true });
  await rm(plan.target, { force: true });
  try {
    await runTool("qemu-img", [
      "create",
      "-q",
      "-f",
      "qcow2",
      "-b",
      plan.source,
      "-F",
      image.format,
      plan.target,
    ]);
  } catch (err) {
    if (err instanceof ToolMissingError) throw new DiskError(`disk ${plan.name}: ${err.message}`);
    throw err;
  }
  return {
    disk: { name: plan.name, path: plan.target, format: "qcow2", readOnly: false },
    sizeBytes: image.virtualSizeBytes,
  };
}
