/**
 * The chart rendered by real Helm (`helm template`), asserted on as objects: what each value
 * turns into, and what the schema refuses (naming the field).
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "dax-sh";
import { describe, expect, it } from "vitest";
import { parse, parseAllDocuments } from "yaml";
import { toCrd } from "../../../src/api/crd.js";
import { RESOURCES } from "../../../src/api/resources.js";
import { binaryPath } from "../../../src/local/build/targets.js";
import { DEFAULT_IMAGE_TAG, KUBEVISOR_IMAGE_REPOSITORY } from "../../../src/local/images.js";
import { chartDir } from "../../../src/local/product.js";

interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  // biome-ignore lint/suspicious/noExplicitAny: rendered objects of many kinds
  spec?: any;
}

const chart = chartDir();
const chartYaml = parse(readFileSync(join(chart, "Chart.yaml"), "utf8"));

async function helmTemplate(args: string[] = [], release = "kubevisor"): Promise<string> {
  const r =
    await $`${binaryPath("helm", "helm")} template ${release} ${chart} --namespace kv-system ${args}`
      .noThrow()
      .stdout("piped")
      .stderr("piped");
  if (r.code !== 0) throw new Error(r.stderr);
  return r.stdout;
}

async function render(args: string[] = [], release?: string): Promise<K8sObject[]> {
  return parseAllDocuments(await helmTemplate(args, release))
    .map((d) => d.toJS() as K8sObject | null)
    .filter((o): o is K8sObject => o !== null);
}

/** The CRD src/api generates for `resource` (what the chart's copy must be). */
const crdOf = (r: (typeof RESOURCES)[number]) =>
  toCrd(r) as { metadata: { name: string }; spec: unknown };

const find = (objs: K8sObject[], kind: string, name?: string) =>
  objs.find((o) => o.kind === kind && (name === undefined || o.metadata.name === name));

function operatorPodSpec(objs: K8sObject[]) {
  return find(objs, "Deployment")?.spec.template.spec;
}

describe("chart defaults", () => {
  it("runs the image tagged with the chart's appVersion; `latest` nowhere", async () => {
    const text = await helmTemplate();
    expect(text).not.toMatch(/:latest\b/);
    const objs = await render();
    const image = `${KUBEVISOR_IMAGE_REPOSITORY}:${chartYaml.appVersion}`;
    const container = operatorPodSpec(objs).containers[0];
    expect(container.image).toBe(image);
    const env = Object.fromEntries(
      container.env.map((e: { name: string; value?: string }) => [e.name, e.value]),
    );
    expect(env.KUBEVISOR_LAUNCHER_IMAGE).toBe(image);
    expect(env).not.toHaveProperty("KUBEVISOR_IMAGE_PULL_SECRETS");
    expect(find(objs, "Pod", "kubevisor-test")?.spec.containers[0].image).toBe(image);
  });

  it("keeps the local clusters' tag, package.json and Artifact Hub's image list on the same version", () => {
    const pkg = JSON.parse(readFileSync(join(chart, "..", "..", "package.json"), "utf8"));
    expect(chartYaml.appVersion).toBe(pkg.version);
    expect(DEFAULT_IMAGE_TAG).toBe(chartYaml.appVersion);
    const images = parse(chartYaml.annotations["artifacthub.io/images"]);
    expect(images).toEqual([
      { name: "kubevisor", image: `${KUBEVISOR_IMAGE_REPOSITORY}:${chartYaml.appVersion}` },
    ]);
    const crds = parse(chartYaml.annotations["artifacthub.io/crds"]) as { name: string }[];
    expect(crds.map((c) => c.name).sort()).toEqual(
      RESOURCES.map((r) => crdOf(r).metadata.name).sort(),
    );
  });

  it("runs two replicas spread over nodes, with a PodDisruptionBudget", async () => {
    const objs = await render();
    expect(find(objs, "Deployment")?.spec.replicas).toBe(2);
    const selector = find(objs, "Deployment")?.spec.selector.matchLabels;
    expect(operatorPodSpec(objs).topologySpreadConstraints).toEqual([
      {
        maxSkew: 1,
        topologyKey: "kubernetes.io/hostname",
        whenUnsatisfiable: "ScheduleAnyway",
        labelSelector: { matchLabels: selector },
      },
    ]);
    const pdb = find(objs, "PodDisruptionBudget");
    expect(pdb?.spec).toEqual({ maxUnavailable: 1, selector: { matchLabels: selector } });
  });

  it("leaves out the PDB and the spread for a single replica (a PDB would block every drain)", async () => {
    const objs = await render(["--set", "operator.replicas=1"]);
    expect(find(objs, "PodDisruptionBudget")).toBeUndefined();
    expect(operatorPodSpec(objs)).not.toHaveProperty("topologySpreadConstraints");
  });

  it("labels every object with part-of and its component", async () => {
    for (const o of await render()) {
      expect(o.metadata.labels?.["app.kubernetes.io/part-of"], o.metadata.name).toBe("kubevisor");
      expect(o.metadata.labels?.["app.kubernetes.io/component"], o.metadata.name).toMatch(
        /^(operator|apiserver|user-roles|crd|test)$/,
      );
    }
  });

  it("templates the CRDs from src/api, kept on uninstall, so helm upgrade upgrades them", async () => {
    const crds = (await render()).filter((o) => o.kind === "CustomResourceDefinition");
    expect(crds.map((c) => c.metadata.name).sort()).toEqual(
      RESOURCES.map((r) => crdOf(r).metadata.name).sort(),
    );
    for (const resource of RESOURCES) {
      const want = crdOf(resource);
      const got = crds.find((c) => c.metadata.name === want.metadata.name);
      expect(got?.spec).toEqual(JSON.parse(JSON.stringify(want.spec)));
      expect(got?.metadata.annotations?.["helm.sh/resource-policy"]).toBe("keep");
    }
    const notKept = await render(["--set", "crds.keep=false"]);
    expect(find(notKept, "CustomResourceDefinition")?.metadata.annotations).toBeUndefined();
    const none = await render(["--set", "crds.install=false"]);
    expect(find(none, "CustomResourceDefinition")).toBeUndefined();
  });

  it("has a helm test hook pod with a read-only identity, left out when tests.enabled=false", async () => {
    const objs = await render();
    const pod = find(objs, "Pod", "kubevisor-test");
    expect(pod?.metadata.annotations?.["helm.sh/hook"]).toBe("test");
    expect(pod?.spec.containers[0].command).toEqual(["node", "dist/operator/selftest.js"]);
    const role = find(objs, "Role", "kubevisor-test") as unknown as {
      rules: { verbs: string[] }[];
    };
    expect(role.rules.flatMap((r) => r.verbs)).toEqual(["get", "get", "get"]);
    const off = await render(["--set", "tests.enabled=false"]);
    expect(off.filter((o) => o.metadata.name === "kubevisor-test")).toEqual([]);
  });
});

describe("chart values", () => {
  it("passes imagePullSecrets to the operator, its launchers (env) and the test pod", async () => {
    const objs = await render([
      "--set",
      "imagePullSecrets[0].name=regcred",
      "--set",
      "imagePullSecrets[1].name=mirror",
    ]);
    const secrets = [{ name: "regcred" }, { name: "mirror" }];
    expect(operatorPodSpec(objs).imagePullSecrets).toEqual(secrets);
    const env = operatorPodSpec(objs).containers[0].env as { name: string; value?: string }[];
    expect(env.find((e) => e.name === "KUBEVISOR_IMAGE_PULL_SECRETS")?.value).toBe(
      "regcred,mirror",
    );
    expect(find(objs, "Pod", "kubevisor-test")?.spec.imagePullSecrets).toEqual(secrets);
  });

  it("sets pod annotations, extra labels (never over the selector's) and the priority class", async () => {
    const objs = await render([
      "--set",
      "operator.podAnnotations.team=vm",
      "--set",
      "operator.podLabels.tier=infra",
      "--set",
      "operator.podLabels.app\\.kubernetes\\.io/component=hijack",
      "--set",
      "operator.priorityClassName=system-cluster-critical",
    ]);
    const template = find(objs, "Deployment")?.spec.template;
    expect(template.metadata.annotations).toEqual({ team: "vm" });
    expect(template.metadata.labels.tier).toBe("infra");
    expect(template.metadata.labels["app.kubernetes.io/component"]).toBe("operator");
    expect(template.spec.priorityClassName).toBe("system-cluster-critical");
  });

  it("names objects after the release, nameOverride or fullnameOverride", async () => {
    const names = (objs: K8sObject[]) =>
      objs.filter((o) => o.kind === "Deployment").map((o) => o.metadata.name);
    expect(names(await render())).toEqual(["kubevisor-operator"]);
    expect(names(await render([], "prod"))).toEqual(["prod-kubevisor-operator"]);
    expect(names(await render(["--set", "nameOverride=vms"], "prod"))).toEqual([
      "prod-vms-operator",
    ]);
    expect(names(await render(["--set", "fullnameOverride=kv"], "prod"))).toEqual(["kv-operator"]);
    const apiservice = find(await render(["--set", "fullnameOverride=kv"]), "APIService");
    expect(apiservice?.spec.service.name).toBe("kv-apiserver");
  });

  it("accepts global (as a subchart) and refuses `latest`, unknown keys and bad Secret names", async () => {
    await expect(render(["--set", "global.imageRegistry=r.example"])).resolves.toBeDefined();
    await expect(render(["--set", "image.tag=latest"])).rejects.toThrow(/\/image\/tag/);
    await expect(render(["--set", "operator.replica=2"])).rejects.toThrow(/replica/);
    await expect(render(["--set", "imagePullSecrets[0].name=Bad_Name"])).rejects.toThrow(
      /imagePullSecrets\/0\/name/,
    );
  });
});

describe("ui.enabled", () => {
  it("installs the UI with no credentials of its own, in a restricted pod", async () => {
    const objects = await render(["--set", "ui.enabled=true"]);
    const ui = objects.filter((o) => o.metadata.labels?.["app.kubernetes.io/component"] === "ui");
    expect(ui.map((o) => o.kind).sort()).toEqual(["Deployment", "Service", "ServiceAccount"]);
    const sa = ui.find((o) => o.kind === "ServiceAccount") as K8sObject & {
      automountServiceAccountToken?: boolean;
    };
    expect(sa.automountServiceAccountToken).toBe(false);
    // No role of any kind names the UI's ServiceAccount: RBAC decides per signed-in user.
    const bindings = objects.filter(
      (o) => o.kind === "RoleBinding" || o.kind === "ClusterRoleBinding",
    ) as (K8sObject & {
      subjects?: { name: string }[];
    })[];
    expect(bindings.flatMap((b) => b.subjects ?? []).map((s) => s.name)).not.toContain(
      sa.metadata.name,
    );
    const pod = ui.find((o) => o.kind === "Deployment")?.spec.template.spec;
    expect(pod.automountServiceAccountToken).toBe(false);
    expect(pod.securityContext).toMatchObject({
      runAsNonRoot: true,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(pod.containers[0].securityContext).toMatchObject({
      allowPrivilegeEscalation: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ["ALL"] },
    });
    expect(
      (await render()).some((o) => o.metadata.labels?.["app.kubernetes.io/component"] === "ui"),
    ).toBe(false);
  });
});
