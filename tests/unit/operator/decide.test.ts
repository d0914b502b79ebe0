import { describe, expect, it } from "vitest";
import type { VirtualMachine } from "../../../src/api/index.js";
import {
  type Action,
  DEFAULT_DECIDE_CONFIG,
  type DecideInput,
  decide,
  LAUNCHER_RETRY_MS,
} from "../../../src/operator/vm/decide.js";
import type { ObservedPod } from "../../../src/operator/vm/observe.js";
import {
  ANNOTATION_RESTART_REQUESTED,
  ANNOTATION_STATE_REQUEST,
} from "../../../src/operator/vm/requests.js";
import { ago, launched, NOW, pod, vm } from "./fixtures.js";

const exited = (n: number, code: number, reason?: string, extra: Partial<ObservedPod> = {}) =>
  pod(n, {
    stage: code === 0 ? "Succeeded" : "Failed",
    ready: false,
    exit: {
      code,
      ...(reason ? { reason: reason as never } : {}),
      startedAt: ago(600_000),
      finishedAt: ago(1000),
    },
    ...extra,
  });

function run(v: VirtualMachine, pods: ObservedPod[] = [], extra: Partial<DecideInput> = {}) {
  return decide({ vm: v, pods, now: NOW, config: DEFAULT_DECIDE_CONFIG, ...extra });
}

const types = (actions: Action[]) => actions.map((a) => a.type);
const reasons = (d: ReturnType<typeof run>) => d.events.map((e) => e.reason);
const condition = (d: ReturnType<typeof run>, type: string) =>
  d.status.conditions?.find((c) => c.type === type);

describe("first reconcile", () => {
  it("puts the finalizer in place before anything else", () => {
    const d = run(vm({ finalizers: [] }));
    expect(d.actions).toEqual([{ type: "addFinalizer" }]);
    expect(d.status.launchCount).toBeUndefined();
  });

  it.each(["Always", "RerunOnFailure", "Once"] as const)("%s claims launch 1", (runStrategy) => {
    const d = run(vm({ spec: { runStrategy } }));
    expect(d.actions).toEqual([{ type: "launch", launch: 1, podName: "web-launcher-1" }]);
    expect(d.status).toMatchObject({
      launchCount: 1,
      launcherPod: "web-launcher-1",
      launchClaimedAt: "2026-01-01T12:00:00.000Z",
      phase: "Scheduling",
      observedGeneration: 1,
    });
    expect(d.status.restartCount).toBeUndefined();
    expect(condition(d, "Ready")).toMatchObject({ status: "False", reason: "Scheduling" });
  });

  it.each(["Manual", "Halted"] as const)("%s stays Stopped without an Event", (runStrategy) => {
    const d = run(vm({ spec: { runStrategy } }));
    expect(d.actions).toEqual([]);
    expect(d.status.phase).toBe("Stopped");
    expect(d.events).toEqual([]);
  });
});

describe("a claimed launch whose pod is not (yet) visible", () => {
  const claimed = (ageMs: number) =>
    vm({
      status: {
        launchCount: 1,
        launcherPod: "web-launcher-1",
        launchClaimedAt: ago(ageMs),
        phase: "Scheduling",
      },
    });

  it("waits out the grace on this process's own clock, whatever launchClaimedAt says", () => {
    const grace = DEFAULT_DECIDE_CONFIG.claimGraceMs;
    // A wall-clock age from another replica (skewed either way) changes nothing.
    for (const age of [0, 3_600_000, -60_000]) {
      const d = run(claimed(age), [], { claimSeenMs: 2000 });
      expect(d.actions).toEqual([]);
      expect(d.status.phase).toBe("Scheduling");
      expect(d.requeueAfterMs).toBe(grace - 2000);
    }
  });

  it("then claims the next launch, whatever the clock says, without counting a restart", () => {
    // Any pod of launch 1 that exists or lands later waits at its start gate and is never
    // told to start (only a recorded UID is), so moving on can never run the guest twice.
    for (const age of [0, 5000, 3_600_000, -60_000]) {
      const d = run(claimed(age), [], { claimSeenMs: DEFAULT_DECIDE_CONFIG.claimGraceMs });
      expect(d.actions).toEqual([{ type: "launch", launch: 2, podName: "web-launcher-2" }]);
      expect(d.status.restartCount).toBeUndefined();
      expect(reasons(d)).not.toContain("Restarting");
    }
  });
});

describe("a recorded launch whose pod is gone", () => {
  it("waits while another pod of the VM lives, then launches again (never stuck Pending)", () => {
    // Seen on real nodes: a migration target force-deleted just after the switch-over, while
    // the source pod was still terminating. The VM sat Pending with the gone pod's UID.
    const gone = vm({ status: launched(2, { phase: "Running" }) });
    const waiting = run(gone, [pod(1, { terminating: true })]);
    expect(waiting.actions).toEqual([]);
    expect(waiting.status.phase).toBe("Pending");
    const after = run(vm({ status: waiting.status }), [], { claimSeenMs: 0 });
    expect(after.actions).toEqual([{ type: "launch", launch: 3, podName: "web-launcher-3" }]);
  });

  it("that was never scheduled: waits out the claim grace, then launches again", () => {
    const unscheduled = vm({ status: launched(1, { phase: "Scheduling" }) });
    const early = run(unscheduled, [], { claimSeenMs: 1000 });
    expect(early.actions).toEqual([]);
    expect(early.status.phase).toBe("Scheduling");
    const late = run(unscheduled, [], { claimSeenMs: DEFAULT_DECIDE_CONFIG.claimGraceMs });
    expect(late.actions).toEqual([{ type: "launch", launch: 2, podName: "web-launcher-2" }]);
  });
});

describe("an active launcher pod", () => {
  it("is Scheduling while unbound and reports Unschedulable once", () => {
    const v = vm({ status: launched(1, { phase: "Scheduling" }) });
    const p = pod(1, {
      stage: "Unscheduled",
      ready: false,
      nodeName: undefined,
      podIP: undefined,
      unschedulable: "0/2 nodes are available: 2 Insufficient memory.",
    });
    const d = run(v, [p]);
    expect(d.status.phase).toBe("Scheduling");
    expect(condition(d, "Failure")).toMatchObject({ status: "True", reason: "Unschedulable" });
    expect(condition(d, "Failure")?.message).toContain("Insufficient memory");
    expect(d.events).toEqual([
      expect.objectContaining({ type: "Warning", reason: "Unschedulable" }),
    ]);
    expect(d.actions).toEqual([]);
    // The same observation again: no new Event, nothing changes.
    const again = run(vm({ status: d.status }), [p]);
    expect(again.events).toEqual([]);
    expect(again.status).toEqual(d.status);
  });

  it("is Starting once bound and reports an image that cannot be pulled", () => {
    const v = vm({ status: launched(1, { phase: "Scheduling" }) });
    const p = pod(1, {
      stage: "Scheduled",
      ready: false,
      podIP: undefined,
      imagePullError: { reason: "ErrImagePull", message: "not found" },
    });
    const d = run(v, [p]);
    expect(d.status.phase).toBe("Starting");
    expect(d.status.nodeName).toBe("node-a");
    expect(condition(d, "Failure")).toMatchObject({
      status: "True",
      reason: "ImagePullFailed",
      message: "ErrImagePull: not found",
    });
    expect(reasons(d)).toEqual(["ImagePullFailed"]);
  });

  it("is Running when ready, with node, IP and accelerator, and clears Failure", () => {
    const v = vm({
      status: launched(1, {
        phase: "Starting",
        conditions: [
          {
            type: "Failure",
            status: "True",
            reason: "ImagePullFailed",
            lastTransitionTime: ago(5000),
          },
        ],
      }),
    });
    const d = run(v, [pod(1)], {
      launcher: { phase: "Running", acceleration: "TCG", accelerationReason: "/dev/kvm missing" },
    });
    expect(d.status).toMatchObject({
      phase: "Running",
      nodeName: "node-a",
      ipAddress: "127.0.0.5",
      acceleration: "TCG",
      accelerationReason: "/dev/kvm missing",
    });
    expect(condition(d, "Ready")).toMatchObject({
      status: "True",
      reason: "GuestRunning",
      lastTransitionTime: "2026-01-01T12:00:00Z",
    });
    expect(condition(d, "Failure")?.status).toBe("False");
    expect(d.events).toEqual([
      {
        type: "Normal",
        reason: "Started",
        message: "guest running in web-launcher-1 on node-a (TCG)",
      },
    ]);
    expect(d.requeueAfterMs).toBe(DEFAULT_DECIDE_CONFIG.statusPollMs);
    expect(d.actions).toEqual([]);
  });

  it("asks a running guest's launcher again within a second until it has answered", () => {
    const v = vm({ status: launched(1, { phase: "Running" }) });
    const d = run(v, [pod(1)]);
    expect(d.status.phase).toBe("Running");
    expect(d.status.acceleration).toBeUndefined();
    expect(d.requeueAfterMs).toBe(LAUNCHER_RETRY_MS);
  });

  it("asks again within a second while the launcher has not named its accelerator yet", () => {
    // Real nodes with /dev/kvm: the launcher answers while its KVM probe still runs.
    const v = vm({ status: launched(1, { phase: "Running" }) });
    const d = run(v, [pod(1)], { launcher: { phase: "Running" } });
    expect(d.status.phase).toBe("Running");
    expect(d.status.acceleration).toBeUndefined();
    expect(d.requeueAfterMs).toBe(LAUNCHER_RETRY_MS);
  });

  it("takes the launcher's word for Running before the readiness probe catches up", () => {
    const v = vm({ status: launched(1, { phase: "Starting" }) });
    expect(run(v, [pod(1, { ready: false })]).status.phase).toBe("Starting");
    expect(
      run(v, [pod(1, { ready: false })], { launcher: { phase: "Running" } }).status.phase,
    ).toBe("Running");
  });

  it("keeps a paused guest Running with a Paused condition, never replacing its pod", () => {
    const v = vm({ status: launched(1, { phase: "Running" }) });
    const paused = run(v, [pod(1)], { launcher: { phase: "Paused" } });
    expect(paused.status.phase).toBe("Running");
    expect(paused.actions).toEqual([]);
    expect(condition(paused, "Paused")).toMatchObject({ status: "True", reason: "PausedByUser" });
    // Even with the readiness probe behind, a paused guest is not taken for a dead one.
    const lagging = run(v, [pod(1, { ready: false })], { launcher: { phase: "Paused" } });
    expect(lagging.status.phase).toBe("Running");
    expect(lagging.actions).toEqual([]);
    // Unpaused: False; a guest never paused carries no condition at all.
    const resumed = run(
      vm({ status: { ...launched(1), conditions: paused.status.conditions } }),
      [pod(1)],
      { launcher: { phase: "Running" } },
    );
    expect(condition(resumed, "Paused")?.status).toBe("False");
    expect(
      condition(run(v, [pod(1)], { launcher: { phase: "Running" } }), "Paused"),
    ).toBeUndefined();
  });

  it("says so when the node is not ready", () => {
    const d = run(vm({ status: launched(1) }), [pod(1)], { nodeReady: false });
    expect(d.status.phase).toBe("Running");
    expect(condition(d, "Ready")).toMatchObject({ status: "False", reason: "NodeNotReady" });
  });

  it("keeps the phase of a pod whose node stopped reporting", () => {
    const d = run(vm({ status: launched(1) }), [pod(1, { stage: "Unknown", ready: false })]);
    expect(d.status.phase).toBe("Running");
    expect(d.actions).toEqual([]);
  });

  it("is Stopping while its pod terminates, and never deletes it twice", () => {
    const d = run(
      vm({ spec: { runStrategy: "Halted" }, status: launched(1, { phase: "Stopping" }) }),
      [pod(1, { terminating: true })],
    );
    expect(d.status.phase).toBe("Stopping");
    expect(d.actions).toEqual([]);
  });
});

describe("a launch that ended, by runStrategy", () => {
  const outcomes = {
    "guest shut down (exit 0, GuestShutdown)": [exited(1, 0, "GuestShutdown")],
    "guest failed (exit 1, GuestCrashed)": [exited(1, 1, "GuestCrashed")],
    "guest stopped by SIGTERM from outside (exit 0, GuestStopped)": [exited(1, 0, "GuestStopped")],
    "pod deleted while running (gone)": [],
    "pod evicted before the container ran": [
      pod(1, {
        stage: "Failed",
        ready: false,
        failureReason: "Evicted",
        failureMessage: "low memory",
      }),
    ],
  } as const;
  // runStrategy → outcome → expected: "restart" or the settled phase.
  const table: Record<string, Record<keyof typeof outcomes, string>> = {
    Always: {
      "guest shut down (exit 0, GuestShutdown)": "restart",
      "guest failed (exit 1, GuestCrashed)": "restart",
      "guest stopped by SIGTERM from outside (exit 0, GuestStopped)": "restart",
      "pod deleted while running (gone)": "restart",
      "pod evicted before the container ran": "restart",
    },
    RerunOnFailure: {
      "guest shut down (exit 0, GuestShutdown)": "Succeeded",
      "guest failed (exit 1, GuestCrashed)": "restart",
      "guest stopped by SIGTERM from outside (exit 0, GuestStopped)": "restart",
      "pod deleted while running (gone)": "restart",
      "pod evicted before the container ran": "restart",
    },
    Once: {
      "guest shut down (exit 0, GuestShutdown)": "Succeeded",
      "guest failed (exit 1, GuestCrashed)": "Failed",
      "guest stopped by SIGTERM from outside (exit 0, GuestStopped)": "Stopped",
      "pod deleted while running (gone)": "Stopped",
      "pod evicted before the container ran": "Stopped",
    },
    Manual: {
      "guest shut down (exit 0, GuestShutdown)": "Succeeded",
      "guest failed (exit 1, GuestCrashed)": "Failed",
      "guest stopped by SIGTERM from outside (exit 0, GuestStopped)": "Stopped",
      "pod deleted while running (gone)": "Stopped",
      "pod evicted before the container ran": "Stopped",
    },
    Halted: {
      "guest shut down (exit 0, GuestShutdown)": "Stopped",
      "guest failed (exit 1, GuestCrashed)": "Stopped",
      "guest stopped by SIGTERM from outside (exit 0, GuestStopped)": "Stopped",
      "pod deleted while running (gone)": "Stopped",
      "pod evicted before the container ran": "Stopped",
    },
  };
  for (const [strategy, row] of Object.entries(table)) {
    for (const [outcome, expected] of Object.entries(row)) {
      it(`${strategy}: ${outcome} → ${expected}`, () => {
        const v = vm({
          spec: { runStrategy: strategy as never },
          status: launched(1, { restartCount: 2 }),
        });
        const d = run(v, [...outcomes[outcome as keyof typeof outcomes]]);
        if (expected === "restart") {
          expect(d.actions).toEqual([{ type: "launch", launch: 2, podName: "web-launcher-2" }]);
          expect(d.status).toMatchObject({ phase: "Scheduling", launchCount: 2, restartCount: 3 });
          expect(d.status.nodeName).toBeUndefined();
          expect(reasons(d)).toContain("Restarting");
        } else {
          expect(types(d.actions)).not.toContain("launch");
          expect(d.status.phase).toBe(expected);
          expect(d.status.launchCount).toBe(1);
          // Settled: deciding again from the written status changes nothing.
          const again = run(vm({ spec: { runStrategy: strategy as never }, status: d.status }), [
            ...outcomes[outcome as keyof typeof outcomes],
          ]);
          expect(again.status).toEqual(d.status);
          expect(again.actions).toEqual([]);
          expect(again.events).toEqual([]);
        }
      });
    }
  }

  it("records a failure in the Failure condition and a Warning Event", () => {
    const d = run(vm({ spec: { runStrategy: "Once" }, status: launched(1) }), [
      exited(1, 1, "BootFailed", { exit: { code: 1, reason: "BootFailed", message: "no kernel" } }),
    ]);
    expect(d.status.phase).toBe("Failed");
    expect(condition(d, "Failure")).toMatchObject({ status: "True", reason: "BootFailed" });
    expect(condition(d, "Failure")?.message).toContain("no kernel");
    expect(d.events.map((e) => [e.type, e.reason])).toEqual([
      ["Warning", "BootFailed"],
      ["Warning", "Failed"],
    ]);
  });

  it("keeps a settled outcome once its pod is gone (RerunOnFailure after success)", () => {
    const d = run(
      vm({ spec: { runStrategy: "RerunOnFailure" }, status: launched(1, { phase: "Succeeded" }) }),
      [],
    );
    expect(d.actions).toEqual([]);
    expect(d.status.phase).toBe("Succeeded");
  });

  it("starts a settled VM when its runStrategy becomes Always", () => {
    const d = run(
      vm({ spec: { runStrategy: "Always" }, status: launched(1, { phase: "Stopped" }) }),
      [],
    );
    expect(types(d.actions)).toEqual(["launch"]);
  });

  it("cleans up the finished pod of an earlier launch", () => {
    const d = run(vm({ status: launched(2) }), [exited(1, 0, "GuestShutdown"), pod(2)]);
    expect(d.actions).toEqual([{ type: "cleanupPod", name: "web-launcher-1", uid: "pod-uid-1" }]);
  });

  it("keeps the latest finished pod (its logs tell what happened)", () => {
    const d = run(
      vm({ spec: { runStrategy: "Once" }, status: launched(1, { phase: "Succeeded" }) }),
      [exited(1, 0)],
    );
    expect(d.actions).toEqual([]);
  });
});

describe("crash loops", () => {
  const quick = (finishedAgoMs: number) =>
    exited(1, 1, "GuestCrashed", {
      exit: {
        code: 1,
        reason: "GuestCrashed",
        startedAt: ago(finishedAgoMs + 2000),
        finishedAt: ago(finishedAgoMs),
      },
    });

  it("delays the restart of a guest that failed right after starting", () => {
    const d = run(vm({ status: launched(1) }), [quick(1000)]);
    expect(types(d.actions)).toEqual([]);
    expect(d.status.phase).toBe("Failed");
    expect(d.requeueAfterMs).toBe(DEFAULT_DECIDE_CONFIG.restartDelayMs - 1000);
  });

  it("restarts it once the delay has passed", () => {
    const d = run(vm({ status: launched(1, { phase: "Failed" }) }), [
      quick(DEFAULT_DECIDE_CONFIG.restartDelayMs),
    ]);
    expect(types(d.actions)).toEqual(["launch"]);
  });
});

describe("a spec the launcher refuses", () => {
  const refused = exited(1, 2, "ConfigError", {
    exit: { code: 2, reason: "ConfigError", message: "disk root: no such file" },
  });

  it.each(["Always", "RerunOnFailure", "Once", "Manual"] as const)(
    "%s: Failed, no restart",
    (runStrategy) => {
      const d = run(vm({ spec: { runStrategy }, status: launched(1) }), [refused]);
      expect(types(d.actions)).toEqual([]);
      expect(d.status.phase).toBe("Failed");
      expect(condition(d, "Failure")).toMatchObject({
        reason: "ConfigError",
        observedGeneration: 1,
      });
      expect(condition(d, "Failure")?.message).toContain("disk root");
    },
  );

  it("is retried once the spec changed", () => {
    const first = run(vm({ status: launched(1) }), [refused]);
    const d = run(vm({ generation: 2, status: first.status }), [refused]);
    expect(types(d.actions)).toEqual(["launch"]);
    // The retry keeps generation 1 as the refused one; a second refusal at 2 sticks.
    expect(condition(d, "Failure")?.observedGeneration).toBe(1);
  });

  it("stays failed after its pod is gone", () => {
    const first = run(vm({ status: launched(1) }), [refused]);
    const d = run(vm({ status: first.status }), []);
    expect(types(d.actions)).toEqual([]);
    expect(d.status.phase).toBe("Failed");
  });
});

describe("user requests", () => {
  it("Halted stops a running guest gracefully, then reports Stopped", () => {
    const stopping = run(vm({ spec: { runStrategy: "Halted" }, status: launched(1) }), [pod(1)]);
    expect(stopping.actions).toEqual([
      { type: "deletePod", name: "web-launcher-1", uid: "pod-uid-1", why: "runStrategy is Halted" },
    ]);
    expect(stopping.status.phase).toBe("Stopping");
    expect(reasons(stopping)).toEqual(["Stopping"]);
    const stopped = run(vm({ spec: { runStrategy: "Halted" }, status: stopping.status }), [
      exited(1, 0, "GuestStopped"),
    ]);
    expect(stopped.status.phase).toBe("Stopped");
    expect(stopped.actions).toEqual([]);
    expect(reasons(stopped)).toEqual(["Stopped"]);
  });

  it("start on Manual launches and consumes the request", () => {
    const d = run(
      vm({
        spec: { runStrategy: "Manual" },
        annotations: { [ANNOTATION_STATE_REQUEST]: "start" },
        status: { phase: "Stopped" },
      }),
    );
    expect(types(d.actions)).toEqual(["clearStateRequest", "launch"]);
  });

  it("start on a running Manual VM only consumes the request", () => {
    const d = run(
      vm({
        spec: { runStrategy: "Manual" },
        annotations: { [ANNOTATION_STATE_REQUEST]: "start" },
        status: launched(1),
      }),
      [pod(1)],
    );
    expect(types(d.actions)).toEqual(["clearStateRequest"]);
  });

  it("stop on Once deletes the pod and keeps the request until the guest is down", () => {
    const annotations = { [ANNOTATION_STATE_REQUEST]: "stop" };
    const d = run(vm({ spec: { runStrategy: "Once" }, annotations, status: launched(1) }), [
      pod(1),
    ]);
    expect(types(d.actions)).toEqual(["deletePod"]);
    const down = run(vm({ spec: { runStrategy: "Once" }, annotations, status: d.status }), []);
    expect(types(down.actions)).toEqual(["clearStateRequest"]);
    expect(down.status.phase).toBe("Stopped");
  });

  it("refuses start/stop annotations where spec.runStrategy is the switch", () => {
    const d = run(
      vm({ annotations: { [ANNOTATION_STATE_REQUEST]: "stop" }, status: launched(1) }),
      [pod(1)],
    );
    expect(types(d.actions)).toEqual(["clearStateRequest"]);
    expect(d.events).toEqual([
      expect.objectContaining({ type: "Warning", reason: "StateRequestIgnored" }),
    ]);
  });

  it("restart stops the guest, then starts the next launch and records the request", () => {
    const annotations = { [ANNOTATION_RESTART_REQUESTED]: "2026-01-01T11:59:00Z" };
    const d = run(vm({ annotations, status: launched(1) }), [pod(1)]);
    expect(types(d.actions)).toEqual(["deletePod"]);
    expect(reasons(d)).toEqual(["Restarting"]);
    expect(d.status.lastRestartRequest).toBeUndefined();
    const next = run(vm({ annotations, status: d.status }), [exited(1, 0, "GuestStopped")]);
    expect(types(next.actions)).toEqual(["launch"]);
    expect(next.status).toMatchObject({
      lastRestartRequest: "2026-01-01T11:59:00Z",
      launchCount: 2,
      restartCount: 1,
    });
    // Handled: the same annotation value does nothing more.
    const after = run(
      vm({ annotations, status: { ...next.status, launcherPodUID: "pod-uid-2" } }),
      [exited(1, 0, "GuestStopped"), pod(2)],
    );
    expect(types(after.actions)).toEqual(["cleanupPod"]);
  });

  it("restart of a stopped Once VM starts it", () => {
    const annotations = { [ANNOTATION_RESTART_REQUESTED]: "t1" };
    const d = run(
      vm({
        spec: { runStrategy: "Once" },
        annotations,
        status: launched(1, { phase: "Succeeded" }),
      }),
      [],
    );
    expect(types(d.actions)).toEqual(["launch"]);
  });

  it("restart of a Halted VM is recorded and refused with a Warning", () => {
    const d = run(
      vm({
        spec: { runStrategy: "Halted" },
        annotations: { [ANNOTATION_RESTART_REQUESTED]: "t1" },
        status: launched(1, { phase: "Stopped" }),
      }),
      [],
    );
    expect(d.actions).toEqual([]);
    expect(d.status.lastRestartRequest).toBe("t1");
    expect(reasons(d)).toEqual(["RestartIgnored"]);
  });
});

describe("never two launcher pods", () => {
  it("deletes a live pod of an earlier launch and waits for it before launching", () => {
    const d = run(
      vm({ status: launched(2, { phase: "Scheduling", launchClaimedAt: ago(3_600_000) }) }),
      [pod(1)],
    );
    expect(d.actions).toEqual([
      expect.objectContaining({ type: "deletePod", name: "web-launcher-1" }),
    ]);
  });

  it("leaves a pod of a newer launch alone: the status it sees may be stale", () => {
    const d = run(vm({ status: launched(1, { phase: "Failed" }) }), [
      exited(1, 1, "GuestCrashed"),
      pod(2),
    ]);
    // Never deleted, adopted or started from this status. The claim of launch 3 is a
    // compare-and-swap on the status as read: if it is stale, the write fails.
    expect(d.actions).not.toContainEqual(expect.objectContaining({ name: "web-launcher-2" }));
    expect(d.actions.map((a) => a.type)).not.toContain("startLauncher");
  });
});

describe("deletion", () => {
  it("stops every live pod gracefully, then releases the finalizer", () => {
    const d = run(vm({ deleting: true, status: launched(2) }), [
      pod(2),
      exited(1, 0),
      pod(3, { terminating: true }),
    ]);
    expect(d.actions).toEqual([
      {
        type: "deletePod",
        name: "web-launcher-2",
        uid: "pod-uid-2",
        why: "the VM is being deleted",
      },
    ]);
    expect(d.status.phase).toBe("Stopping");
    const done = run(vm({ deleting: true, status: d.status }), [exited(1, 0)]);
    expect(done.actions).toEqual([{ type: "removeFinalizer" }]);
  });
});

describe("migration", () => {
  it("keeps its hands off the pods while a migration runs", () => {
    const d = run(
      vm({
        spec: { runStrategy: "Halted" },
        status: launched(1, { migration: { name: "m1", phase: "Running" } }),
      }),
      [pod(1), pod(1, { name: "web-target", uid: "t", migrationTarget: true })],
    );
    expect(d.actions).toEqual([]);
    expect(d.status.phase).toBe("Migrating");
    expect(condition(d, "Ready")?.status).toBe("True");
  });

  it("derives Running itself once the switch-over moved it to the target", () => {
    const target = pod(1, { name: "web-target", uid: "t", migrationTarget: true });
    const d = run(
      vm({
        status: launched(1, {
          phase: "Migrating",
          launcherPod: "web-target",
          launcherPodUID: "t",
          migration: { name: "m1", phase: "Succeeded" },
        }),
      }),
      [pod(1, { stage: "Succeeded", ready: false, exit: { code: 0, reason: "Migrated" } }), target],
    );
    expect(d.status.phase).toBe("Running");
    // The source husk (same launch, ended Migrated) is cleaned up; the target is current.
    expect(d.actions).toEqual([{ type: "cleanupPod", name: "web-launcher-1", uid: "pod-uid-1" }]);
  });

  it.each([
    ["Always", "Scheduling", "launch"],
    ["RerunOnFailure", "Scheduling", "launch"],
    ["Once", "Stopped", undefined],
  ] as const)(
    "the guest lost with its target (TargetLost, source pod gone): %s → %s",
    (runStrategy, phase, action) => {
      const d = run(
        vm({
          spec: { runStrategy },
          status: launched(1, { phase: "Migrating", migration: { name: "m1", phase: "Failed" } }),
        }),
        [],
      );
      expect(d.status.phase).toBe(phase);
      expect(d.actions.map((a) => a.type)[0]).toBe(action);
    },
  );

  it("a migration that vanished mid-way no longer holds the VM; its target is removed", () => {
    const target = pod(1, { name: "web-target", uid: "t", migrationTarget: true });
    const migrating = vm({
      status: launched(1, { phase: "Migrating", migration: { name: "m1", phase: "Running" } }),
    });
    // Still there (or not known to be gone): hands off.
    expect(run(migrating, [pod(1), target]).actions).toEqual([]);
    const d = run(migrating, [pod(1), target], { migrationGone: true });
    expect(d.status.migration).toBeUndefined();
    expect(d.status.phase).toBe("Running");
    expect(d.actions).toEqual([
      {
        type: "deletePod",
        name: "web-target",
        uid: "t",
        why: "it is a migration target no running migration owns",
      },
    ]);
    expect(reasons(d)).toContain("MigrationVanished");
  });

  it("leaves alone a former target that now sends the guest on and finishes its own exit", () => {
    // Migrated twice: the previous target became the source of the next migration, which
    // succeeded; that pod (still a "migration target" by annotation) exits Migrated by itself.
    const d = run(
      vm({
        status: launched(1, {
          phase: "Migrating",
          launcherPod: "web-target-2",
          launcherPodUID: "t2",
          migration: { name: "m2", phase: "Succeeded" },
        }),
      }),
      [
        pod(1, { name: "web-target-1", uid: "t1", migrationTarget: true, ready: false }),
        pod(1, { name: "web-target-2", uid: "t2", migrationTarget: true }),
      ],
    );
    expect(d.actions).toEqual([]);
    expect(d.status.phase).toBe("Running");
  });

  it("owns the Migratable condition, from the verdict it is given", () => {
    const running = vm({ status: launched(1) });
    const no = run(running, [pod(1)], {
      migratability: { migratable: false, reason: "DisksNotShared", message: "claim rwo" },
    });
    expect(condition(no, "Migratable")).toMatchObject({
      status: "False",
      reason: "DisksNotShared",
      message: "claim rwo",
    });
    const yes = run(running, [pod(1)], {
      migratability: { migratable: true, reason: "Migratable", message: "ok" },
    });
    expect(condition(yes, "Migratable")?.status).toBe("True");
    // Not evaluated this pass: left as it was.
    expect(condition(run(vm({ status: no.status }), [pod(1)]), "Migratable")?.status).toBe("False");
  });
});
