import { describe, expect, it } from "vitest";
import {
  type LauncherMigrationState,
  VirtualMachineMigration,
  type VirtualMachineMigrationStatus,
} from "../../../src/api/index.js";
import { DEFAULT_MIGRATION_CONFIG } from "../../../src/operator/migration/config.js";
import {
  COND_ABORTING,
  COND_LEFT_SOURCE,
  COND_SOURCE_SILENT,
  decideMigration,
  MIGRATION_FINALIZER,
  type MigrationAction,
  type MigrationDecideInput,
  type MigrationDecision,
} from "../../../src/operator/migration/decide.js";
import type { SlotUse } from "../../../src/operator/migration/limits.js";
import type { ObservedPod } from "../../../src/operator/vm/observe.js";
import { pod, state, vm } from "./fixtures.js";

const NOW = new Date("2026-01-01T12:00:00Z");
const ago = (ms: number) => `${new Date(NOW.getTime() - ms).toISOString().slice(0, 19)}Z`;
const config = DEFAULT_MIGRATION_CONFIG;
const TARGET = "web-target-abc";

interface MigrationOptions {
  phase?: VirtualMachineMigrationStatus["phase"];
  status?: VirtualMachineMigrationStatus;
  spec?: Record<string, unknown>;
  deleting?: boolean;
  finalizers?: string[];
}

function migration(o: MigrationOptions = {}) {
  const phase = o.phase ?? "Running";
  return VirtualMachineMigration.parse({
    apiVersion: "kubevisor.io/v1alpha1",
    kind: "VirtualMachineMigration",
    metadata: {
      name: "move",
      namespace: "default",
      uid: "uid-move",
      generation: 1,
      finalizers: o.finalizers ?? [MIGRATION_FINALIZER],
      ...(o.deleting ? { deletionTimestamp: ago(1000) } : {}),
    },
    spec: { vmName: "web", ...o.spec },
    status:
      phase === "Pending"
        ? { ...o.status }
        : {
            phase,
            sourceNode: "node-a",
            sourcePod: "web-launcher-1",
            targetPod: TARGET,
            startTime: ago(10_000),
            ...o.status,
          },
  });
}

/** The VM as a migration past admission sees it: claimed by "move". */
const claimed = (phase = "Running", extra: Record<string, unknown> = {}) =>
  vm({}, { phase: "Migrating", migration: { name: "move", phase }, ...extra });

const source = pod("web-launcher-1", { nodeName: "node-a", podIP: "127.1.0.1" });
const target = pod(TARGET, {
  migrationTarget: true,
  nodeName: "node-b",
  podIP: "127.1.0.2",
  ready: false,
});

function run(input: Partial<MigrationDecideInput>): MigrationDecision {
  return decideMigration({
    migration: migration(),
    vm: claimed(),
    sourcePod: source,
    targetPod: target,
    slots: [],
    now: NOW,
    config,
    ...input,
  });
}

const types = (actions: MigrationAction[]) => actions.map((a) => a.type);
const condition = (d: MigrationDecision, type: string) =>
  d.status.conditions?.find((c) => c.type === type);
const killed = (d: MigrationDecision, role: "source" | "target") =>
  d.actions.some((a) => a.type === "deletePod" && a.role === role && a.graceSeconds === 0);

/** One word for what a decision does, for the tables. */
function verdict(d: MigrationDecision): string {
  if (d.status.phase === "Succeeded") return "succeed";
  if (d.status.phase === "Failed") return `fail:${d.status.reason}`;
  if (d.actions.some((a) => a.type === "startMigration")) return "start";
  if (d.actions.some((a) => a.type === "cancel")) return "cancel";
  return "wait";
}

// ---- the Running table: every source answer × every target answer ----

type SourceCase = Pick<MigrationDecideInput, "source" | "sourcePod">;
type TargetCase = Pick<MigrationDecideInput, "target" | "targetPod">;

const sources: Record<string, SourceCase> = {
  None: { source: state("source", "None"), sourcePod: source },
  Migrating: { source: state("source", "Migrating"), sourcePod: source },
  Succeeded: { source: state("source", "Succeeded"), sourcePod: source },
  Failed: { source: state("source", "Failed", { error: "boom" }), sourcePod: source },
  Cancelled: { source: state("source", "Cancelled"), sourcePod: source },
  unreachable: { sourcePod: source },
  podGone: {},
  crashed: {
    sourcePod: pod("web-launcher-1", {
      stage: "Failed",
      exit: { code: 1, reason: "GuestCrashed" },
    }),
  },
  exitedMigrated: {
    sourcePod: pod("web-launcher-1", { stage: "Succeeded", exit: { code: 0, reason: "Migrated" } }),
  },
  postcopyActive: {
    source: state("source", "Migrating", { qemuStatus: "postcopy-active" }),
    sourcePod: source,
  },
  postcopyPaused: {
    source: state("source", "Migrating", { qemuStatus: "postcopy-paused" }),
    sourcePod: source,
  },
};

const targets: Record<string, TargetCase> = {
  Listening: { target: state("target", "Listening"), targetPod: target },
  Succeeded: { target: state("target", "Succeeded"), targetPod: { ...target, ready: true } },
  Failed: { target: state("target", "Failed"), targetPod: target },
  unreachableReady: { targetPod: { ...target, ready: true } },
  unreachable: { targetPod: target },
  terminal: {
    targetPod: { ...target, stage: "Failed", exit: { code: 1, reason: "MigrationFailed" } },
  },
  absent: {},
};

/**
 * Expected verdict per source row, in the order of `targets`' columns:
 * Listening, Succeeded, Failed, unreachableReady, unreachable, terminal, absent.
 */
const TABLE: Record<keyof typeof sources, string[]> = {
  None: [
    "start",
    "start",
    "fail:TargetFailed",
    "start",
    "start",
    "fail:TargetFailed",
    "fail:TargetFailed",
  ],
  Migrating: ["wait", "wait", "cancel", "wait", "wait", "cancel", "cancel"],
  Succeeded: [
    "wait",
    "succeed",
    "fail:TargetLost",
    "succeed",
    "wait",
    "fail:TargetLost",
    "fail:TargetLost",
  ],
  Failed: [
    "fail:MigrationFailed",
    "fail:MigrationFailed",
    "fail:TargetFailed",
    "fail:MigrationFailed",
    "fail:MigrationFailed",
    "fail:TargetFailed",
    "fail:TargetFailed",
  ],
  Cancelled: [
    "fail:Cancelled",
    "fail:MigrationFailed",
    "fail:TargetFailed",
    "fail:Cancelled",
    "fail:Cancelled",
    "fail:TargetFailed",
    "fail:TargetFailed",
  ],
  unreachable: ["wait", "wait", "wait", "wait", "wait", "wait", "wait"],
  podGone: Array(7).fill("fail:SourceFailed"),
  crashed: Array(7).fill("fail:SourceFailed"),
  exitedMigrated: [
    "wait",
    "succeed",
    "fail:TargetLost",
    "succeed",
    "wait",
    "fail:TargetLost",
    "fail:TargetLost",
  ],
  postcopyActive: [
    "wait",
    "succeed",
    "fail:TargetLost",
    "succeed",
    "wait",
    "fail:TargetLost",
    "fail:TargetLost",
  ],
  postcopyPaused: [
    "fail:PostCopyPaused",
    "succeed",
    "fail:TargetLost",
    "succeed",
    "fail:PostCopyPaused",
    "fail:TargetLost",
    "fail:TargetLost",
  ],
};

/** The source's own word that the guest left it (the only grounds for a switch-over). */
const LEFT = new Set(["Succeeded", "exitedMigrated", "postcopyActive", "postcopyPaused"]);

const cells = Object.entries(sources).flatMap(([s, sc]) =>
  Object.entries(targets).map(([t, tc], i) => ({
    s,
    t,
    // Explicitly absent: run()'s defaults must not fill a missing side back in.
    input: {
      source: undefined,
      sourcePod: undefined,
      target: undefined,
      targetPod: undefined,
      ...sc,
      ...tc,
    } as Partial<MigrationDecideInput>,
    expected: TABLE[s]?.[i] ?? "?",
  })),
);

describe("Running: every source answer × every target answer", () => {
  it.each(cells)("source $s, target $t → $expected", ({ s, input, expected }) => {
    const d = run(input);
    expect(verdict(d)).toBe(expected);
    if (expected === "succeed") {
      // Never on the target's word alone.
      expect(LEFT.has(s)).toBe(true);
      const write = d.actions.find((a) => a.type === "writeVm");
      expect(write).toMatchObject({
        write: { phase: "Succeeded", switchTo: { name: TARGET } },
      });
    }
    if (expected.startsWith("fail:")) {
      // The target never survives a failed migration, and dies at once.
      if (input.targetPod && input.targetPod.stage !== "Failed") {
        expect(killed(d, "target")).toBe(true);
      }
      // The VM is released after the pods are dealt with.
      const order = types(d.actions);
      expect(order.at(-1)).toBe("writeVm");
      expect(d.actions.at(-1)).toMatchObject({ write: { phase: "Failed" } });
    }
    if (expected === "fail:TargetLost" || expected === "fail:PostCopyPaused") {
      // The guest is gone: the source husk goes too, so runStrategy can start it anew.
      if (input.sourcePod?.stage === "Running") expect(killed(d, "source")).toBe(true);
    }
    if (LEFT.has(s) && expected !== "succeed" && !expected.startsWith("fail")) {
      expect(condition(d, COND_LEFT_SOURCE)?.status).toBe("True");
    }
  });

  it("target succeeded but source failed: the target is killed at once (never two guests)", () => {
    const d = run({ ...sources.Failed, ...targets.Succeeded });
    expect(killed(d, "target")).toBe(true);
    expect(d.status.message).toMatch(/target also started the guest and was killed/);
    expect(d.actions).toContainEqual(
      expect.objectContaining({ type: "deletePod", uid: `uid-${TARGET}` }),
    );
  });
});

describe("Running: a target that names another place", () => {
  it("is never sent the guest: TargetRefused, target removed", () => {
    const d = run({
      ...sources.None,
      ...targets.Listening,
      targetRefused: "the target's answer: migrationUri must be tcp:127.1.0.2:PORT",
    });
    expect(d.status).toMatchObject({ phase: "Failed", reason: "TargetRefused" });
    expect(types(d.actions)).not.toContain("startMigration");
    expect(d.actions).toContainEqual(
      expect.objectContaining({ type: "deletePod", role: "target", uid: `uid-${TARGET}` }),
    );
  });
});

describe("Running: facts that must outlive a pass", () => {
  const left = (since: number) => ({
    conditions: [
      {
        type: COND_LEFT_SOURCE,
        status: "True" as const,
        reason: "SourceConfirmed",
        message: "",
        lastTransitionTime: ago(since),
      },
    ],
  });

  it("a recorded departure still counts once the source pod is gone", () => {
    const d = run({ migration: migration({ status: left(5000) }), ...targets.Succeeded });
    expect(verdict(d)).toBe("succeed");
  });

  it("the switch-over has a deadline: a target that never confirms is lost, both pods killed", () => {
    const before = run({
      migration: migration({ status: left(5000) }),
      ...sources.exitedMigrated,
      ...targets.Listening,
    });
    expect(verdict(before)).toBe("wait");
    const d = run({
      migration: migration({ status: left(config.switchoverTimeoutMs + 2000) }),
      source: state("source", "Succeeded"),
      sourcePod: source,
      ...targets.Listening,
    });
    expect(verdict(d)).toBe("fail:TargetLost");
    expect(killed(d, "target")).toBe(true);
    expect(killed(d, "source")).toBe(true);
  });

  it("post-copy gets the whole completion budget, not just the switch-over deadline", () => {
    const d = run({
      migration: migration({ status: left(config.switchoverTimeoutMs + 2000) }),
      ...sources.postcopyActive,
      ...targets.Listening,
    });
    expect(verdict(d)).toBe("wait");
  });

  it("records since when the source does not answer, and gives up on it after the deadline", () => {
    const first = run({ ...sources.unreachable, ...targets.Listening });
    expect(condition(first, COND_SOURCE_SILENT)?.status).toBe("True");
    const silent = {
      conditions: [
        {
          type: COND_SOURCE_SILENT,
          status: "True" as const,
          reason: "NoAnswer",
          message: "",
          lastTransitionTime: ago(config.sourceSilenceTimeoutMs + 1000),
        },
      ],
    };
    const d = run({
      migration: migration({ status: silent }),
      ...sources.unreachable,
      ...targets.Listening,
    });
    expect(condition(d, COND_ABORTING)).toMatchObject({
      status: "True",
      reason: "SourceUnreachable",
    });
    // The cancel cannot reach the source: the stream is cut from the target's end later.
    expect(types(d.actions)).not.toContain("cancel");
    expect(verdict(d)).toBe("wait");
  });
});

describe("Running: ending early without losing the guest", () => {
  const aborting = (reason: string, sinceMs: number) => ({
    conditions: [
      {
        type: COND_ABORTING,
        status: "True" as const,
        reason,
        message: "asked",
        lastTransitionTime: ago(sinceMs),
      },
    ],
  });

  it("a deleted migration in flight is cancelled, and the intent is recorded first", () => {
    const d = run({
      migration: migration({ deleting: true }),
      ...sources.Migrating,
      ...targets.Listening,
    });
    expect(types(d.actions)).toEqual(["cancel"]);
    expect(condition(d, COND_ABORTING)).toMatchObject({ status: "True", reason: "Deleted" });
    expect(d.requeueAfterMs).toBeLessThanOrEqual(1000);
  });

  it("cancelled: ends with the asked-for reason, target removed", () => {
    const d = run({
      migration: migration({ status: aborting("Deleted", 2000) }),
      ...sources.Cancelled,
      ...targets.Listening,
    });
    expect(verdict(d)).toBe("fail:Deleted");
    expect(killed(d, "target")).toBe(true);
    expect(condition(d, COND_ABORTING)?.status).toBe("False");
  });

  it("a cancel the source does not carry out within the grace: the target is killed", () => {
    const young = run({
      migration: migration({ status: aborting("ProgressStalled", 2000) }),
      ...sources.Migrating,
      ...targets.Listening,
    });
    expect(killed(young, "target")).toBe(false);
    const d = run({
      migration: migration({ status: aborting("ProgressStalled", config.cancelGraceMs + 1000) }),
      ...sources.Migrating,
      ...targets.Listening,
    });
    expect(types(d.actions)).toEqual(["cancel", "deletePod"]);
    expect(killed(d, "target")).toBe(true);
  });

  it("too late to abort: the guest left the source, so it follows it", () => {
    const d = run({
      migration: migration({ deleting: true }),
      ...sources.Succeeded,
      ...targets.Succeeded,
    });
    expect(verdict(d)).toBe("succeed");
  });

  it("never sent: an abort is a plain failure", () => {
    const d = run({
      migration: migration({ status: aborting("Deleted", 1000) }),
      ...sources.None,
      ...targets.Listening,
    });
    expect(verdict(d)).toBe("fail:Deleted");
  });

  it.each([
    [
      "CompletionTimeout",
      { startedAt: ago(config.completionTimeoutPerGiB * 1000 + 5000) },
      undefined,
    ],
    [
      "ProgressStalled",
      {},
      { processed: 0, atMs: NOW.getTime() - config.progressTimeoutMs - 1000 },
    ],
  ] as const)("%s starts a cancel", (reason, extra, progressMark) => {
    const d = run({
      source: state("source", "Migrating", extra as Partial<LauncherMigrationState>),
      sourcePod: source,
      ...targets.Listening,
      ...(progressMark ? { progressMark } : {}),
    });
    expect(verdict(d)).toBe("cancel");
    expect(condition(d, COND_ABORTING)?.reason).toBe(reason);
  });
});

// ---- before the guest is sent ----

const running = vm();
const slot = (name: string, namespace: string, sourceNode = "node-x"): SlotUse => ({
  name,
  namespace,
  phase: "Running",
  sourceNode,
});
const admit = (input: Partial<MigrationDecideInput>) =>
  run({
    migration: migration({ phase: "Pending" }),
    vm: running,
    migratable: { migratable: true, reason: "Migratable", message: "" },
    ...input,
  });

describe("Pending: admission", () => {
  it("puts the finalizer in place before anything else", () => {
    const d = run({ migration: migration({ phase: "Pending", finalizers: [] }) });
    expect(d.actions).toEqual([{ type: "addFinalizer" }]);
  });

  it("admits: Scheduling written first, then the VM claimed", () => {
    const d = admit({});
    expect(d.status).toMatchObject({
      phase: "Scheduling",
      sourceNode: "node-a",
      sourcePod: "web-launcher-1",
      startTime: ago(0),
      // No target pod is trusted until the create's own answer records its UID.
      targetPodUID: "",
    });
    expect(d.actions).toEqual([{ type: "writeVm", write: { phase: "Scheduling", claim: true } }]);
  });

  it.each([
    ["VMNotFound", { vm: undefined }],
    ["MigrationInProgress", { vm: vm({}, { migration: { name: "other", phase: "Running" } }) }],
    ["VMNotRunning", { vm: vm({}, { phase: "Stopped" }) }],
    [
      "NotMigratable",
      { migratable: { migratable: false, reason: "DisksNotShared", message: "claim rwo" } },
    ],
  ] as const)("fails with %s", (reason, extra) => {
    const d = admit(extra as Partial<MigrationDecideInput>);
    expect(verdict(d)).toBe(`fail:${reason}`);
    expect(types(d.actions)).not.toContain("writeVm");
  });

  it("waits (bounded) for a VM on its way up, and refuses a stopped one at once", () => {
    const starting = admit({ vm: vm({}, { phase: "Starting" }) });
    expect(starting.status).toMatchObject({ phase: "Pending", reason: "WaitingForVM" });
    const old = migration({ phase: "Pending" });
    old.metadata.creationTimestamp = ago(config.targetScheduleTimeoutMs + 1000);
    expect(verdict(admit({ migration: old, vm: vm({}, { phase: "Starting" }) }))).toBe(
      "fail:VMNotRunning",
    );
  });

  it("waits for a slot: cluster, namespace and node limits", () => {
    const full = Array.from({ length: config.parallelPerCluster }, (_, i) =>
      slot(`m${i}`, `ns${i}`),
    );
    expect(admit({ slots: full }).status).toMatchObject({
      phase: "Pending",
      reason: "WaitingForSlot",
    });
    const tenant = Array.from({ length: config.parallelPerNamespace }, (_, i) =>
      slot(`m${i}`, "default"),
    );
    expect(admit({ slots: tenant }).status.message).toMatch(/per namespace/);
    const others = Array.from({ length: config.parallelPerNamespace }, (_, i) =>
      slot(`m${i}`, "tenant-b"),
    );
    expect(admit({ slots: others }).status.phase).toBe("Scheduling");
  });

  it("clamps bandwidth and completion time to the admin's bounds, with an Event", () => {
    const bounded = {
      ...config,
      maxBandwidthBytesPerSec: 1 << 20,
      maxCompletionTimeoutPerGiB: 100,
    };
    const d = admit({
      migration: migration({
        phase: "Pending",
        spec: { bandwidth: "1Gi", completionTimeoutPerGiB: 500 },
      }),
      config: bounded,
    });
    const clamped = d.events.filter((e) => e.reason === "Clamped").map((e) => e.message);
    expect(clamped).toHaveLength(2);
    expect(clamped[0]).toMatch(/bandwidth 1Gi clamped/);
    expect(clamped[1]).toMatch(/completionTimeoutPerGiB 500 clamped to the cluster bound of 100/);
    // ... and the source is asked for the bounded values.
    const start = run({
      migration: migration({
        phase: "TargetReady",
        spec: { bandwidth: "1Gi", completionTimeoutPerGiB: 500 },
      }),
      config: bounded,
    });
    expect(start.actions.find((a) => a.type === "startMigration")).toMatchObject({
      settings: { bandwidthBytesPerSec: 1 << 20, completionMs: 100_000 },
    });
  });
});

describe("Scheduling and TargetReady", () => {
  const sched = (input: Partial<MigrationDecideInput>) =>
    run({
      migration: migration({ phase: "Scheduling", status: { startTime: ago(5000) } }),
      vm: claimed("Scheduling", { phase: "Running" }),
      ...input,
    });
  const waiting = { phase: "WaitingForMigration" as const };

  it("claims the VM again when the claim did not land, before any pod exists", () => {
    const d = sched({ vm: running, targetPod: undefined });
    expect(d.actions).toEqual([{ type: "writeVm", write: { phase: "Scheduling", claim: true } }]);
  });

  it("never claims a VM that stopped running meanwhile", () => {
    const stopped = vm({}, { phase: "Stopped" });
    expect(verdict(sched({ vm: stopped, targetPod: undefined }))).toBe("fail:VMNotRunning");
  });

  it("creates the target, then waits for it to wait for the guest", () => {
    expect(types(sched({ targetPod: undefined }).actions)).toEqual(["createTarget"]);
    expect(verdict(sched({ targetPod: { ...target, stage: "Scheduled" } }))).toBe("wait");
    const ready = sched({ targetLauncher: waiting });
    expect(ready.status).toMatchObject({ phase: "TargetReady", targetNode: "node-b" });
  });

  it("starts the recorded target only when it waits at its start gate", () => {
    const gated = sched({ targetLauncher: { phase: "Preparing", awaitingStart: true } });
    expect(types(gated.actions)).toEqual(["startTarget"]);
    expect(gated.status.phase).toBe("Scheduling");
    // Not before its pod runs (no address to call), and not again once it waits for the guest.
    const scheduled = sched({
      targetPod: { ...target, stage: "Scheduled", podIP: undefined },
      targetLauncher: { phase: "Preparing", awaitingStart: true },
    });
    expect(types(scheduled.actions)).toEqual([]);
    expect(types(sched({ targetLauncher: waiting }).actions)).not.toContain("startTarget");
  });

  it("a pod under the target name that is not the recorded one ends it, untouched", () => {
    const d = sched({ targetPod: undefined, targetPodRefused: `${TARGET} (uid tenant)` });
    expect(verdict(d)).toBe("fail:TargetPodRefused");
    expect(d.status.message).toContain(TARGET);
    // Never created over, started, or deleted: it may be someone else's.
    expect(types(d.actions)).not.toContain("createTarget");
    expect(types(d.actions)).not.toContain("startTarget");
    expect(d.actions.filter((a) => a.type === "deletePod")).toEqual([]);
  });

  it.each([
    ["TargetFailed", { targetPod: { ...target, stage: "Failed" } }],
    ["SourceFailed", { sourcePod: { ...source, stage: "Failed" } }],
    ["MigrationInProgress", { vm: vm({}, { migration: { name: "other", phase: "Scheduling" } }) }],
    [
      "AcceleratorMismatch",
      {
        vm: claimed("Scheduling", { phase: "Running", acceleration: "KVM" }),
        targetLauncher: { ...waiting, acceleration: "TCG" },
      },
    ],
  ] as const)("fails with %s", (reason, extra) => {
    expect(verdict(sched(extra as Partial<MigrationDecideInput>))).toBe(`fail:${reason}`);
  });

  it("has a deadline: a target never waiting for the guest ends it, and is removed", () => {
    const late = migration({
      phase: "Scheduling",
      status: { startTime: ago(config.targetScheduleTimeoutMs + 1000) },
    });
    const d = sched({ migration: late });
    expect(verdict(d)).toBe("fail:SchedulingTimeout");
    expect(killed(d, "target")).toBe(true);
    expect(d.actions.at(-1)).toMatchObject({ type: "writeVm", write: { phase: "Failed" } });
    const stuck = sched({
      migration: late,
      targetPod: { ...target, stage: "Unscheduled", unschedulable: "0/2 nodes" },
    });
    expect(verdict(stuck)).toBe("fail:TargetUnschedulable");
  });

  it("TargetReady: Running is written first, then the VM, then the source is told", () => {
    const d = run({ migration: migration({ phase: "TargetReady" }) });
    expect(d.status.phase).toBe("Running");
    expect(types(d.actions)).toEqual(["writeVm", "startMigration"]);
  });

  it.each(["Pending", "Scheduling", "TargetReady"] as const)(
    "deleted in %s: fails at once",
    (phase) => {
      const d = run({ migration: migration({ phase, deleting: true }) });
      expect(verdict(d)).toBe("fail:Deleted");
    },
  );
});

describe("ended migrations", () => {
  it("Failed: the target goes, the VM is released, then the finalizer", () => {
    const d = run({ migration: migration({ phase: "Failed" }) });
    expect(types(d.actions)).toEqual(["deletePod", "writeVm", "removeFinalizer"]);
    expect(killed(d, "target")).toBe(true);
  });

  it("Succeeded whose switch-over write was lost: it is redone from the target pod", () => {
    const d = run({ migration: migration({ phase: "Succeeded" }) });
    expect(d.actions[0]).toMatchObject({
      type: "writeVm",
      write: { phase: "Succeeded", switchTo: { name: TARGET } },
    });
  });

  it("nothing to do once the VM agrees: only the finalizer goes", () => {
    const done = vm({}, { migration: { name: "move", phase: "Succeeded" }, launcherPod: TARGET });
    const d = run({ migration: migration({ phase: "Succeeded" }), vm: done });
    expect(types(d.actions)).toEqual(["removeFinalizer"]);
  });
});

// Keeps the pod fixture's shape honest for the table above.
const _shape: ObservedPod = target;
void _shape;
