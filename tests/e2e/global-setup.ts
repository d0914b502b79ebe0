/**
 * One whole product for the end-to-end run: control plane, two local nodes and the chart
 * installed with Helm, in a temp state directory so a developer's `default` cluster is never
 * touched. Tests get the kubeconfig as `inject("kubeconfig")` and, through
 * tests/kubeconfig-setup.ts, as KUBECONFIG.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { type Product, startProduct } from "../../src/local/product.js";
import { createProgress } from "../../src/local/progress.js";

declare module "vitest" {
  export interface ProvidedContext {
    kubeconfig: string;
    clusterDir: string;
    /** Which nodes the cluster runs: the stand-in (default) or real kubelets. */
    runtime: "local" | "containerd";
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const dir = mkdtempSync(join(tmpdir(), "kubevisor-e2e-"));
  let product: Product | undefined;
  try {
    product = await startProduct({ name: `e2e-${process.pid}`, dir, progress: createProgress() });
  } catch (err) {
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  project.provide("kubeconfig", product.kubeconfigPath);
  project.provide("clusterDir", product.controlPlane.dir);
  project.provide("runtime", "local");
  const started = product;
  return async () => {
    await started.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
