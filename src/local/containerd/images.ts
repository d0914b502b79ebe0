import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "dax-sh";
import { binDir, component } from "../build/targets.js";
import { writeOciArchive } from "./oci.js";
import { PAUSE_IMAGE, type RealNodePlan } from "./plan.js";

/**
 * Images without a registry: archives imported into every node's containerd, in the
 * namespace the CRI plugin uses. Pods then run them with `imagePullPolicy: Never` (or
 * IfNotPresent, since they are present).
 */

export const CRI_NAMESPACE = "k8s.io";

function ctr(): string {
  return join(binDir(component("containerd")), "ctr");
}

/** Imports an OCI or docker archive into one node. */
export async function importArchive(node: RealNodePlan, archive: string): Promise<void> {
  await $`${ctr()} --address ${node.containerdSocket} -n ${CRI_NAMESPACE} images import ${archive}`.quiet();
}

/** Imports an OCI or docker archive into every node's containerd. */
export async function importImageArchive(
  nodes: readonly RealNodePlan[],
  archive: string,
): Promise<void> {
  if (!existsSync(archive)) throw new Error(`image archive ${archive} does not exist`);
  for (const n of nodes) await importArchive(n, archive);
}

/** Image references a node's containerd holds (CRI namespace). */
export async function nodeImages(node: RealNodePlan): Promise<string[]> {
  const out =
    await $`${ctr()} --address ${node.containerdSocket} -n ${CRI_NAMESPACE} images list -q`.text();
  return out.split("\n").filter(Boolean);
}

/** The sandbox image: our static pause binary alone, built into an archive in `dir`. */
export async function pauseArchive(dir: string): Promise<string> {
  const out = join(dir, "pause.oci.tar");
  if (existsSync(out)) return out;
  const rootfs = mkdtempSync(join(tmpdir(), "kv-pause-"));
  try {
    copyFileSync(join(binDir(component("pause")), "pause"), join(rootfs, "pause"));
    mkdirSync(dir, { recursive: true });
    await writeOciArchive({
      ref: PAUSE_IMAGE,
      rootfs,
      out,
      config: { entrypoint: ["/pause"], user: "65535:65535" },
    });
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
  }
  return out;
}
