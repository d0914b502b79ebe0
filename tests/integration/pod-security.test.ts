import { execFile, execFileSync } from "node:child_process";
import { join } from "node:path";
import type { V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { VirtualMachine } from "../../src/api/index.js";
import { binaryPath } from "../../src/local/build/targets.js";
import { buildTargetPod } from "../../src/operator/migration/target-pod.js";
import { buildLauncherPod } from "../../src/operator/vm/launcher-pod.js";

/**
 * The real kube-apiserver enforces Pod Security admission: launcher pods, as the operator
 * builds them, must be admitted into a namespace enforcing `restricted`. Server-side dry run
 * goes through admission without a node having to run the pod.
 */
const NS = "pod-security-restricted";

function kubectl(args: string[], stdin?: string): Promise<{ code: number; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile("kubectl", args, { env: process.env }, (err, _stdout, stderr) =>
      resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stderr }),
    );
    if (stdin !== undefined) child.stdin?.end(stdin);
  });
}

const vm = VirtualMachine.parse({
  apiVersion: "kubevisor.io/v1alpha1",
  kind: "VirtualMachine",
  metadata: { name: "psa", namespace: NS, uid: "3c0d3c4e-0000-4000-8000-000000000001" },
  spec: {
    memory: { size: "256Mi" },
    acceleration: "Emulation",
    disks: [
      { name: "root", containerDisk: { image: "kubevisor/test-guest:latest" } },
      { name: "scratch", emptyDisk: { size: "1Gi" } },
      { name: "ci", cloudInitNoCloud: { userDataSecretRef: { name: "user" } } },
    ],
    network: { ports: [{ name: "ssh", port: 22 }] },
  },
});
const config = { image: "kubevisor:dev" };

function dryRunCreate(pod: V1Pod) {
  // ownerReferences name a VM that does not exist; admission does not care, GC would.
  return kubectl(["create", "--dry-run=server", "-n", NS, "-f", "-"], JSON.stringify(pod));
}

beforeAll(async () => {
  await kubectl(["create", "namespace", NS]);
  const label = await kubectl([
    "label",
    "namespace",
    NS,
    "pod-security.kubernetes.io/enforce=restricted",
    "pod-security.kubernetes.io/enforce-version=latest",
  ]);
  expect(label.code).toBe(0);
});

afterAll(async () => {
  await kubectl(["delete", "namespace", NS, "--wait=false"]);
});

describe("launcher pods under Pod Security `restricted` (real kube-apiserver)", () => {
  const pod = buildLauncherPod(vm, 1, config);

  it("admits the VM's launcher pod", async () => {
    const r = await dryRunCreate(pod);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("admits the migration target pod", async () => {
    const target = buildTargetPod(vm, { name: "m", uid: "m-uid" }, pod, "node-a", config);
    const r = await dryRunCreate(target);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  // The checks above would pass in a namespace that enforces nothing: prove this one does,
  // by the pod as it was before (no securityContext at all).
  it("refuses the same pod without its security context", async () => {
    const bare = structuredClone(pod);
    if (bare.spec) bare.spec.securityContext = undefined;
    for (const c of bare.spec?.containers ?? []) c.securityContext = undefined;
    const r = await dryRunCreate(bare);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('violates PodSecurity "restricted:latest"');
    expect(r.stderr).toContain("runAsNonRoot");
  });
});

/** One template of the chart, rendered by the real Helm, as objects. */
function renderChart(template: string, ...sets: string[]): Record<string, unknown>[] {
  const chart = join(import.meta.dirname, "../../charts/kubevisor");
  const args = ["template", "kv", chart, "--namespace", NS, "--show-only", template];
  for (const set of sets) args.push("--set", set);
  const text = execFileSync(binaryPath("helm", "helm"), args, {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
  });
  return parseAllDocuments(text).map((d) => d.toJSON() as Record<string, unknown>);
}

interface Workload {
  metadata: { name: string };
  spec: { template: { metadata: unknown; spec: Record<string, unknown> } };
}

describe("the chart's workloads", () => {
  it("runs the operator Deployment's pod under `restricted` too", async () => {
    const [deployment] = renderChart("templates/deployment.yaml") as unknown as Workload[];
    expect(deployment).toBeDefined();
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "operator-psa", namespace: NS },
      // The service account is not what Pod Security checks (and it does not exist here).
      spec: { ...deployment?.spec.template.spec, serviceAccountName: undefined },
    } as V1Pod;
    const r = await dryRunCreate(pod);
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });

  it("renders a valid node agent DaemonSet only when enabled", async () => {
    expect(() => renderChart("templates/node-agent.yaml")).toThrow(/could not find template/);
    const [ds] = renderChart("templates/node-agent.yaml", "nodeAgent.enabled=true");
    // Its pods use host paths: it belongs in a namespace that allows `privileged`.
    const r = await kubectl(
      ["create", "--dry-run=server", "-n", "default", "-f", "-"],
      JSON.stringify({ ...ds, metadata: { ...(ds?.metadata as object), namespace: "default" } }),
    );
    expect(r.stderr).toBe("");
    expect(r.code).toBe(0);
  });
});
