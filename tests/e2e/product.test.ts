import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { checkoutDir } from "../../src/local/node/image-store.js";
import { helm, installChart, RELEASE, RELEASE_NAMESPACE } from "../../src/local/product.js";
import { GUEST_BOOT_MARKER } from "../../src/vmm/guest-image.js";
import {
  Console,
  createNamespace,
  getJson,
  getVm,
  kc,
  kubectl,
  waitFor,
  waitForVmPhase,
} from "./lib.js";
import { pidsOfPod } from "./migration-lib.js";

const NS = "e2e-product";

interface PodList {
  items: {
    metadata: { name: string; uid: string };
    spec: { nodeName?: string };
    status: { phase?: string; podIP?: string; conditions?: { type: string; status: string }[] };
  }[];
}

const ready = (p: PodList["items"][number]) =>
  p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;

function qemuPidsOf(pod: string): number[] {
  return pidsOfPod(pod, /qemu-system/);
}

async function launcherPods(vm: string): Promise<PodList["items"]> {
  return (await getJson<PodList>("pods", "-n", NS, "-l", `kubevisor.io/vm=${vm}`)).items;
}

beforeAll(async () => {
  await createNamespace(NS);
  // Launcher pods must pass Pod Security `restricted`: the apiserver refuses them otherwise.
  await kc("label", "namespace", NS, "pod-security.kubernetes.io/enforce=restricted");
});

afterAll(async () => {
  await kubectl(["delete", "namespace", NS, "--wait=false"]);
});

describe("Kubevisor installed with Helm on the local cluster", () => {
  it("runs the operator as pods on local nodes (two replicas by default)", async () => {
    const pods = await getJson<PodList>(
      "pods",
      "-n",
      RELEASE_NAMESPACE,
      "-l",
      "app.kubernetes.io/component=operator",
    );
    expect(pods.items).toHaveLength(2);
    for (const operator of pods.items) {
      expect(operator.spec.nodeName).toMatch(/^kubevisor-node-/);
      expect(ready(operator)).toBe(true);
    }
  });

  it("runs examples/vm.yaml in a `restricted` namespace: Running, launcher Ready, boot marker on the console", async () => {
    await kc("apply", "-n", NS, "-f", join(checkoutDir(), "examples", "vm.yaml"));
    const vm = await waitForVmPhase(NS, "demo", "Running");
    expect(vm.status?.nodeName).toMatch(/^kubevisor-node-/);
    expect(vm.status?.acceleration).toMatch(/^(KVM|TCG)$/);
    console.log(`e2e: demo runs on ${vm.status?.nodeName} with ${vm.status?.acceleration}`);
    // Running follows the launcher's own word; the pod's Ready lags it by a probe period.
    const pods = await waitFor("demo's launcher pod to be Ready", async () => {
      const found = await launcherPods("demo");
      return found.some(ready) ? found : undefined;
    });
    expect(pods).toHaveLength(1);
    const [pod] = pods;
    expect(pod?.metadata.name).toBe(vm.status?.launcherPod);
    expect(qemuPidsOf(pod?.metadata.name ?? "")).toHaveLength(1);
    const console_ = await Console.open(NS, "demo", pod?.status.podIP ?? "");
    try {
      await console_.waitFor(GUEST_BOOT_MARKER);
    } finally {
      console_.close();
    }
  });

  it("brings the VM back when its launcher process is killed (runStrategy Always)", async () => {
    const before = await getVm(NS, "demo");
    const pod = before.status?.launcherPod ?? "";
    const launchers = pidsOfPod(pod, /launcher\/main\.js/);
    expect(launchers.length).toBeGreaterThan(0);
    for (const pid of launchers) process.kill(pid, "SIGKILL");
    const after = await waitFor("a new launcher pod running demo", async () => {
      const vm = await getVm(NS, "demo");
      return vm.status?.phase === "Running" && vm.status.launcherPod !== pod ? vm : undefined;
    });
    const pods = (await launcherPods("demo")).filter((p) => p.status.phase === "Running");
    expect(pods.map((p) => p.metadata.name)).toEqual([after.status?.launcherPod]);
    expect(qemuPidsOf(after.status?.launcherPod ?? "")).toHaveLength(1);
    expect(qemuPidsOf(pod)).toHaveLength(0);
  });

  it("survives helm upgrade, uninstall and reinstall without restarting or doubling the VM", async () => {
    const running = (await getVm(NS, "demo")).status?.launcherPod ?? "";
    const qemu = qemuPidsOf(running);
    expect(qemu).toHaveLength(1);

    await installChart(process.env.KUBECONFIG ?? "", { "operator.workers": "2" });
    const deployment = await getJson<{
      spec: { template: { spec: { containers: { env: { name: string; value?: string }[] }[] } } };
    }>("deployment", `${RELEASE}-operator`, "-n", RELEASE_NAMESPACE);
    const env = deployment.spec.template.spec.containers[0]?.env ?? [];
    expect(env.find((e) => e.name === "KUBEVISOR_WORKERS")?.value).toBe("2");

    await helm(process.env.KUBECONFIG ?? "", [
      "uninstall",
      RELEASE,
      "--namespace",
      RELEASE_NAMESPACE,
      "--wait",
    ]);
    const gone = await kubectl([
      "get",
      "deployment",
      `${RELEASE}-operator`,
      "-n",
      RELEASE_NAMESPACE,
    ]);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toContain("NotFound");
    // The guest does not depend on the operator being there.
    expect(qemuPidsOf(running)).toEqual(qemu);

    await installChart(process.env.KUBECONFIG ?? "");
    const vm = await waitForVmPhase(NS, "demo", "Running");
    expect(vm.status?.launcherPod).toBe(running);
    expect(qemuPidsOf(running)).toEqual(qemu);
    expect(
      (await launcherPods("demo")).filter(
        (p) => p.status.phase !== "Succeeded" && p.status.phase !== "Failed",
      ),
    ).toHaveLength(1);
  });

  it("stops the guest and removes the pod when the VM is deleted", async () => {
    const pod = (await getVm(NS, "demo")).status?.launcherPod ?? "";
    await kc("delete", "vm", "demo", "-n", NS, "--wait=true", "--timeout=120s");
    await waitFor("launcher pods of demo to be gone", async () =>
      (await launcherPods("demo")).length === 0 ? true : undefined,
    );
    expect(qemuPidsOf(pod)).toHaveLength(0);
  });
});
