import type { LauncherMigrationState } from "../../api/index.js";
import { isTerminal, type ObservedPod } from "../vm/observe.js";

/**
 * The decisions that guard the invariant — a guest never runs twice and is never lost —
 * as pure functions of what the operator can see: each launcher's own account of the
 * migration (undefined when it cannot be asked) and the two pods.
 */
export interface Sides {
  source?: LauncherMigrationState;
  sourcePod?: ObservedPod;
  target?: LauncherMigrationState;
  targetPod?: ObservedPod;
}

export type Step =
  /** The source has not been asked yet (or forgot nothing: asking again is idempotent). */
  | { kind: "start" }
  | { kind: "progress" }
  /** The guest runs on the target: switch the VM over. */
  | { kind: "succeed" }
  /** Call the guest back: cancel on the source, then look again. */
  | { kind: "cancel"; reason: string; message: string }
  /** The guest runs on the source (or is gone with it): the target may be removed. */
  | { kind: "fail"; reason: string; message: string }
  /** Nothing can be known for sure yet; acting on a guess could lose or double the guest. */
  | { kind: "wait"; why: string };

const alive = (p?: ObservedPod) => p !== undefined && !isTerminal(p);

/** Did the guest arrive? The target's own word, else its pod turning Ready. */
function arrived(s: Sides): boolean | undefined {
  if (s.target?.phase === "Succeeded") return true;
  if (s.target) return false;
  return s.targetPod?.ready && alive(s.targetPod) ? true : undefined;
}

/** Where a running migration stands. */
export function runningStep(s: Sides): Step {
  if (s.target?.phase === "Succeeded") return { kind: "succeed" };
  const targetGone = !alive(s.targetPod);
  if (s.source) {
    switch (s.source.phase) {
      case "None":
        return targetGone
          ? { kind: "fail", reason: "TargetFailed", message: targetGoneMessage(s.targetPod) }
          : { kind: "start" };
      case "Migrating":
      case "Listening":
        return targetGone
          ? { kind: "cancel", reason: "TargetFailed", message: targetGoneMessage(s.targetPod) }
          : { kind: "progress" };
      case "Succeeded":
        return arrived(s)
          ? { kind: "succeed" }
          : { kind: "wait", why: "the source finished; waiting for the target to run the guest" };
      case "Failed":
      case "Cancelled": {
        const said = s.source.error ?? `the source reports the migration ${s.source.phase}`;
        // A dead target is the cause: the source failed on the broken stream, or was
        // cancelled by us because of it (the cancel's own pass may not be the one that ends).
        if (targetGone) {
          return {
            kind: "fail",
            reason: "TargetFailed",
            message: `${targetGoneMessage(s.targetPod)}; ${said}`,
          };
        }
        return {
          kind: "fail",
          reason: s.source.phase === "Cancelled" ? "Cancelled" : "MigrationFailed",
          message: said,
        };
      }
    }
  }
  // The source cannot be asked.
  if (alive(s.sourcePod)) return { kind: "wait", why: "the source launcher does not answer" };
  if (s.sourcePod?.exit?.reason === "Migrated") {
    return arrived(s)
      ? { kind: "succeed" }
      : { kind: "wait", why: "the source says the guest left; waiting for the target" };
  }
  if (arrived(s)) return { kind: "succeed" };
  return {
    kind: "fail",
    reason: "SourceFailed",
    message: s.sourcePod
      ? `source pod ${s.sourcePod.name} ended: ${s.sourcePod.exit?.reason ?? s.sourcePod.failureReason ?? "no reason"}${s.sourcePod.exit?.message ? ` (${s.sourcePod.exit.message})` : ""}`
      : "the source pod is gone",
  };
}

/**
 * The migration must end early (deleted, timed out, target failed). Cancel where the guest
 * may be on its way; never remove a target that may already run it.
 */
export function abortStep(s: Sides, reason: string, message: string): Step {
  const step = runningStep(s);
  switch (step.kind) {
    case "start":
      // Never asked: nothing to call back.
      return { kind: "fail", reason, message };
    case "progress":
      return { kind: "cancel", reason, message };
    case "fail":
      // The source's own verdict came first; keep the asked-for reason (deleted, timeout).
      return { kind: "fail", reason, message: `${message}; ${step.message}` };
    default:
      return step;
  }
}

function targetGoneMessage(pod?: ObservedPod): string {
  if (!pod) return "the target pod is gone";
  const why = pod.exit?.message ?? pod.exit?.reason ?? pod.failureReason ?? pod.stage;
  return `target pod ${pod.name} ended: ${why}`;
}
