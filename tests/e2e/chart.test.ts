/**
 * The chart's day-2 promises on the local cluster, with real Helm: two operator replicas of
 * which one leads, `helm test`, a `helm upgrade` whose CRD schema gained a field (the field
 * is kept afterwards, not pruned), and imagePullSecrets reaching launcher pods — while a
 * running VM is neither restarted nor doubled by the operator's rolling restarts.
 */
import { cp, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse, stringify } from "yaml";
import {
  chartDir,
  helm,
  installChart,
  RELEASE,
  RELEASE_NAMESPACE,
} from "../../src/local/product.js";
import {
  createNamespace,
  getJson,
  getVm,
  kc,
  kubectl,
  vmManifest,
  waitFor,
  waitForVmPhase,
} from "./lib.js";
import { applyJson, pidsOfPod } from "./migration-lib.js";

const NS = "e2e-chart";
const KUBECONFIG = () => process.env.KUBECONFIG ?? "";
/** The field the "next chart version" adds to the VirtualMachine schema. */
const NEW_FIELD = "e2eUpgradeNote";

interface Pod {
  metadata: { name: string };
  spec: { nodeName?: string; imagePullSecrets?: { name: string }[] };
  status: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[] };
}

const ready = (p: Pod) =>
  p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

let workDir = "";

beforeAll(async () => {
  await createNamespace(NS);
  workDir = await mkdtemp(join(tmpdir(), "kubevisor-chart-e2e-"));
  // A pull Secret of the same name in the release namespace and the VM namespace, as the
  // chart's imagePullSecrets asks (local nodes pull nothing; real kubelets would use it).
  const dockerConfig = JSON.stringify({ auths: { "registry.example": { auth: "dTpw" } } });
  for (const ns of [RELEASE_NAMESPACE, NS]) {
    await kc(
      "create",
      "secret",
      "docker-registry",
      "regcred",
      "-n",
      ns,
      "--from-file",
      `.dockerconfigjson=${await writeTemp("dockerconfig.json", dockerConfig)}`,
    );
  }
});

afterAll(async () => {
  // Back to this checkout's chart with the defaults, for the test files that follow.
  await installChart(KUBECONFIG());
  // helm --wait returns once the new operator pods are ready, while old ones may still be
  // terminating: a console the next file opens could be relayed by one of those and stall.
  await waitFor("only the new operator pods", async () => {
    const all = (
      await getJson<{ items: { metadata: { deletionTimestamp?: string } }[] }>(
        "pods",
        "-n",
        RELEASE_NAMESPACE,
        "-l",
        "app.kubernetes.io/component=operator",
      )
    ).items;
    return all.length === 2 && all.every((p) => !p.metadata.deletionTimestamp) ? true : undefined;
  });
  await kubectl(["delete", "secret", "regcred", "-n", RELEASE_NAMESPACE]);
  await kubectl(["delete", "namespace", NS, "--wait=false"]);
  if (workDir) await rm(workDir, { recursive: true, force: true });
});

async function writeTemp(name: string, text: string): Promise<string> {
  const file = join(workDir, name);
  await writeFile(file, text);
  return file;
}

async function operatorPods(): Promise<Pod[]> {
  return (
    await getJson<{ items: Pod[] }>(
      "pods",
      "-n",
      RELEASE_NAMESPACE,
      "-l",
      "app.kubernetes.io/component=operator",
    )
  ).items.filter((p) => p.status.phase === "Running");
}

/** A copy of the chart as its next version: one more optional field in the VM spec. */
async function nextChartVersion(): Promise<string> {
  const dir = join(workDir, "kubevisor");
  await cp(chartDir(), dir, { recursive: true });
  const crdFile = join(dir, "files", "crds", "kubevisor.io_virtualmachines.yaml");
  const crd = parse(await readFile(crdFile, "utf8"));
  for (const version of crd.spec.versions) {
    version.schema.openAPIV3Schema.properties.spec.properties[NEW_FIELD] = { type: "string" };
  }
  await writeFile(crdFile, stringify(crd, { lineWidth: 0 }));
  const chartFile = join(dir, "Chart.yaml");
  const chart = parse(await readFile(chartFile, "utf8"));
  chart.version = `${chart.version}-next`;
  await writeFile(chartFile, stringify(chart));
  return dir;
}

describe("the Helm chart on the local cluster", () => {
  it("runs two operator replicas, one of which holds the leader Lease", async () => {
    const pods = await operatorPods();
    expect(pods).toHaveLength(2);
    expect(pods.every(ready)).toBe(true);
    const lease = await getJson<{ spec: { holderIdentity?: string } }>(
      "lease",
      "kubevisor-operator",
      "-n",
      RELEASE_NAMESPACE,
    );
    expect(pods.map((p) => p.metadata.name)).toContain(lease.spec.holderIdentity);
    // Each replica's own word: exactly one says it leads, and it is the Lease's holder.
    const leading = [];
    for (const p of pods) {
      const text = await (await fetch(`http://${p.status.podIP}:8080/metrics`)).text();
      const value = /^kubevisor_operator_leading_status(?:\{[^}]*\})? (\d+)/m.exec(text)?.[1];
      expect(value, p.metadata.name).toBeDefined();
      if (value === "1") leading.push(p.metadata.name);
    }
    expect(leading).toEqual([lease.spec.holderIdentity]);
    const pdb = await getJson<{ spec: { maxUnavailable?: number } }>(
      "pdb",
      `${RELEASE}-operator`,
      "-n",
      RELEASE_NAMESPACE,
    );
    expect(pdb.spec.maxUnavailable).toBe(1);
  });

  it("passes helm test (operator ready, a leader, aggregated API answering)", async () => {
    const out = await helm(KUBECONFIG(), ["test", RELEASE, "--namespace", RELEASE_NAMESPACE]);
    expect(out).toMatch(/TEST SUITE:\s+kubevisor-test[\s\S]*Phase:\s+Succeeded/);
  });

  it("upgrades the CRDs with helm upgrade: a field the new schema adds is kept", async () => {
    const unknownField = (name: string) =>
      JSON.parse(vmManifest(NS, name, { runStrategy: "Halted", [NEW_FIELD]: "kept" }));
    // Today's schema prunes the field (it is unknown to it).
    const before = await kubectl(
      ["apply", "--validate=false", "-f", "-"],
      JSON.stringify(unknownField("before")),
    );
    expect(before.code, before.stderr).toBe(0);
    expect((await getVm(NS, "before")).spec[NEW_FIELD]).toBeUndefined();

    await installChart(
      KUBECONFIG(),
      { "imagePullSecrets[0].name": "regcred" },
      await nextChartVersion(),
    );

    // Strict validation (kubectl's default) accepts it now, and it is stored.
    await applyJson(JSON.stringify(unknownField("after")));
    expect((await getVm(NS, "after")).spec[NEW_FIELD]).toBe("kept");
    const crd = await getJson<{ metadata: { annotations?: Record<string, string> } }>(
      "crd",
      "virtualmachines.kubevisor.io",
    );
    expect(crd.metadata.annotations?.["helm.sh/resource-policy"]).toBe("keep");
    expect(crd.metadata.annotations?.["meta.helm.sh/release-name"]).toBe(RELEASE);
  });

  it("passes imagePullSecrets to launcher pods; operator restarts neither restart nor double the VM", async () => {
    // The upgrade's rollout: old replicas stay Running while they terminate.
    const upgraded = await waitFor("only operator pods with the pull Secret", async () => {
      const pods = await operatorPods();
      return pods.length > 0 && pods.every((p) => p.spec.imagePullSecrets?.length)
        ? pods
        : undefined;
    });
    for (const p of upgraded) expect(p.spec.imagePullSecrets).toEqual([{ name: "regcred" }]);
    await applyJson(vmManifest(NS, "pull"));
    const vm = await waitForVmPhase(NS, "pull", "Running");
    const podName = vm.status?.launcherPod ?? "";
    const pod = await getJson<Pod>("pod", podName, "-n", NS);
    expect(pod.spec.imagePullSecrets).toEqual([{ name: "regcred" }]);
    const qemu = pidsOfPod(podName, /qemu-system/);
    expect(qemu).toHaveLength(1);

    // Back to the previous values: both operator replicas roll; the guest stays as it was.
    await installChart(KUBECONFIG());
    const after = await waitForVmPhase(NS, "pull", "Running");
    expect(after.status?.launcherPod).toBe(podName);
    expect(pidsOfPod(podName, /qemu-system/)).toEqual(qemu);
    const launchers = await getJson<{ items: Pod[] }>(
      "pods",
      "-n",
      NS,
      "-l",
      "kubevisor.io/vm=pull",
    );
    expect(
      launchers.items.filter((p) => p.status.phase !== "Succeeded" && p.status.phase !== "Failed"),
    ).toHaveLength(1);
    await kc("delete", "vm", "pull", "-n", NS, "--wait=true", "--timeout=120s");
  });
});
