import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { $ } from "dax-sh";

/** The crds/ directory shipped with this package (same relative place from src/ and dist/). */
export function packagedCrdsDir(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, "package.json"))) {
    const up = dirname(dir);
    if (up === dir) throw new Error("cannot find the kubevisor package root");
    dir = up;
  }
  return join(dir, "crds");
}

export function crdFiles(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()
    .map((f) => join(dir, f));
}

/**
 * Applies the CRDs server-side (the same field manager on every run, so re-applying after a
 * schema change just updates them) and waits until the apiserver serves them, so a following
 * `kubectl apply -f vm.yaml` cannot race the discovery of the new kinds.
 */
export async function applyCrds(kubeconfig: string, dir: string): Promise<string[]> {
  const files = crdFiles(dir);
  if (files.length === 0) return [];
  const fileArgs = files.flatMap((f) => ["-f", f]);
  await $`kubectl --kubeconfig ${kubeconfig} apply --server-side --force-conflicts --field-manager=kubevisor ${fileArgs}`.quiet(
    "stdout",
  );
  await $`kubectl --kubeconfig ${kubeconfig} wait --for condition=established --timeout=60s ${fileArgs}`.quiet(
    "stdout",
  );
  return files;
}

/**
 * CRDs applied without Helm (`kubevisor local up` applies crds/) carry no Helm ownership, and
 * Helm refuses to install a chart whose templates hold them. This is the chart README's
 * one-time step: CRDs that no release owns yet get `release`'s ownership labels, so the chart
 * adopts and from then on upgrades them. A CRD owned by a release is left alone.
 */
export async function adoptCrdsForHelm(
  kubeconfig: string,
  names: readonly string[],
  release: { name: string; namespace: string },
): Promise<string[]> {
  const adopted: string[] = [];
  for (const name of names) {
    const got =
      await $`kubectl --kubeconfig ${kubeconfig} get crd ${name} -o json --ignore-not-found`
        .quiet()
        .text();
    if (got.trim() === "") continue;
    const crd = JSON.parse(got) as { metadata: { annotations?: Record<string, string> } };
    if (crd.metadata.annotations?.["meta.helm.sh/release-name"]) continue;
    await $`kubectl --kubeconfig ${kubeconfig} label crd ${name} app.kubernetes.io/managed-by=Helm --overwrite`.quiet();
    await $`kubectl --kubeconfig ${kubeconfig} annotate crd ${name} meta.helm.sh/release-name=${release.name} meta.helm.sh/release-namespace=${release.namespace} --overwrite`.quiet();
    adopted.push(name);
  }
  return adopted;
}
