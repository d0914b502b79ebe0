import { describe, expect, it } from "vitest";
import {
  type ContainerRecord,
  type PodRecord,
  podPhase,
  podStatus,
} from "../../../../src/local/node/status.js";
import { pod } from "./fixtures.js";

const T = "2026-01-01T00:00:00Z";
const waiting = (name: string, reason = "ContainerCreating"): ContainerRecord => ({
  name,
  image: "img",
  state: { kind: "waiting", reason },
  restartCount: 0,
  ready: false,
  started: false,
});
const running = (name: string, ready = true): ContainerRecord => ({
  ...waiting(name),
  state: { kind: "running", startedAt: T },
  ready,
  started: true,
});
const exited = (name: string, exitCode: number): ContainerRecord => ({
  ...waiting(name),
  state: {
    kind: "terminated",
    exitCode,
    reason: exitCode ? "Error" : "Completed",
    startedAt: T,
    finishedAt: T,
  },
});
const record = (containers: ContainerRecord[], init: ContainerRecord[] = []): PodRecord => ({
  uid: "u",
  podIP: "127.1.0.1",
  hostIP: "127.0.0.1",
  startTime: T,
  init,
  containers,
});

describe("podPhase", () => {
  it.each([
    ["waiting container", record([waiting("a")]), "Always", "Pending"],
    ["init running", record([waiting("a")], [running("i")]), "Always", "Pending"],
    ["failed init, Never", record([waiting("a")], [exited("i", 1)]), "Never", "Failed"],
    ["failed init, OnFailure", record([waiting("a")], [exited("i", 1)]), "OnFailure", "Pending"],
    ["running", record([running("a"), exited("b", 0)]), "Never", "Running"],
    ["all succeeded, Never", record([exited("a", 0), exited("b", 0)]), "Never", "Succeeded"],
    ["all succeeded, OnFailure", record([exited("a", 0)]), "OnFailure", "Succeeded"],
    ["exited, Always", record([exited("a", 0)]), "Always", "Running"],
    ["one failed, Never", record([exited("a", 0), exited("b", 2)]), "Never", "Failed"],
    ["one failed, OnFailure", record([exited("a", 2)]), "OnFailure", "Running"],
  ])("%s → %s", (_, r, policy, phase) => expect(podPhase(r, policy)).toBe(phase));

  it("counts a container waiting to restart as stopped, not pending", () => {
    const c = { ...waiting("a", "CrashLoopBackOff"), lastState: exited("a", 1).state as never };
    expect(podPhase(record([c]), "Always")).toBe("Running");
  });

  it("lets the node's end of a pod override everything", () => {
    expect(podPhase({ ...record([running("a")]), ended: { phase: "Failed" } }, "Always")).toBe(
      "Failed",
    );
  });
});

describe("podStatus", () => {
  const now = new Date("2026-01-01T00:01:00.500Z");
  const cond = (s: ReturnType<typeof podStatus>, type: string) =>
    s.conditions.find((c) => c.type === type);

  it("is Ready only when every container is ready", () => {
    const notReady = podStatus(pod(), record([running("a", false), running("b")]), now);
    expect(cond(notReady, "Ready")).toMatchObject({
      status: "False",
      reason: "ContainersNotReady",
      message: "containers with unready status: [a]",
    });
    expect(cond(notReady, "Initialized")).toMatchObject({
      status: "True",
      reason: null,
      message: null,
    });
    const ready = podStatus(pod(), record([running("a"), running("b")]), now);
    expect(cond(ready, "Ready")?.status).toBe("True");
    expect(cond(ready, "ContainersReady")?.status).toBe("True");
    expect(ready.podIP).toBe("127.1.0.1");
    expect(ready.hostIPs).toEqual([{ ip: "127.0.0.1" }]);
  });

  it("waits for readiness gates set by others", () => {
    const gated = pod({ readinessGates: [{ conditionType: "example.com/ok" }] });
    expect(cond(podStatus(gated, record([running("a")]), now), "Ready")?.reason).toBe(
      "ReadinessGatesNotReady",
    );
    gated.status = { conditions: [{ type: "example.com/ok", status: "True" }] };
    expect(cond(podStatus(gated, record([running("a")]), now), "Ready")?.status).toBe("True");
  });

  it("keeps a condition's transition time while its status holds", () => {
    const p = pod();
    p.status = {
      conditions: [
        { type: "Ready", status: "True", lastTransitionTime: "2025-05-05T00:00:00Z" as never },
      ],
    };
    const s = podStatus(p, record([running("a")]), now);
    expect(cond(s, "Ready")?.lastTransitionTime).toBe("2025-05-05T00:00:00Z");
    expect(cond(s, "Initialized")?.lastTransitionTime).toBe("2026-01-01T00:01:00Z");
  });

  it("reports container states as the API spells them", () => {
    const c = { ...exited("a", 3), restartCount: 2, lastState: exited("a", 1).state as never };
    c.state = { ...c.state, message: "boom" } as never;
    const [s] = podStatus(pod({ restartPolicy: "Never" }), record([c]), now).containerStatuses;
    expect(s).toMatchObject({
      name: "a",
      restartCount: 2,
      ready: false,
      state: { terminated: { exitCode: 3, reason: "Error", message: "boom", finishedAt: T } },
      lastState: { terminated: { exitCode: 1 } },
      containerID: "kubevisor://u/a",
    });
  });

  it("says why a node shutdown ended the pod", () => {
    const r = {
      ...record([exited("a", 143)]),
      ended: { phase: "Failed" as const, reason: "Terminated", message: "node shutdown" },
    };
    expect(podStatus(pod(), r, now)).toMatchObject({
      phase: "Failed",
      reason: "Terminated",
      message: "node shutdown",
    });
  });
});
