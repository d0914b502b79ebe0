import type { Condition } from "../../api/index.js";

export const CONDITION_READY = "Ready";
export const CONDITION_FAILURE = "Failure";
/**
 * Whether the operator can rely on the VM's launcher: True `Responding`; False with
 * `LauncherUnreachable`, `LauncherMisbehaving` (an answer that is not the launcher API's) or
 * `LauncherPodRefused` (a pod under a launcher name that the operator did not create).
 */
export const CONDITION_LAUNCHER = "Launcher";

export function removeCondition(conditions: Condition[] | undefined, type: string) {
  const kept = conditions?.filter((c) => c.type !== type);
  return kept && kept.length > 0 ? kept : undefined;
}
/**
 * True while the user has the guest paused (`kubectl vm pause`), from the launcher's
 * /status; False once it runs again; gone when no guest runs. The VM's phase stays
 * Running (the guest is alive, in one place): a paused VM is never restarted or replaced.
 */
export const CONDITION_PAUSED = "Paused";

/** Pure: the Paused condition after a launcher answer (undefined: no change to make). */
export function pausedCondition(
  conditions: Condition[] | undefined,
  launcherPhase: string | undefined,
  now: Date,
): Condition[] | undefined {
  if (launcherPhase === undefined) return conditions;
  const paused = launcherPhase === "Paused";
  // Never paused: no condition at all, so status stays as it was before pausing existed.
  if (!paused && !findCondition(conditions, CONDITION_PAUSED)) return conditions;
  return setCondition(
    conditions,
    paused
      ? {
          type: CONDITION_PAUSED,
          status: "True",
          reason: "PausedByUser",
          message: "the guest's vCPUs are stopped",
        }
      : { type: CONDITION_PAUSED, status: "False", reason: "Running", message: "" },
    now,
  );
}

/** Whether the VM can live-migrate (its disks), set by the VM reconciler only. */
export const CONDITION_MIGRATABLE = "Migratable";

export function findCondition(conditions: Condition[] | undefined, type: string) {
  return conditions?.find((c) => c.type === type);
}

/**
 * Conditions with `next` put in place of the one of its type. lastTransitionTime moves only
 * when the status flips, as metav1.Condition requires; a changed reason or message alone
 * keeps the old time.
 */
export function setCondition(
  conditions: Condition[] | undefined,
  next: Omit<Condition, "lastTransitionTime">,
  now: Date,
): Condition[] {
  const list = conditions ?? [];
  const old = findCondition(list, next.type);
  const lastTransitionTime =
    old && old.status === next.status && old.lastTransitionTime
      ? old.lastTransitionTime
      : rfc3339(now);
  const merged: Condition = { ...next, lastTransitionTime };
  return old ? list.map((c) => (c.type === next.type ? merged : c)) : [...list, merged];
}

/** RFC 3339 with whole seconds, the form metav1.Time serialises to. */
export function rfc3339(date: Date): string {
  return `${date.toISOString().slice(0, 19)}Z`;
}
