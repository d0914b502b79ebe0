import type {
  LauncherMigrationState,
  VirtualMachineMigration,
  VirtualMachineMigrationStatus,
} from "../../api/index.js";
import { rfc3339 } from "../vm/conditions.js";
import type { ObservedPod } from "../vm/observe.js";
import {
  COND_ABORTING,
  clearCondition,
  killPod,
  MIGRATION_FINALIZER,
  type MigrationDecideInput,
  type MigrationDecision,
  progressOf,
} from "./decision.js";
import { downtimeMs } from "./timing.js";

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
export function settle(
  input: MigrationDecideInput,
  d: MigrationDecision,
  phase: "Succeeded" | "Failed",
) {
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
