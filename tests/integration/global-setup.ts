/**
 * Starts one real control plane for the whole integration run, in a temp state directory so
 * it never touches a developer's `default` cluster, installs crds/, and hands the kubeconfig
 * to tests as `inject("kubeconfig")`; tests/kubeconfig-setup.ts exports it as KUBECONFIG.
 * KUBEVISOR_SKIP_CONTROL_PLANE=1 skips all that for QEMU-only runs: "kubeconfig" is then "".
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TestProject } from "vitest/node";
import { type ControlPlane, startControlPlane } from "../../src/local/controlplane.js";
import { applyCrds, packagedCrdsDir } from "../../src/local/crds.js";
import { createProgress } from "../../src/local/progress.js";

declare module "vitest" {
  export interface ProvidedContext {
    /** Admin kubeconfig of the run's control plane; "" when it was skipped. */
    kubeconfig: string;
    apiserverUrl: string;
    /** Its state directory (pki/ has the CA, for tests that mint their own client certs). */
    clusterDir: string;
  }
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  if (process.env.KUBEVISOR_SKIP_CONTROL_PLANE === "1") {
    project.provide("kubeconfig", "");
    project.provide("apiserverUrl", "");
    project.provide("clusterDir", "");
    return async () => {};
  }
  const dir = mkdtempSync(join(tmpdir(), "kubevisor-test-"));
  let cp: ControlPlane | undefined;
  try {
    cp = await startControlPlane({ name: `test-${process.pid}`, dir, progress: createProgress() });
    await applyCrds(cp.kubeconfigPath, packagedCrdsDir());
  } catch (err) {
    await cp?.stop();
    rmSync(dir, { recursive: true, force: true });
    throw err;
  }
  project.provide("kubeconfig", cp.kubeconfigPath);
  project.provide("apiserverUrl", cp.apiserverUrl);
  project.provide("clusterDir", cp.dir);
  const started = cp;
  return async () => {
    await started.stop();
    rmSync(dir, { recursive: true, force: true });
  };
}
