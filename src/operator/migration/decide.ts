import type {
  Condition,
  LauncherMigrationState,
  LauncherStatus,
  MigrationPhase,
  VirtualMachine,
  VirtualMachineMigration,
  VirtualMachineMigrationStatus,
} from "../../api/index.js";
import { findCondition, rfc3339, setCondition } from "../vm/conditions.js";
import { isTerminal, type ObservedPod } from "../vm/observe.js";
import type { MigrationConfig } from "./config.js";
import { decideRunning } from "./decide-running.js";
import { boundedSettings, type SlotUse, slotRefusal } from "./limits.js";
import type { Migratability } from "./migratable.js";
import { targetPodName } from "./target-pod.js";
import { completionTimeoutMs, downtimeMs, type ProgressMark } from "./timing.js";

/**
 * The migration state machine as a pure function, the counterpart of vm/decide.ts:
 * (migration, VM, both launchers' answers, both pods, time, config, slot usage) → the
 * status the migration should have, the actions that move the world towards it, and the
 * Events. The executor (reconciler.ts) writes that status first, once, then acts. Whatever
 * a later pass must know (when the guest left the source, when an abort began) is in the
 * status, as conditions whose lastTransitionTime is the moment.
 */

export const MIGRATION_FINALIZER = "kubevisor.io/migration-protection";

/** Status conditions the decision keeps: facts with the time they became true. */
export const COND_LEFT_SOURCE = "GuestLeftSource";
export const COND_ABORTING = "Aborting";
export const COND_SOURCE_SILENT = "SourceUnreachable";

export interface MigrationDecideInput {
  migration: VirtualMachineMigration;
  vm?: VirtualMachine;
  /** The source launcher's GET /migrate, when it answered (its role mapped to "source"). */
  source?: LauncherMigrationState;
  /** The source's last answer in an earlier pass: its final figures outlive its pod. */
  lastSource?: LauncherMigrationState;
  /** The target launcher's GET /migrate, when it answered. */
  target?: LauncherMigrationState;
  /** The target launcher's GET /status while Scheduling (waiting for the guest? accelerator?). */
  targetLauncher?: LauncherStatus;
  sourcePod?: ObservedPod;
  targetPod?: ObservedPod;
  /** Pending only: whether the VM's disks let it move (its claims read live). */
  migratable?: Migratability;
  /** Every migration's phase and source node, for the parallel limits. */
  slots: readonly SlotUse[];
  /** The last time the source's byte count moved (kept by the executor). */
  progressMark?: ProgressMark;
  now: Date;
  config: MigrationConfig;
}

/** A VM status write the migration reconciler may make: `status.migration`, maybe the switch. */
export interface VmWrite {
  phase: MigrationPhase;
  /** The switch-over: the VM follows the guest to this pod (one write, with `phase`). */
  switchTo?: ObservedPod;
  /** A claim: only if the VM is still as read (resourceVersion precondition). */
  claim?: boolean;
}

export type MigrationAction =
  | { type: "addFinalizer" }
  | { type: "removeFinalizer" }
  | { type: "writeVm"; write: VmWrite }
  | { type: "createTarget" }
  /** Tell the target to listen and the source to send (both idempotent). */
  | { type: "startMigration"; settings: StartSettings }
  /** Ask the source to call the guest back; never awaited by the pass. */
  | { type: "cancel" }
  /** Delete a pod with the uid precondition; grace 0 kills at once. */
  | {
      type: "deletePod";
      role: "source" | "target";
      name: string;
      uid: string;
      graceSeconds: number;
      why: string;
    };

export interface StartSettings {
  postCopy: boolean;
  autoConverge: boolean;
  bandwidthBytesPerSec?: number;
  /** The source gives up after this; the target waits a minute longer. */
  completionMs: number;
}

export interface MigrationEvent {
  on: "migration" | "vm";
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

export interface MigrationDecision {
  status: VirtualMachineMigrationStatus;
  actions: MigrationAction[];
  events: MigrationEvent[];
  requeueAfterMs?: number;
}

/** Looked at again this soon while something is expected to happen any moment. */
export const SHORT_WAIT_MS = 1000;
export const CANCEL_RECHECK_MS = 500;
const SLOT_RECHECK_MS = 2000;

export function decideMigration(input: MigrationDecideInput): MigrationDecision {
  const m = input.migration;
  const d: MigrationDecision = {
    status: { ...(m.status ?? {}), observedGeneration: m.metadata.generation ?? 0 },
    actions: [],
    events: [],
  };
  const phase: MigrationPhase = m.status?.phase ?? "Pending";
  if (phase === "Succeeded" || phase === "Failed") return settle(input, d, phase);
  if (!m.metadata.deletionTimestamp && !m.metadata.finalizers?.includes(MIGRATION_FINALIZER)) {
    // Nothing is created before the finalizer is in place, so deletion always finds it.
    d.actions.push({ type: "addFinalizer" });
    return d;
  }
  if (m.metadata.deletionTimestamp && phase !== "Running") {
    return fail(input, d, "Deleted", "the migration was deleted before the guest was sent");
  }
  switch (phase) {
    case "Pending":
      return pending(input, d);
    case "Scheduling":
      return scheduling(input, d);
    case "TargetReady":
      return targetReady(input, d);
    case "Running":
      return decideRunning(input, d);
  }
}

// ---- phases before the guest is sent ----

function pending(input: MigrationDecideInput, d: MigrationDecision): MigrationDecision {
  const { migration: m, vm, config } = input;
  const name = m.metadata.name ?? "";
  if (!vm) return fail(input, d, "VMNotFound", `VirtualMachine ${m.spec.vmName} not found`);
  const other = heldByOther(input);
  if (other) {
    return fail(
      input,
      d,
      "MigrationInProgress",
      `VM ${m.spec.vmName} is already being migrated by ${other}`,
    );
  }
  const sourcePod = vm.status?.launcherPod;
  const sourceNode = vm.status?.nodeName;
  if (vm.status?.phase !== "Running" || !sourcePod || !sourceNode) {
    return fail(
      input,
      d,
      "VMNotRunning",
      `VM ${m.spec.vmName} is ${vm.status?.phase ?? "not started"}; only a running VM migrates`,
    );
  }
  const verdict = input.migratable;
  if (!verdict) {
    d.requeueAfterMs = SLOT_RECHECK_MS;
    return d;
  }
  if (!verdict.migratable) return fail(input, d, "NotMigratable", verdict.message);
  const waiting = slotRefusal(
    { name, namespace: m.metadata.namespace ?? "" },
    sourceNode,
    input.slots,
    config,
  );
  if (waiting) {
    if (m.status?.reason !== "WaitingForSlot" || m.status.message !== waiting) {
      d.events.push({
        on: "migration",
        type: "Normal",
        reason: "WaitingForSlot",
        message: waiting,
      });
    }
    Object.assign(d.status, { phase: "Pending", reason: "WaitingForSlot", message: waiting });
    d.requeueAfterMs = SLOT_RECHECK_MS;
    return d;
  }
  const targetPod = targetPodName(m.spec.vmName, m.metadata.uid ?? "");
  Object.assign(d.status, {
    phase: "Scheduling",
    sourceNode,
    sourcePod,
    targetPod,
    startTime: m.status?.startTime ?? rfc3339(input.now),
    reason: undefined,
    message: undefined,
  } satisfies VirtualMachineMigrationStatus);
  // The claim makes this the VM's only migration and tells the VM reconciler to leave its
  // pods alone; a Scheduling migration whose claim did not land claims again (scheduling()).
  d.actions.push({ type: "writeVm", write: { phase: "Scheduling", claim: true } });
  const msg = `migrating from ${sourceNode} (pod ${sourcePod}) to a new pod ${targetPod}`;
  d.events.push({ on: "migration", type: "Normal", reason: "Scheduling", message: msg });
  d.events.push({
    on: "vm",
    type: "Normal",
    reason: "MigrationStarted",
    message: `${name}: ${msg}`,
  });
  for (const line of boundedSettings(m.spec, config).clamped) {
    d.events.push({ on: "migration", type: "Warning", reason: "Clamped", message: line });
  }
  d.requeueAfterMs = 0;
  return d;
}

function scheduling(input: MigrationDecideInput, d: MigrationDecision): MigrationDecision {
  const { migration: m, vm, targetPod: target, sourcePod: source, now, config } = input;
  if (!vm) return fail(input, d, "VMNotFound", "the VM is gone");
  const other = heldByOther(input);
  if (other) {
    return fail(
      input,
      d,
      "MigrationInProgress",
      `VM ${m.spec.vmName} is already being migrated by ${other}`,
    );
  }
  if (!source || isTerminal(source) || vm.status?.launcherPod !== source.name) {
    return fail(input, d, "SourceFailed", `source pod ${m.status?.sourcePod} is gone`);
  }
  if (vm.status?.migration?.name !== m.metadata.name) {
    // Admitted, but the claim on the VM did not land (conflict, operator restart): again.
    d.actions.push({ type: "writeVm", write: { phase: "Scheduling", claim: true } });
    d.requeueAfterMs = SHORT_WAIT_MS;
    return d;
  }
  const age = now.getTime() - Date.parse(m.status?.startTime ?? "");
  const late = Number.isFinite(age) && age > config.targetScheduleTimeoutMs;
  const within = `within ${Math.round(config.targetScheduleTimeoutMs / 1000)} s`;
  if (!target) {
    if (late) return fail(input, d, "SchedulingTimeout", `target pod never appeared ${within}`);
    d.actions.push({ type: "createTarget" });
    d.events.push({
      on: "migration",
      type: "Normal",
      reason: "TargetPodCreated",
      message: `creating target pod ${m.status?.targetPod}`,
    });
    d.requeueAfterMs = SHORT_WAIT_MS;
    return d;
  }
  if (isTerminal(target)) {
    return fail(input, d, "TargetFailed", `target pod ${target.name} ended before use`);
  }
  if (late) {
    return target.unschedulable
      ? fail(
          input,
          d,
          "TargetUnschedulable",
          `target pod ${target.name} cannot be scheduled: ${target.unschedulable}`,
        )
      : fail(
          input,
          d,
          "SchedulingTimeout",
          `target pod ${target.name} was not waiting for the guest ${within}`,
        );
  }
  const launcher = input.targetLauncher;
  if (target.stage !== "Running" || !target.podIP || launcher?.phase !== "WaitingForMigration") {
    d.requeueAfterMs = SHORT_WAIT_MS;
    return d;
  }
  if (vm.status?.acceleration && launcher.acceleration !== vm.status.acceleration) {
    return fail(
      input,
      d,
      "AcceleratorMismatch",
      `the guest runs under ${vm.status.acceleration} but node ${target.nodeName} offers ${launcher.acceleration}`,
    );
  }
  Object.assign(d.status, { phase: "TargetReady", targetNode: target.nodeName });
  d.events.push({
    on: "migration",
    type: "Normal",
    reason: "TargetReady",
    message: `target pod ${target.name} on ${target.nodeName} waits for the guest`,
  });
  d.requeueAfterMs = 0;
  return d;
}

/** Running is written before the source is told: after a restart, Running means "ask the source". */
function targetReady(input: MigrationDecideInput, d: MigrationDecision): MigrationDecision {
  if (!input.vm) return fail(input, d, "VMNotFound", "the VM is gone");
  const target = input.targetPod;
  if (!target || isTerminal(target)) {
    return fail(
      input,
      d,
      "TargetFailed",
      `target pod ${input.migration.status?.targetPod} ended before use`,
    );
  }
  d.status.phase = "Running";
  d.actions.push({ type: "writeVm", write: { phase: "Running" } });
  d.actions.push({ type: "startMigration", settings: startSettings(input) });
  d.requeueAfterMs = input.config.pollMs;
  return d;
}

/** What the source is asked to do, within the admin's bounds. */
export function startSettings(input: MigrationDecideInput): StartSettings {
  const { migration: m, vm, config } = input;
  const bounded = boundedSettings(m.spec, config);
  return {
    postCopy: m.spec.allowPostCopy ?? false,
    autoConverge: m.spec.allowAutoConverge ?? false,
    ...(bounded.bandwidthBytesPerSec !== undefined
      ? { bandwidthBytesPerSec: bounded.bandwidthBytesPerSec }
      : {}),
    completionMs: completionTimeoutMs(
      vm?.spec.memory.size ?? "1Gi",
      bounded.completionTimeoutPerGiB,
    ),
  };
}

/** Another migration that is not over holds the VM. */
function heldByOther(input: MigrationDecideInput): string | undefined {
  const claim = input.vm?.status?.migration;
  if (!claim || claim.name === input.migration.metadata.name) return undefined;
  return claim.phase === "Succeeded" || claim.phase === "Failed" ? undefined : claim.name;
}

// ---- endings ----

const alive = (p?: ObservedPod): p is ObservedPod => p !== undefined && !isTerminal(p);

/** Delete `pod` at once unless it is already gone or going. */
export function killPod(
  d: MigrationDecision,
  role: "source" | "target",
  pod: ObservedPod | undefined,
  why: string,
) {
  if (!alive(pod) || pod.terminating) return;
  d.actions.push({ type: "deletePod", role, name: pod.name, uid: pod.uid, graceSeconds: 0, why });
}

/**
 * The migration ends without moving the guest: it stays on the source, or is gone with it
 * (the VM reconciler then restarts it per runStrategy). The target is killed at once —
 * it never runs the guest as far as the VM is concerned — and the VM is released after.
 */
export function fail(
  input: MigrationDecideInput,
  d: MigrationDecision,
  reason: string,
  message: string,
  opts: { killSource?: boolean } = {},
): MigrationDecision {
  const { migration: m, vm, now } = input;
  const name = m.metadata.name ?? "";
  Object.assign(d.status, {
    phase: "Failed",
    reason,
    message,
    endTime: rfc3339(now),
    startTime: m.status?.startTime ?? rfc3339(now),
  } satisfies VirtualMachineMigrationStatus);
  d.status.conditions = clearCondition(d.status.conditions, COND_ABORTING, now);
  killPod(d, "target", input.targetPod, `migration ${name} failed: ${reason}`);
  if (opts.killSource) killPod(d, "source", input.sourcePod, `migration ${name} failed: ${reason}`);
  if (vm?.status?.migration?.name === name)
    d.actions.push({ type: "writeVm", write: { phase: "Failed" } });
  d.events.push({ on: "migration", type: "Warning", reason, message });
  if (vm)
    d.events.push({
      on: "vm",
      type: "Warning",
      reason: "MigrationFailed",
      message: `${name}: ${reason}: ${message}`,
    });
  d.requeueAfterMs = 0;
  return d;
}

/** The guest runs on the target, and the source confirmed it left: the VM follows it. */
export function succeed(
  input: MigrationDecideInput,
  d: MigrationDecision,
  target: ObservedPod,
): MigrationDecision {
  const { migration: m, vm, now } = input;
  const name = m.metadata.name ?? "";
  const source = input.source ?? input.lastSource;
  const downtime = downtimeMs(source, input.target);
  const total = totalTimeMs(m, source, now);
  Object.assign(d.status, {
    phase: "Succeeded",
    targetNode: target.nodeName ?? m.status?.targetNode,
    endTime: rfc3339(now),
    ...(downtime !== undefined ? { downtimeMs: Math.round(downtime) } : {}),
    ...(total !== undefined ? { totalTimeMs: Math.round(total) } : {}),
    ...progressOf(source),
    reason: "Succeeded",
    message: `the guest runs in ${target.name} on ${target.nodeName}`,
  } satisfies VirtualMachineMigrationStatus);
  d.status.conditions = clearCondition(d.status.conditions, COND_ABORTING, now);
  if (vm?.status?.migration?.name === name) {
    d.actions.push({ type: "writeVm", write: { phase: "Succeeded", switchTo: target } });
  }
  const summary = `moved from ${m.status?.sourceNode} to ${target.nodeName}: downtime ${downtime !== undefined ? Math.round(downtime) : "?"} ms, total ${total !== undefined ? Math.round(total) : "?"} ms`;
  d.events.push({ on: "migration", type: "Normal", reason: "Succeeded", message: summary });
  if (vm)
    d.events.push({ on: "vm", type: "Normal", reason: "Migrated", message: `${name}: ${summary}` });
  d.requeueAfterMs = 0;
  return d;
}

/**
 * An ended migration: make its effects complete (the VM switched or released, a failed
 * target removed), then let the object go.
 */
function settle(input: MigrationDecideInput, d: MigrationDecision, phase: "Succeeded" | "Failed") {
  const { migration: m, vm } = input;
  const name = m.metadata.name ?? "";
  if (phase === "Failed") killPod(d, "target", input.targetPod, `migration ${name} failed`);
  const claim = vm?.status?.migration;
  if (claim?.name === name && claim.phase !== phase) {
    // The write after the status was lost with an operator: redo it.
    const target = input.targetPod;
    const switchTo =
      phase === "Succeeded" && target && vm?.status?.launcherPod !== target.name
        ? target
        : undefined;
    d.actions.push({ type: "writeVm", write: { phase, ...(switchTo ? { switchTo } : {}) } });
  }
  if (m.metadata.finalizers?.includes(MIGRATION_FINALIZER))
    d.actions.push({ type: "removeFinalizer" });
  return d;
}

// ---- helpers shared with decide-running.ts ----

export function progressOf(
  source?: LauncherMigrationState,
): Partial<VirtualMachineMigrationStatus> {
  if (!source) return {};
  const progress: NonNullable<VirtualMachineMigrationStatus["progress"]> = {};
  if (source.dataTotalBytes !== undefined)
    progress.dataTotalBytes = Math.round(source.dataTotalBytes);
  if (source.dataProcessedBytes !== undefined)
    progress.dataProcessedBytes = Math.round(source.dataProcessedBytes);
  if (source.dataRemainingBytes !== undefined)
    progress.dataRemainingBytes = Math.round(source.dataRemainingBytes);
  return { progress };
}

/**
 * The source's own clock (mirroring disks plus `migrate` to completion) when it said;
 * otherwise the time since the migration was admitted.
 */
function totalTimeMs(
  m: VirtualMachineMigration,
  source: LauncherMigrationState | undefined,
  now: Date,
): number | undefined {
  if (source?.totalTimeMs !== undefined) return source.totalTimeMs + (source.diskCopyMs ?? 0);
  const start = Date.parse(m.status?.startTime ?? "");
  return Number.isFinite(start) ? now.getTime() - start : undefined;
}

/** Since when `type` has been True, per the status; undefined when it is not. */
export function trueSince(conditions: Condition[] | undefined, type: string): number | undefined {
  const c = findCondition(conditions, type);
  if (c?.status !== "True") return undefined;
  const at = Date.parse(c.lastTransitionTime ?? "");
  return Number.isFinite(at) ? at : undefined;
}

export function markCondition(
  conditions: Condition[] | undefined,
  type: string,
  reason: string,
  message: string,
  now: Date,
): Condition[] {
  return setCondition(conditions, { type, status: "True", reason, message }, now);
}

export function clearCondition(
  conditions: Condition[] | undefined,
  type: string,
  now: Date,
): Condition[] | undefined {
  const c = findCondition(conditions, type);
  if (!c || c.status === "False") return conditions;
  return setCondition(conditions, { type, status: "False", reason: c.reason, message: "" }, now);
}
