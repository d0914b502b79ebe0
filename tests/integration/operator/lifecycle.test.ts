import { execFile } from "node:child_process";
import { promisify } from "node:util";
import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { ANNOTATION_VM_SPEC, LABEL_VM } from "../../../src/api/index.js";
import { paths } from "../../../src/kube/client.js";
import { VM_FINALIZER } from "../../../src/operator/vm/decide.js";
import { OVERHEAD_FIXED_MIB, OVERHEAD_TCG_MIB } from "../../../src/operator/vm/launcher-pod.js";
import {
  ANNOTATION_RESTART_REQUESTED,
  ANNOTATION_STATE_REQUEST,
} from "../../../src/operator/vm/requests.js";
import {
  createVm,
  eventsOf,
  expectNoDuplicates,
  getVm,
  launcherPods,
  operatorSuite,
  until,
  untilVm,
  vmPath,
} from "./harness.js";

const exec = promisify(execFile);
const { env } = operatorSuite("life", 100);

const podNamed = (name: string) =>
  until(`pod ${name}`, async () =>
    (await launcherPods(env.c, env.ns)).find((p) => p.metadata?.name === name),
  );
const currentPod = async (vm: string) => {
  const v = await getVm(env.c, env.ns, vm);
  return podNamed(v.status?.launcherPod ?? "?");
};
const running = (vm: string) =>
  untilVm(env.c, env.ns, vm, "Running", (v) => v.status?.phase === "Running");

describe("a new VM", () => {
  it("gets a launcher pod built as specified, then runs with the launcher's status", async () => {
    await createVm(env.c, env.ns, "basic", {
      cpu: { cores: 2 },
      memory: { size: "256Mi" },
      terminationGracePeriodSeconds: 20,
      nodeSelector: { "kubernetes.io/os": "linux" },
    });
    const pod = await podNamed("basic-launcher-1");
    const vm = await getVm(env.c, env.ns, "basic");
    expect(vm.metadata.finalizers).toContain(VM_FINALIZER);
    expect(vm.status?.launchCount).toBe(1);
    expect(pod.metadata?.labels?.[LABEL_VM]).toBe("basic");
    expect(pod.metadata?.ownerReferences?.[0]).toMatchObject({
      kind: "VirtualMachine",
      name: "basic",
      uid: vm.metadata.uid,
      controller: true,
    });
    expect(JSON.parse(pod.metadata?.annotations?.[ANNOTATION_VM_SPEC] ?? "{}").spec.cpu).toEqual({
      cores: 2,
    });
    expect(pod.spec?.containers[0]?.resources?.requests).toMatchObject({
      cpu: "200m",
      // Guest + fixed overhead + TCG's translation cache (Auto may run on TCG) + 2 %.
      memory: `${256 + OVERHEAD_FIXED_MIB + OVERHEAD_TCG_MIB + 6}Mi`,
    });
    expect(pod.spec?.terminationGracePeriodSeconds).toBe(35);
    expect(pod.spec?.automountServiceAccountToken).toBe(false);
    expect(pod.spec?.nodeSelector).toEqual({ "kubernetes.io/os": "linux" });
    // Its TLS secret and the disruption budget exist beside it.
    await env.c.get(paths.secret(env.ns, "basic-launcher-tls"));
    await until("disruption budget", () => env.c.get(paths.pdb(env.ns, "basic-launcher")));

    const ready = await running("basic");
    expect(ready.status).toMatchObject({
      phase: "Running",
      nodeName: env.node.name,
      launcherPod: "basic-launcher-1",
      ipAddress: env.kubelet.ips.get("basic-launcher-1"),
    });
    const accel = await untilVm(
      env.c,
      env.ns,
      "basic",
      "acceleration",
      (v) => v.status?.acceleration === "TCG",
    );
    expect(accel.status?.accelerationReason).toContain("/dev/kvm");
    expect(env.launcher.clients).toContain("kubevisor-operator");
    expect(accel.status?.conditions?.find((c) => c.type === "Ready")).toMatchObject({
      status: "True",
    });
    expect(accel.status?.observedGeneration).toBe(1);

    const { stdout } = await exec("kubectl", ["get", "vm", "basic", "-n", env.ns, "--no-headers"], {
      env: process.env,
    });
    expect(stdout).toMatch(
      new RegExp(`^basic\\s+Running\\s+${env.node.name}\\s+TCG\\s+127\\.0\\.0\\.\\d+\\s+`),
    );
    const reasons = (await eventsOf(env.c, env.ns, "basic")).map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(["LauncherPodCreated", "Started"]));
  });

  it("accepts container disks as image volumes", async () => {
    await createVm(env.c, env.ns, "disks", {
      runStrategy: "Halted",
      disks: [{ name: "root", containerDisk: { image: "example.org/guest:1" } }],
    });
    await untilVm(env.c, env.ns, "disks", "Stopped", (v) => v.status?.phase === "Stopped");
    await env.c.mergePatch(vmPath(env.ns, "disks"), { spec: { runStrategy: "Always" } });
    const pod = await podNamed("disks-launcher-1");
    expect(pod.spec?.volumes?.find((v) => v.image)?.image?.reference).toBe("example.org/guest:1");
  });
});

/** Ends the guest of the VM's current pod the way the launcher would. */
async function endGuest(vm: string, code: number, message: string) {
  const pod = await currentPod(vm);
  await until(
    `${pod.metadata?.name} running`,
    async () => (await podNamed(pod.metadata?.name ?? "")).status?.phase === "Running",
  );
  await env.kubelet.terminate(pod, code, message);
  return pod;
}

async function deleteCurrentPod(vm: string) {
  const pod = await currentPod(vm);
  await env.c.delete(paths.pod(env.ns, pod.metadata?.name ?? ""));
  return pod;
}

type Ending = "success" | "failure" | "deletion";
const end = (vm: string, how: Ending): Promise<V1Pod> =>
  how === "success"
    ? endGuest(vm, 0, "GuestShutdown: guest powered off")
    : how === "failure"
      ? endGuest(vm, 1, "GuestCrashed: QEMU exited with 1")
      : deleteCurrentPod(vm);

describe("runStrategy", () => {
  const cases: Array<[string, Ending, "restart" | string]> = [
    ["Always", "success", "restart"],
    ["Always", "failure", "restart"],
    ["Always", "deletion", "restart"],
    ["RerunOnFailure", "success", "Succeeded"],
    ["RerunOnFailure", "failure", "restart"],
    ["RerunOnFailure", "deletion", "restart"],
    ["Once", "success", "Succeeded"],
    ["Once", "failure", "Failed"],
    ["Once", "deletion", "Stopped"],
  ];
  it.each(cases)("%s on guest %s → %s", async (strategy, how, expected) => {
    const name = `rs-${strategy.toLowerCase()}-${how}`;
    await createVm(env.c, env.ns, name, { runStrategy: strategy as never });
    await running(name);
    const ended = await end(name, how);
    if (expected === "restart") {
      const vm = await untilVm(
        env.c,
        env.ns,
        name,
        "second launch running",
        (v) => v.status?.launchCount === 2 && v.status.phase === "Running",
      );
      expect(vm.status?.restartCount).toBe(1);
      expect((await eventsOf(env.c, env.ns, name)).map((e) => e.reason)).toContain("Restarting");
    } else {
      const vm = await untilVm(env.c, env.ns, name, expected, (v) => v.status?.phase === expected);
      expect(vm.status?.launchCount).toBe(1);
      // And it stays that way.
      await new Promise((r) => setTimeout(r, 500));
      expect((await getVm(env.c, env.ns, name)).status?.phase).toBe(expected);
      if (how === "failure") {
        expect(vm.status?.conditions?.find((c) => c.type === "Failure")).toMatchObject({
          status: "True",
          reason: "GuestCrashed",
        });
        expect((await eventsOf(env.c, env.ns, name)).map((e) => e.reason)).toContain("Failed");
      }
    }
    expect(ended.metadata?.name).toBe(`${name}-launcher-1`);
    expectNoDuplicates(await launcherPods(env.c, env.ns, name));
  });

  it("Manual waits for a start request, and stops on request", async () => {
    await createVm(env.c, env.ns, "manual", { runStrategy: "Manual" });
    await untilVm(env.c, env.ns, "manual", "Stopped", (v) => v.status?.phase === "Stopped");
    expect(await launcherPods(env.c, env.ns, "manual")).toEqual([]);
    await env.c.mergePatch(vmPath(env.ns, "manual"), {
      metadata: { annotations: { [ANNOTATION_STATE_REQUEST]: "start" } },
    });
    await running("manual");
    await untilVm(
      env.c,
      env.ns,
      "manual",
      "start request consumed",
      (v) => !v.metadata.annotations?.[ANNOTATION_STATE_REQUEST],
    );
    await env.c.mergePatch(vmPath(env.ns, "manual"), {
      metadata: { annotations: { [ANNOTATION_STATE_REQUEST]: "stop" } },
    });
    const stopped = await untilVm(
      env.c,
      env.ns,
      "manual",
      "Stopped",
      (v) => v.status?.phase === "Stopped" && !v.metadata.annotations?.[ANNOTATION_STATE_REQUEST],
    );
    expect(stopped.status?.launchCount).toBe(1);
    await until("pod gone", async () => (await launcherPods(env.c, env.ns, "manual")).length === 0);
  });
});

describe("start, stop, restart", () => {
  it("stop (Halted) stops gracefully, start (Always) starts again, restart restarts once", async () => {
    await createVm(env.c, env.ns, "ssr");
    await running("ssr");
    await env.c.mergePatch(vmPath(env.ns, "ssr"), { spec: { runStrategy: "Halted" } });
    await untilVm(env.c, env.ns, "ssr", "Stopped", (v) => v.status?.phase === "Stopped");
    await until("pod gone", async () =>
      (await launcherPods(env.c, env.ns, "ssr")).every((p) => p.status?.phase === "Succeeded"),
    );

    await env.c.mergePatch(vmPath(env.ns, "ssr"), { spec: { runStrategy: "Always" } });
    await untilVm(
      env.c,
      env.ns,
      "ssr",
      "launch 2 running",
      (v) => v.status?.launchCount === 2 && v.status.phase === "Running",
    );

    const when = new Date().toISOString();
    await env.c.mergePatch(vmPath(env.ns, "ssr"), {
      metadata: { annotations: { [ANNOTATION_RESTART_REQUESTED]: when } },
    });
    const restarted = await untilVm(
      env.c,
      env.ns,
      "ssr",
      "launch 3 running",
      (v) => v.status?.launchCount === 3 && v.status.phase === "Running",
    );
    expect(restarted.status?.lastRestartRequest).toBe(when);
    await new Promise((r) => setTimeout(r, 500));
    expect((await getVm(env.c, env.ns, "ssr")).status?.launchCount).toBe(3);
    const reasons = (await eventsOf(env.c, env.ns, "ssr")).map((e) => e.reason);
    expect(reasons).toEqual(expect.arrayContaining(["Stopping", "Stopped", "Restarting"]));
    expectNoDuplicates(await launcherPods(env.c, env.ns, "ssr"));
  });
});

describe("deletion", () => {
  it("stops the guest gracefully before the VM goes", async () => {
    await createVm(env.c, env.ns, "del");
    await running("del");
    env.kubelet.holdDeletions = true;
    try {
      await env.c.delete(vmPath(env.ns, "del"));
      const pod = await until("pod terminating", async () =>
        (await launcherPods(env.c, env.ns, "del")).find((p) => p.metadata?.deletionTimestamp),
      );
      // While the launcher still shuts the guest down, the VM stays (finalizer).
      await new Promise((r) => setTimeout(r, 500));
      const vm = await getVm(env.c, env.ns, "del");
      expect(vm.metadata.deletionTimestamp).toBeDefined();
      expect(vm.status?.phase).toBe("Stopping");
      expect(pod.metadata?.deletionGracePeriodSeconds).toBe(45);
    } finally {
      env.kubelet.holdDeletions = false;
    }
    await until("VM gone", async () => {
      try {
        await getVm(env.c, env.ns, "del");
        return false;
      } catch {
        return true;
      }
    });
  });
});
