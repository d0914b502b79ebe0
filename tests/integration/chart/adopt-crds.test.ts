/**
 * `kubevisor local up` applies the CRDs with kubectl; the chart templates them, and Helm
 * refuses to install over objects it does not own. adoptCrdsForHelm is the one-time step that
 * makes an install on such a cluster work — proven here with real Helm on a throwaway CRD, and
 * shown to leave a CRD another release owns alone.
 */
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "dax-sh";
import { afterAll, describe, expect, inject, it } from "vitest";
import { stringify } from "yaml";
import { binaryPath } from "../../../src/local/build/targets.js";
import { adoptCrdsForHelm } from "../../../src/local/crds.js";

const CRD = "widgets.adopt-test.kubevisor.io";
const crd = {
  apiVersion: "apiextensions.k8s.io/v1",
  kind: "CustomResourceDefinition",
  metadata: { name: CRD },
  spec: {
    group: "adopt-test.kubevisor.io",
    names: { kind: "Widget", plural: "widgets", singular: "widget", listKind: "WidgetList" },
    scope: "Namespaced",
    versions: [
      {
        name: "v1",
        served: true,
        storage: true,
        schema: { openAPIV3Schema: { type: "object", x_preserve: true } },
      },
    ],
  },
};
// x-kubernetes-preserve-unknown-fields is not a valid JS identifier key in the literal above.
const crdYaml = stringify(crd).replace("x_preserve", "x-kubernetes-preserve-unknown-fields");

const kubeconfig = () => inject("kubeconfig");
const helm = (args: string[]) =>
  $`${binaryPath("helm", "helm")} ${args}`.env({ KUBECONFIG: kubeconfig() }).noThrow().quiet();
let dir = "";

afterAll(async () => {
  await helm(["uninstall", "adopter", "-n", "default"]);
  await $`kubectl --kubeconfig ${kubeconfig()} delete crd ${CRD} --ignore-not-found`.quiet();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("adopting CRDs applied without Helm", () => {
  it("lets helm install a chart templating a CRD that kubectl applied", async () => {
    await $`kubectl --kubeconfig ${kubeconfig()} apply -f -`.stdinText(crdYaml).quiet();
    dir = await mkdtemp(join(tmpdir(), "kubevisor-adopt-"));
    await mkdir(join(dir, "templates"));
    await writeFile(join(dir, "Chart.yaml"), "apiVersion: v2\nname: adopter\nversion: 0.1.0\n");
    await writeFile(join(dir, "templates", "crd.yaml"), crdYaml);

    const refused = await helm(["install", "adopter", dir, "-n", "default"]).stderr("piped");
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/invalid ownership metadata/);

    const release = { name: "adopter", namespace: "default" };
    expect(await adoptCrdsForHelm(kubeconfig(), [CRD, "absent.kubevisor.io"], release)).toEqual([
      CRD,
    ]);
    const installed = await helm(["install", "adopter", dir, "-n", "default"]).stderr("piped");
    expect(installed.stderr).toBe("");
    expect(installed.code).toBe(0);
  });

  it("leaves a CRD another release owns alone", async () => {
    const other = { name: "someone-else", namespace: "elsewhere" };
    expect(await adoptCrdsForHelm(kubeconfig(), [CRD], other)).toEqual([]);
    const annotations = JSON.parse(
      await $`kubectl --kubeconfig ${kubeconfig()} get crd ${CRD} -o json`.text(),
    ).metadata.annotations;
    expect(annotations["meta.helm.sh/release-name"]).toBe("adopter");
  });
});
