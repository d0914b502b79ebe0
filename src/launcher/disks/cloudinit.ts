import { chmod, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { DiskError } from "./errors.js";
import { NOCLOUD_VOLUME_LABEL, type NoCloudFiles, noCloudFiles } from "./nocloud.js";
import type { CloudInitSource, DiskPlan } from "./plan.js";
import { runTool, ToolMissingError } from "./tools.js";

type NoCloudPlan = Extract<DiskPlan, { kind: "cloudInitNoCloud" }>;

/** A Secret's value is at most 1 MiB; anything larger is not a Secret volume's file. */
const MAX_SECRET_BYTES = 1024 * 1024;

/**
 * The cidata seed of a cloudInitNoCloud disk. Secret content is read here and written only
 * into the seed (mode 0600, in the pod's own disks dir): never logged, never in an error.
 */
export async function prepareNoCloudSeed(plan: NoCloudPlan): Promise<void> {
  const files = noCloudFiles(plan.metaData, {
    userData: plan.userData && (await resolveSource(plan.name, plan.userData)),
    networkData: plan.networkData && (await resolveSource(plan.name, plan.networkData)),
  });
  await createNoCloudSeed(plan.target, files);
}

async function resolveSource(disk: string, source: CloudInitSource): Promise<string> {
  if ("inline" in source) return source.inline;
  for (const key of source.keys) {
    const path = join(source.secretDir, key);
    // Secret volumes are links into a timestamped dir: follow them (the kubelet made them).
    const st = await stat(path).catch(() => undefined);
    if (!st) continue;
    if (!st.isFile() || st.size > MAX_SECRET_BYTES) {
      throw new DiskError(`disk ${disk}: ${source.field}: key ${key} is not a Secret value`);
    }
    return readFile(path, "utf8");
  }
  const dir = await stat(source.secretDir).catch(() => undefined);
  throw new DiskError(
    dir?.isDirectory()
      ? `disk ${disk}: ${source.field}: the Secret has no key ${source.keys.join(" or ")}`
      : `disk ${disk}: ${source.field}: the Secret is not mounted at ${source.secretDir}`,
  );
}

/**
 * An ISO 9660 volume labelled `cidata` with Joliet and Rock Ridge names (what cloud-localds
 * makes): genisoimage from Debian, or xorriso in its mkisofs mode.
 */
async function createNoCloudSeed(target: string, files: NoCloudFiles): Promise<void> {
  // mkdtemp makes the staging dir 0700: user-data may hold secrets.
  const staging = await mkdtemp(join(dirname(target), ".cidata-"));
  try {
    const names = Object.keys(files) as (keyof NoCloudFiles)[];
    for (const name of names) {
      await writeFile(join(staging, name), files[name] ?? "", { mode: 0o600 });
    }
    await rm(target, { force: true });
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
    await chmod(target, 0o600);
  } finally {
    await rm(staging, { recursive: true, force: true });
  }
}
