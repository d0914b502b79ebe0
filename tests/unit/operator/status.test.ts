import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { microTime } from "../../../src/kube/leader.js";
import { setCondition } from "../../../src/operator/vm/conditions.js";
import { observePod } from "../../../src/operator/vm/observe.js";
import { statusPatch } from "../../../src/operator/vm/status-patch.js";

describe("status patch", () => {
  it("is undefined when nothing changed, whatever undefined keys the decision carries", () => {
    expect(
      statusPatch(
        { phase: "Running", conditions: [{ type: "Ready", status: "True" }] },
        {
          phase: "Running",
          nodeName: undefined,
          conditions: [{ type: "Ready", status: "True", message: undefined } as never],
        },
      ),
    ).toBeUndefined();
  });

  it("sets changed fields and nulls removed ones", () => {
    expect(
      statusPatch(
        { phase: "Running", nodeName: "a", ipAddress: "1" },
        { phase: "Stopped", nodeName: undefined, ipAddress: "1" },
      ),
    ).toEqual({ phase: "Stopped", nodeName: null });
  });
});

describe("conditions", () => {
  const t0 = new Date("2026-01-01T00:00:00Z");
  const t1 = new Date("2026-01-01T00:01:00Z");
  it("moves lastTransitionTime only when the status flips", () => {
    const a = setCondition(undefined, { type: "Ready", status: "False", reason: "Starting" }, t0);
    const b = setCondition(a, { type: "Ready", status: "False", reason: "Scheduling" }, t1);
    expect(b[0]).toEqual({
      type: "Ready",
      status: "False",
      reason: "Scheduling",
      lastTransitionTime: "2026-01-01T00:00:00Z",
    });
    const c = setCondition(b, { type: "Ready", status: "True", reason: "GuestRunning" }, t1);
    expect(c[0]?.lastTransitionTime).toBe("2026-01-01T00:01:00Z");
  });
});

describe("lease times", () => {
  it("are MicroTime: six fractional digits", () => {
    expect(microTime(new Date("2026-01-01T00:00:00.123Z"))).toBe("2026-01-01T00:00:00.123000Z");
  });
});

describe("pod observation", () => {
  const base: V1Pod = {
    metadata: { name: "web-launcher-2", uid: "u", annotations: { "kubevisor.io/launch": "2" } },
    spec: { containers: [] },
  };

  it("reads scheduling trouble from the scheduler's condition", () => {
    const p = observePod({
      ...base,
      status: {
        phase: "Pending",
        conditions: [
          {
            type: "PodScheduled",
            status: "False",
            reason: "Unschedulable",
            message: "0/1 nodes are available: 1 Insufficient memory.",
          },
        ],
      },
    });
    expect(p).toMatchObject({
      stage: "Unscheduled",
      launch: 2,
      unschedulable: "0/1 nodes are available: 1 Insufficient memory.",
    });
  });

  it("reads the launcher's exit reason from its termination message", () => {
    const p = observePod({
      ...base,
      metadata: { ...base.metadata, deletionTimestamp: new Date() },
      spec: { containers: [], nodeName: "n" },
      status: {
        phase: "Failed",
        containerStatuses: [
          {
            name: "launcher",
            image: "i",
            imageID: "",
            ready: false,
            restartCount: 0,
            state: {
              terminated: {
                exitCode: 1,
                message: "GuestCrashed: QEMU died",
                startedAt: new Date("2026-01-01T00:00:00Z"),
                finishedAt: "2026-01-01T00:00:05Z" as never,
              },
            },
          },
        ],
      },
    });
    expect(p).toMatchObject({
      stage: "Failed",
      terminating: true,
      exit: {
        code: 1,
        reason: "GuestCrashed",
        message: "QEMU died",
        startedAt: "2026-01-01T00:00:00.000Z",
        finishedAt: "2026-01-01T00:00:05Z",
      },
    });
  });

  it("keeps a termination message that is not the launcher's (logs) as the message", () => {
    const p = observePod({
      ...base,
      status: {
        phase: "Failed",
        containerStatuses: [
          {
            name: "launcher",
            image: "i",
            imageID: "",
            ready: false,
            restartCount: 0,
            state: { terminated: { exitCode: 137, message: "Killed\n" } },
          },
        ],
      },
    });
    expect(p.exit).toEqual({ code: 137, message: "Killed" });
  });

  it("reads image pull failures and eviction", () => {
    const pulling = observePod({
      ...base,
      spec: { containers: [], nodeName: "n" },
      status: {
        phase: "Pending",
        containerStatuses: [
          {
            name: "launcher",
            image: "i",
            imageID: "",
            ready: false,
            restartCount: 0,
            state: { waiting: { reason: "ImagePullBackOff", message: "back-off" } },
          },
        ],
      },
    });
    expect(pulling).toMatchObject({
      stage: "Scheduled",
      imagePullError: { reason: "ImagePullBackOff", message: "back-off" },
    });
    const evicted = observePod({
      ...base,
      status: { phase: "Failed", reason: "Evicted", message: "low on memory" },
    });
    expect(evicted).toMatchObject({ failureReason: "Evicted", failureMessage: "low on memory" });
  });
});
