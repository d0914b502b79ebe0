import { constants } from "node:fs";
import { access, copyFile, mkdir, mkdtemp, open, rm, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import type { Logger } from "../../util/log.js";
import type { DiskConfig } from "../../vmm/config.js";
import { detectFormat } from "./format.js";
import { NOCLOUD_VOLUME_LABEL, type NoCloudFiles } from "./nocloud.js";
import type { DiskPlan } from "./plan.js";
import { runTool, ToolMissingError } from "./tools.js";

/** A disk the spec names but the pod cannot provide: the launcher reports ConfigError. */
export class DiskError extends Error {
  override name = "DiskError";
}

/** Make every planned disk exist on the host; returns them as the VMM wants them. */
export async function prepareDisks(plans: DiskPlan[], log: Logger): Promise<DiskConfig[]> {
  const disks: DiskConfig[] = [];
  for (const plan of plans) {
    const started = Date.now();
    const disk = await prepareDisk(plan);
    log.info(
      { disk: plan.name, kind: plan.kind, path: disk.path, ms: Date.now() - started },
      "disk ready",
    );
    disks.push(disk);
  }
  return disks;
}

async function prepareDisk(plan: DiskPlan): Promise<DiskConfig> {
  switch (plan.kind) {
    case "containerDisk":
      return prepareContainerDisk(plan);
    case "emptyDisk":
      await mkdir(dirname(plan.target), { recursive: true });
      await createSparseFile(plan.target, plan.sizeBytes);
      return { name: plan.name, path: plan.target, format: "raw", readOnly: false };
    case "cloudInitNoCloud":
      await mkdir(dirname(plan.target), { recursive: true });
      await createNoCloudSeed(plan.target, plan.files);
      return { name: plan.name, path: plan.target, format: "raw", readOnly: true };
    case "persistentVolumeClaim":
      await mustExist(plan.target, `disk ${plan.name}: its claim holds no disk image`);
      return { name: plan.name, path: plan.target, format: "raw", readOnly: false };
  }
}

/**
 * The image stays read-only and shared: the guest writes to a qcow2 overlay in the pod's
 * own disks directory. Without qemu-img the image is copied whole instead.
 */
async function prepareContainerDisk(
  plan: Extract<DiskPlan, { kind: "containerDisk" }>,
): Promise<DiskConfig> {
  await mustExist(plan.source, `disk ${plan.name}: container disk file not found`);
  await mkdir(dirname(plan.target), { recursive: true });
  const backingFormat = await detectFormat(plan.source);
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
      backingFormat,
      plan.target,
    ]);
    return { name: plan.name, path: plan.target, format: "qcow2", readOnly: false };
  } catch (err) {
    if (!(err instanceof ToolMissingError)) throw err;
    const copy = plan.target.replace(/\.qcow2$/, `.${backingFormat}`);
    await copyFile(plan.source, copy);
    return { name: plan.name, path: copy, format: backingFormat, readOnly: false };
  }
}

/** A file of the given size that takes no space until the guest writes to it. */
async function createSparseFile(path: string, sizeBytes: number): Promise<void> {
  const file = await open(path, "w");
  try {
    await file.truncate(sizeBytes);
  } finally {
    await file.close();
  }
}

/**
 * An ISO 9660 volume labelled `cidata` with Joliet and Rock Ridge names (what cloud-localds
 * makes): genisoimage from Debian, or xorriso in its mkisofs mode.
 */
async function createNoCloudSeed(target: string, files: NoCloudFiles): Promise<void> {
  const staging = await mkdtemp(join(dirname(target), ".cidata-"));
  try {
    const names = Object.keys(files) as (keyof NoCloudFiles)[];
    for (const name of names) await writeFile(join(staging, name), files[name] ?? "");
    const args = ["-quiet", "-output", target, "-volid", NOCLOUD_VOLUME_LABEL, "-joliet", "-rock"];
    const paths = names.map((n) => join(staging, n));
    try {
      await runTool("genisoimage", [...args, ...paths]);
    } catch (err) {
      if (!(err instanceof ToolMissingError)) throw err;
      await runTool("xorriso", ["-as", "mkisofs", ...args, ...paths]).catch((e: unknown) => {
        throw e instanceof ToolMissingError
          ? new DiskError("a cloud-init seed needs genisoimage or xorriso installed")
          : e;
      });
    }
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}

async function mustExist(path: string, message: string): Promise<void> {
  try {
    await access(path, constants.R_OK);
  } catch {
    throw new DiskError(`${message}: ${path}`);
  }
}
