/**
 * What only real nodes can show, on the product the real-node run's global setup started
 * (`startProduct({runtime: "containerd"})`: the image built from the Dockerfile and the test
 * guest imported into both nodes' containerd, the chart unchanged, node agent on): a VM in a
 * Pod-Security-restricted namespace runs in a launcher container from that image as uid
 * 65532 with its TLS key readable, `kubectl logs` and the console through the aggregated API
 * work, the device plugin hands /dev/kvm to a non-root pod, `KVM` fails clearly and `Auto`
 * falls back to TCG here, a live migration between the two real nodes keeps the guest
 * running (never twice). That `down` restores the host is checked by the global setup's
 * teardown.
 */
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import {
  COMPONENT_LAUNCHER,
  KVM_RESOURCE,
  LABEL_COMPONENT,
  LABEL_VM,
  LAUNCHER_TLS_DIR,
} from "../../src/api/index.js";
import { nodeImages } from "../../src/local/containerd/images.js";
import { DEFAULT_REAL_NODE_NAMES, realClusterPlan } from "../../src/local/containerd/plan.js";
import { productImage } from "../../src/local/image/index.js";
import { KUBEVISOR_IMAGE, TEST_GUEST_IMAGE } from "../../src/local/images.js";
import { RELEASE_NAMESPACE } from "../../src/local/product.js";
import { GUEST_COUNTER_RE } from "../../src/vmm/guest-image.js";
import { Cli } from "../e2e/cli-helpers.js";
import { getJson, getVm, kc, kubectl, vmManifest, waitFor, waitForVmPhase } from "../e2e/lib.js";
import { qemusOfGuest } from "../e2e/migration-lib.js";
import { REAL_CLUSTER_NAME } from "./global-setup.js";

const NS = "rn-restricted";
const plan = realClusterPlan(inject("clusterDir"), REAL_CLUSTER_NAME, DEFAULT_REAL_NODE_NAMES);
const kubeconfig = inject("kubeconfig");
const figures: Record<string, number> = {};

interface PodList {
  items: {
    metadata: { name: string };
    spec: { nodeName?: string; containers: { name: string }[] };
    status: {
      phase?: string;
      podIP?: string;
      containerStatuses?: { image: string; containerID?: string; ready: boolean }[];
    };
  }[];
}

async function launcherPods(vm: string): Promise<PodList["items"]> {
  const pods = await getJson<PodList>(
    "pods",
    "-n",
    NS,
    "-l",
    `${LABEL_VM}=${vm},${LABEL_COMPONENT}=${COMPONENT_LAUNCHER}`,
  );
  return pods.items;
}

async function runningLauncher(vm: string): Promise<PodList["items"][number]> {
  const running = (await launcherPods(vm)).filter((p) => p.status.phase === "Running");
  // Never twice: one running launcher per VM, whatever happened before.
  expect(running).toHaveLength(1);
  return running[0] as PodList["items"][number];
}

/** `kubevisor-counter <n> <uptime>` lines on the serial console, in order. */
function counterLines(out: string): { n: number; uptime: number }[] {
  return [...out.matchAll(new RegExp(GUEST_COUNTER_RE, "g"))].map((m) => ({
    n: Number(m[1]),
    uptime: Number(m[2]),
  }));
}

/** The console through the aggregated API (kubectl vm console), until `done` holds. */
async function consoleUntil(vm: string, done: (out: string) => boolean): Promise<string> {
  const cli = new Cli(["console", vm, "-n", NS, "--kubeconfig", kubeconfig]);
  try {
    return await waitFor(
      `console of ${vm}`,
      async () => (done(cli.stdout) ? cli.stdout : undefined),
      120_000,
      200,
    );
  } finally {
    cli.child.kill();
    await cli.exited;
  }
}

const anyCounter = (out: string) => counterLines(out).length > 0;

beforeAll(async () => {
  await kc("create", "namespace", NS);
  await kc(
    "label",
    "namespace",
    NS,
    "pod-security.kubernetes.io/enforce=restricted",
    "pod-security.kubernetes.io/enforce-version=latest",
  );
  await kubectl(["apply", "-f", "-"], vmManifest(NS, "demo"));
  const applied = Date.now();
  await waitForVmPhase(NS, "demo", "Running", 600_000);
  figures.applyToRunningS = (Date.now() - applied) / 1000;
}, 1_800_000);

afterAll(async () => {
  console.log(`real-node product figures: ${JSON.stringify(figures)}`);
  await kubectl(["delete", "namespace", NS, "--wait=false"]);
});

describe("the product on real nodes (--runtime containerd)", () => {
  it("runs the operator and launchers in containerd containers from the image built from the Dockerfile", async () => {
    const image = `docker.io/${KUBEVISOR_IMAGE}`;
    expect(productImage().ref).toBe(KUBEVISOR_IMAGE);
    for (const n of plan.nodes) {
      const held = await nodeImages(n);
      expect(held).toContain(image);
      expect(held).toContain(`docker.io/${TEST_GUEST_IMAGE}`);
    }
    const operators = await getJson<PodList>(
      "pods",
      "-n",
      RELEASE_NAMESPACE,
      "-l",
      "app.kubernetes.io/component=operator",
    );
    const launcher = await runningLauncher("demo");
    for (const pod of [...operators.items, launcher]) {
      const status = pod.status.containerStatuses?.[0];
      expect(status?.image).toBe(image);
      expect(status?.containerID).toMatch(/^containerd:\/\//);
    }
    // The image's Node (24), not the host's (20): the code runs inside the image.
    const version = await kc(
      "exec",
      "-n",
      NS,
      launcher.metadata.name,
      "--",
      "node",
      "-p",
      "process.version",
    );
    expect(version.trim()).toMatch(/^v24\./);
  });

  it("runs the VM in a restricted namespace: launcher uid 65532, TLS key readable, kubectl logs", async () => {
    const launcher = await runningLauncher("demo");
    const pod = launcher.metadata.name;
    const ids = await kc("exec", "-n", NS, pod, "--", "id");
    expect(ids).toMatch(/^uid=65532\b/);
    const key = await kc("exec", "-n", NS, pod, "--", "cat", `${LAUNCHER_TLS_DIR}/tls.key`);
    expect(key).toContain("PRIVATE KEY");
    const logs = await kc("logs", "-n", NS, pod);
    expect(logs).toMatch(/accelerator chosen/);
  });

  it("Auto falls back to TCG with the probe's reason in status", async () => {
    // The launcher's answer reaches status a moment after the pod turns Ready.
    const status = await waitFor("demo's accelerator in status", async () => {
      const vm = await getVm(NS, "demo");
      return vm.status?.acceleration ? vm.status : undefined;
    });
    expect(status.acceleration).toBe("TCG");
    // The pod got /dev/kvm (Auto asks where a node offers it); the probe said why not.
    expect((status as { accelerationReason?: string }).accelerationReason).toMatch(
      /^KVM present but unusable \(.+\)$/,
    );
  });

  it("shows the guest's counter through the aggregated API", async () => {
    const out = await consoleUntil("demo", anyCounter);
    expect(counterLines(out).length).toBeGreaterThan(0);
  });

  it("advertises the KVM device on both nodes and hands /dev/kvm to a non-root pod", async () => {
    const nodes = await getJson<{ items: { status: { allocatable: Record<string, string> } }[] }>(
      "nodes",
    );
    expect(nodes.items).toHaveLength(2);
    for (const n of nodes.items)
      expect(Number(n.status.allocatable[KVM_RESOURCE])).toBeGreaterThan(0);
    const pod = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "kvm-user", namespace: NS },
      spec: {
        restartPolicy: "Never",
        securityContext: {
          runAsNonRoot: true,
          runAsUser: 65532,
          runAsGroup: 65532,
          seccompProfile: { type: "RuntimeDefault" },
        },
        containers: [
          {
            name: "main",
            image: KUBEVISOR_IMAGE,
            imagePullPolicy: "IfNotPresent",
            command: [
              "node",
              "-e",
              "require('fs').openSync('/dev/kvm','r+'); console.log('kvm-open-ok', process.getuid())",
            ],
            resources: { limits: { [KVM_RESOURCE]: "1" } },
            securityContext: {
              allowPrivilegeEscalation: false,
              capabilities: { drop: ["ALL"] },
            },
          },
        ],
      },
    };
    await kubectl(["apply", "-f", "-"], JSON.stringify(pod));
    const phase = await waitFor("the kvm-user pod to finish", async () => {
      const p = await getJson<{ status: { phase?: string } }>("pod", "kvm-user", "-n", NS);
      return p.status.phase === "Succeeded" || p.status.phase === "Failed"
        ? p.status.phase
        : undefined;
    });
    const logs = await kc("logs", "-n", NS, "kvm-user");
    expect({ phase, logs: logs.trim() }).toEqual({ phase: "Succeeded", logs: "kvm-open-ok 65532" });
  });

  it("acceleration KVM ends in a Failure condition naming the probe's reason", async () => {
    await kubectl(["apply", "-f", "-"], vmManifest(NS, "needs-kvm", { acceleration: "KVM" }));
    const failure = await waitFor(
      "needs-kvm to report Failure",
      async () => {
        const vm = await getVm(NS, "needs-kvm");
        const c = vm.status?.conditions?.find((x) => x.type === "Failure" && x.status === "True");
        return c;
      },
      600_000,
      2000,
    );
    // The launcher got /dev/kvm (the pod asked for the device); the probe's boot failed.
    expect(failure.message).toMatch(/KVM requested but cannot run guests here: .+/);
    await kc("delete", "vm", "needs-kvm", "-n", NS, "--wait=false");
  });

  it("live-migrates the VM between the two real nodes; the guest keeps counting, never twice", async () => {
    const source = await runningLauncher("demo");
    const seen = counterLines(await consoleUntil("demo", anyCounter)).at(-1);
    if (!seen) throw new Error("no counter before the migration");
    const started = Date.now();
    const cli = new Cli(["migrate", "demo", "--wait", "-n", NS, "--kubeconfig", kubeconfig]);
    cli.child.stdin?.end();
    const code = await cli.exited;
    figures.migrationToSucceededS = (Date.now() - started) / 1000;
    expect({ code, stderr: code === 0 ? "" : cli.stderr }).toEqual({ code: 0, stderr: "" });
    // The source launcher hands the guest over and exits 0 (or is already removed).
    const sourceEnd = await waitFor(`source pod ${source.metadata.name} to end`, async () => {
      const r = await kubectl(["get", "pod", source.metadata.name, "-n", NS, "-o", "json"]);
      if (r.code !== 0 && /NotFound/.test(r.stderr)) return "Deleted";
      const phase = (JSON.parse(r.stdout) as PodList["items"][number]).status.phase;
      return phase === "Running" ? undefined : phase;
    });
    expect(["Succeeded", "Deleted"]).toContain(sourceEnd);
    const vm = await getVm(NS, "demo");
    expect(vm.status?.phase).toBe("Running");
    expect(vm.status?.nodeName).not.toBe(source.spec.nodeName);
    const target = await runningLauncher("demo");
    expect(target.metadata.name).not.toBe(source.metadata.name);
    expect(target.spec.nodeName).toBe(vm.status?.nodeName);
    // One QEMU for the guest on the host, in the target's container.
    const qemus = await waitFor("one QEMU for the guest", async () => {
      const q = qemusOfGuest(NS, "demo");
      return q.length === 1 ? q : undefined;
    });
    expect(qemus[0]?.pod).toBe(target.metadata.name);
    const afterOut = await consoleUntil("demo", (out) =>
      counterLines(out).some((c) => c.n > seen.n),
    );
    // A guest booted anew would count from 1 with a fresh uptime; this one went on.
    const lines = counterLines(afterOut);
    const i = lines.findIndex((c) => c.n > seen.n);
    expect(lines[i]?.uptime).toBeGreaterThan(seen.uptime);
    for (const c of lines.slice(i)) expect(c.n).toBeGreaterThan(seen.n);
  });
});
