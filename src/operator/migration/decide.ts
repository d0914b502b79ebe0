import type { MigrationPhase } from "../../api/index.js";
import { pending, scheduling, targetReady } from "./decide-admit.js";
import { fail, settle } from "./decide-end.js";
import { decideRunning } from "./decide-running.js";
import {
  MIGRATION_FINALIZER,
  type MigrationDecideInput,
  type MigrationDecision,
} from "./decision.js";

export * from "./decision.js";

/**
 * The migration state machine as a pure function, the counterpart of vm/decide.ts:
 * (migration, VM, both launchers' answers, both pods, time, config, slot usage) → the
 * status the migration should have, the actions that move the world towards it, and the
 * Events. The executor (reconciler.ts) writes that status first, once, then acts. Whatever
 * a later pass must know (when the guest left the source, when an abort began) is in the
 * status, as conditions whose lastTransitionTime is the moment.
 */

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
