/**
 * The product on real nodes for the real-node run (vitest.real-nodes.config.ts): the control
 * plane, two kubelets with containerd, the image built from the Dockerfile and the chart,
 * shared by the whole e2e suite and tests/real-nodes/. The host is snapshotted before `up`;
 * the teardown runs `down` and fails the run if anything it started is left behind.
 */
import { mkdirSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { isDeepStrictEqual } from "node:util";
import type { TestProject } from "vitest/node";
import { type Product, startProduct } from "../../src/local/product.js";
import { createProgress } from "../../src/local/progress.js";
import { cacheDir } from "../../src/util/paths.js";
import { snapshotHost } from "./host-state.js";
import { buildTestImage } from "./test-image.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** The host snapshot (./host-state.ts) taken before `up`, as JSON. */
    hostBefore: string;
  }
}

/** Short: the host veth is `kvh-<name>` and interface names stop at 15 bytes. */
export const REAL_CLUSTER_NAME = "e2e-rn";

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.getuid?.() !== 0)
    throw new Error("real nodes need root (scripts/test-real-nodes.mjs)");
  const dir = mkdtempSync(join(tmpdir(), "kubevisor-e2e-rn-"));
  const before = await snapshotHost(dir);
  const imgDir = cacheDir("real-nodes-test");
  mkdirSync(imgDir, { recursive: true });
  let product: Product | undefined;
  const started = Date.now();
  try {
    product = await startProduct({
      name: REAL_CLUSTER_NAME,
      dir,
      runtime: "containerd",
      progress: createProgress(),
      imageArchives: [await buildTestImage(imgDir)],
    });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  console.log(`real nodes: up → product ready ${((Date.now() - started) / 1000).toFixed(1)} s`);
  project.provide("kubeconfig", product.kubeconfigPath);
  project.provide("clusterDir", product.controlPlane.dir);
  project.provide("runtime", "containerd");
  project.provide("hostBefore", JSON.stringify(before));
  const up = product;
  return async () => {
    await up.stop();
    // `kubevisor local down` must leave the host exactly as it found it.
    const after = await snapshotHost(dir);
    rmSync(dir, { recursive: true, force: true });
    if (!isDeepStrictEqual(after, before)) {
      const diff = Object.keys(before).filter(
        (k) => !isDeepStrictEqual(after[k as keyof typeof after], before[k as keyof typeof before]),
      );
      throw new Error(
        `local down left the host changed in: ${diff.join(", ")}\nbefore: ${JSON.stringify(before)}\nafter: ${JSON.stringify(after)}`,
      );
    }
  };
}
