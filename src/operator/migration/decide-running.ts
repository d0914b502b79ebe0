import type { Condition, LauncherMigrationState } from "../../api/index.js";
import { findCondition } from "../vm/conditions.js";
import { isTerminal, type ObservedPod } from "../vm/observe.js";
import { fail, succeed } from "./decide-end.js";
import {
  CANCEL_RECHECK_MS,
  COND_ABORTING,
  COND_LEFT_SOURCE,
  COND_SOURCE_SILENT,
  clearCondition,
  killPod,
  type MigrationDecideInput,
  type MigrationDecision,
  markCondition,
  progressOf,
  startSettings,
  trueSince,
} from "./decision.js";
import { overrun } from "./timing.js";

/**
 * A migration in Running: the source was (or is about to be) told to send the guest. The
 * invariant — the guest never runs twice and is never silently lost — rests on one rule:
 * the VM switches to the target only when the *source* confirms the guest left it (its
 * launcher says Succeeded, its pod exited `Migrated`, or post-copy is past the switch-over),
 * and the target then runs it. Never on the target's word alone.
 */

/** QEMU statuses on the source once post-copy runs: the guest executes on the target. */
const POSTCOPY: ReadonlySet<string> = new Set([
  "postcopy-active",
  "postcopy-paused",
  "postcopy-recover",
  "postcopy-recover-setup",
]);
/** A post-copy migration whose peer was lost: the guest's memory is split, nothing runs it. */
const POSTCOPY_PAUSED = "postcopy-paused";

interface Abort {
  reason: string;
  message: string;
  since: number;
}

const alive = (p?: ObservedPod): p is ObservedPod => p !== undefined && !isTerminal(p);

/** The source's own word that the guest left it. */
export function sourceConfirmsLeft(
  source: LauncherMigrationState | undefined,
  sourcePod: ObservedPod | undefined,
): string | undefined {
  if (source?.phase === "Succeeded") return "the source launcher reports the migration Succeeded";
  if (source?.phase === "Migrating" && POSTCOPY.has(source.qemuStatus ?? "")) {
    return `post-copy is past the switch-over (${source.qemuStatus})`;
  }
  if (sourcePod?.exit?.reason === "Migrated") return `source pod ${sourcePod.name} exited Migrated`;
  return undefined;
}

export function decideRunning(
  input: MigrationDecideInput,
  d: MigrationDecision,
): MigrationDecision {
  const { migration: m, source, now } = input;
  const conditions = m.status?.conditions;
  if (source) Object.assign(d.status, progressOf(source));

  const recorded = trueSince(conditions, COND_LEFT_SOURCE);
  const confirmed = sourceConfirmsLeft(source, input.sourcePod);
  if (recorded !== undefined || confirmed) {
    if (recorded === undefined) {
      d.status.conditions = markCondition(
        d.status.conditions,
        COND_LEFT_SOURCE,
        "SourceConfirmed",
        confirmed ?? "",
        now,
      );
    }
    return afterLeft(input, d, recorded ?? now.getTime());
  }

  // The source cannot be asked while its pod lives: note since when (a deadline needs it).
  const silent = !source && alive(input.sourcePod);
  d.status.conditions = silent
    ? trueSince(conditions, COND_SOURCE_SILENT) !== undefined
      ? d.status.conditions
      : markCondition(
          d.status.conditions,
          COND_SOURCE_SILENT,
          "NoAnswer",
          "the source launcher does not answer",
          now,
        )
    : clearCondition(d.status.conditions, COND_SOURCE_SILENT, now);

  const abort = abortOf(conditions) ?? newAbort(input, d);
  return abort ? aborting(input, d, abort) : proceed(input, d);
}

/** The guest left the source: it runs on the target, or it is lost. */
function afterLeft(input: MigrationDecideInput, d: MigrationDecision, leftAt: number) {
  const { source, target, targetPod, now, config } = input;
  const targetDead = targetLost(input);
  const arrived = target?.phase === "Succeeded" || (!target && targetPod?.ready === true);
  if (!targetDead && arrived && targetPod && !targetPod.terminating)
    return succeed(input, d, targetPod);
  if (targetDead) {
    const why = target?.error ?? targetGoneMessage(targetPod);
    return fail(
      input,
      d,
      "TargetLost",
      `the guest left the source but the target is lost: ${why}`,
      {
        killSource: true,
      },
    );
  }
  if (source?.qemuStatus === POSTCOPY_PAUSED) {
    return fail(
      input,
      d,
      "PostCopyPaused",
      "post-copy paused after losing its peer: the guest's memory is split between the pods and cannot be resumed",
      { killSource: true },
    );
  }
  // On its way: bounded by the switch-over deadline (post-copy: the whole completion budget).
  const postcopy = POSTCOPY.has(source?.qemuStatus ?? "");
  const limit = postcopy
    ? Math.max(config.switchoverTimeoutMs, startSettings(input).completionMs)
    : config.switchoverTimeoutMs;
  if (now.getTime() - leftAt > limit) {
    return fail(
      input,
      d,
      "TargetLost",
      `the guest left the source but target pod ${targetPod?.name} did not confirm it runs it within ${Math.round(limit / 1000)} s`,
      { killSource: true },
    );
  }
  d.requeueAfterMs = config.pollMs;
  return d;
}

/** No reason to stop: start, follow, or take the source's verdict. */
function proceed(input: MigrationDecideInput, d: MigrationDecision): MigrationDecision {
  const { source, target, targetPod, sourcePod, config } = input;
  const targetDead = targetLost(input);
  if (source) {
    switch (source.phase) {
      case "None":
        if (targetDead) return fail(input, d, "TargetFailed", targetGoneMessage(targetPod));
        if (input.targetRefused) return fail(input, d, "TargetRefused", input.targetRefused);
        // Asking again is idempotent: an operator restarted mid-way learns what is under way.
        d.actions.push({ type: "startMigration", settings: startSettings(input) });
        d.requeueAfterMs = config.pollMs;
        return d;
      case "Migrating":
      case "Listening":
        d.requeueAfterMs = config.pollMs;
        return d;
      case "Failed":
      case "Cancelled": {
        const said = source.error ?? `the source reports the migration ${source.phase}`;
        if (target?.phase === "Succeeded") {
          // Both would run the guest: the source resumed it. The target goes, at once.
          return fail(
            input,
            d,
            "MigrationFailed",
            `${said}; the target also started the guest and was killed`,
          );
        }
        if (targetDead) {
          return fail(input, d, "TargetFailed", `${targetGoneMessage(targetPod)}; ${said}`);
        }
        return fail(input, d, source.phase === "Cancelled" ? "Cancelled" : "MigrationFailed", said);
      }
      case "Succeeded":
        // Handled by afterLeft; kept for exhaustiveness.
        d.requeueAfterMs = config.pollMs;
        return d;
    }
  }
  if (alive(sourcePod)) {
    d.requeueAfterMs = config.pollMs;
    return d;
  }
  // The source is gone without saying the guest left: the guest went with it.
  return fail(input, d, "SourceFailed", sourceGoneMessage(sourcePod));
}

/** Why this migration must stop now, if it must (and it has not started stopping). */
function newAbort(input: MigrationDecideInput, d: MigrationDecision): Abort | undefined {
  const { migration: m, vm, source, targetPod, now, config } = input;
  let cause: { reason: string; message: string } | undefined;
  const sending = source?.phase === "Migrating" || source?.phase === "Listening";
  if (m.metadata.deletionTimestamp) {
    cause = { reason: "Deleted", message: "the migration was deleted; cancelled" };
  } else if (!vm) {
    cause = { reason: "VMNotFound", message: "the VM is gone" };
  } else if (sending && targetLost(input)) {
    cause = { reason: "TargetFailed", message: targetGoneMessage(targetPod) };
  } else if (sending && source) {
    cause = overrun(source, input.progressMark, now.getTime(), {
      completionMs: startSettings(input).completionMs,
      progressMs: config.progressTimeoutMs,
    });
  } else if (!source && alive(input.sourcePod)) {
    const since = trueSince(m.status?.conditions, COND_SOURCE_SILENT);
    if (since !== undefined && now.getTime() - since > config.sourceSilenceTimeoutMs) {
      cause = {
        reason: "SourceUnreachable",
        message: `the source launcher has not answered for ${Math.round((now.getTime() - since) / 1000)} s`,
      };
    }
  }
  if (!cause) return undefined;
  d.status.conditions = markCondition(
    d.status.conditions,
    COND_ABORTING,
    cause.reason,
    cause.message,
    now,
  );
  d.events.push({
    on: "migration",
    type: "Normal",
    reason: "Cancelling",
    message: `${cause.reason}: ${cause.message}`,
  });
  return { ...cause, since: now.getTime() };
}

function abortOf(conditions: Condition[] | undefined): Abort | undefined {
  const since = trueSince(conditions, COND_ABORTING);
  const c = findCondition(conditions, COND_ABORTING);
  return since !== undefined && c
    ? { reason: c.reason ?? "Cancelled", message: c.message ?? "", since }
    : undefined;
}

/**
 * Ending early without losing the guest: cancel where it may be on its way (never awaited:
 * the next pass looks); a source that does not carry the cancel out within the grace has
 * its stream cut by killing the target, which fails the migration on the source, where the
 * guest resumes.
 */
function aborting(input: MigrationDecideInput, d: MigrationDecision, abort: Abort) {
  const { source, sourcePod, targetPod, now, config } = input;
  const overdue = now.getTime() - abort.since > config.cancelGraceMs;
  if (source?.phase === "None") return fail(input, d, abort.reason, abort.message);
  if (source?.phase === "Failed" || source?.phase === "Cancelled") {
    const said = source.error ?? `the source reports the migration ${source.phase}`;
    return fail(input, d, abort.reason, `${abort.message}; ${said}`);
  }
  if (!source && !alive(sourcePod)) {
    return fail(input, d, abort.reason, `${abort.message}; ${sourceGoneMessage(sourcePod)}`);
  }
  if (!source && !alive(targetPod)) {
    // The stream is cut; the guest stays on the (silent) source.
    return fail(input, d, abort.reason, abort.message);
  }
  if (source) d.actions.push({ type: "cancel" });
  if (overdue)
    killPod(
      d,
      "target",
      targetPod,
      `the cancel was not carried out within ${Math.round(config.cancelGraceMs / 1000)} s`,
    );
  d.requeueAfterMs = CANCEL_RECHECK_MS;
  return d;
}

/** The target cannot run the guest: its pod ended or is gone, or its launcher gave up. */
function targetLost({ target, targetPod }: MigrationDecideInput): boolean {
  return !alive(targetPod) || target?.phase === "Failed" || target?.phase === "Cancelled";
}

function targetGoneMessage(pod?: ObservedPod): string {
  if (!pod) return "the target pod is gone";
  const why = pod.exit?.message ?? pod.exit?.reason ?? pod.failureReason ?? pod.stage;
  return `target pod ${pod.name} ended: ${why}`;
}

function sourceGoneMessage(pod?: ObservedPod): string {
  if (!pod) return "the source pod is gone";
  const why = pod.exit?.reason ?? pod.failureReason ?? "no reason";
  return `source pod ${pod.name} ended: ${why}${pod.exit?.message ? ` (${pod.exit.message})` : ""}`;
}
