import type {
  Condition,
  LauncherMigrationState,
  LauncherStatus,
  MigrationPhase,
  VirtualMachine,
  VirtualMachineMigration,
  VirtualMachineMigrationStatus,
} from "../../api/index.js";
import { findCondition, setCondition } from "../vm/conditions.js";
import { isTerminal, type ObservedPod } from "../vm/observe.js";
import type { MigrationConfig } from "./config.js";
import { boundedSettings, type SlotUse } from "./limits.js";
import type { Migratability } from "./migratable.js";
import { completionTimeoutMs, type ProgressMark } from "./timing.js";

/** The vocabulary of the migration state machine (decide.ts): its input, actions, helpers. */

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
  /** The target pod whose UID this migration recorded; no other pod is ever used. */
  targetPod?: ObservedPod;
  /** Name and UID of a pod under the target name that is not the recorded one. */
  targetPodRefused?: string;
  /** Pending only: whether the VM's disks let it move (its claims read live). */
  migratable?: Migratability;
  /** Every migration's phase and source node, for the parallel limits. */
  slots: readonly SlotUse[];
  /**
   * The target answered its listen request naming another place than its own pod IP (kept
   * by the executor, which then sent nothing): the guest must never go there.
   */
  targetRefused?: string;
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
  /** POST /start to the recorded target pod, waiting at its start gate. */
  | { type: "startTarget" }
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
