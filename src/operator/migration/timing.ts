import type { LauncherMigrationState } from "../../api/index.js";
import { quantityToBytes } from "../../api/quantity.js";

const GIB = 1024 ** 3;

/** completionTimeoutPerGiB × guest memory in GiB (at least one GiB's worth), in ms. */
export function completionTimeoutMs(memory: string | number, perGiBSeconds: number): number {
  const gib = Math.max(1, quantityToBytes(memory) / GIB);
  return Math.round(gib * perGiBSeconds * 1000);
}

/** The last time a migration's byte count moved, kept between passes. */
export interface ProgressMark {
  processed: number;
  atMs: number;
}

/** The new mark after seeing `processed` bytes at `nowMs`. */
export function advanceMark(
  mark: ProgressMark | undefined,
  processed: number,
  nowMs: number,
): ProgressMark {
  return mark && mark.processed === processed ? mark : { processed, atMs: nowMs };
}

export type Overrun = { reason: "CompletionTimeout" | "ProgressStalled"; message: string };

/** Whether a running migration has outlived its budget or stopped moving. */
export function overrun(
  state: LauncherMigrationState,
  mark: ProgressMark | undefined,
  nowMs: number,
  limits: { completionMs: number; progressMs: number },
): Overrun | undefined {
  const started = Date.parse(state.startedAt ?? "");
  if (Number.isFinite(started) && nowMs - started > limits.completionMs) {
    return {
      reason: "CompletionTimeout",
      message: `not completed within ${Math.round(limits.completionMs / 1000)} s`,
    };
  }
  if (mark && nowMs - mark.atMs > limits.progressMs) {
    return {
      reason: "ProgressStalled",
      message: `no data moved for ${Math.round((nowMs - mark.atMs) / 1000)} s`,
    };
  }
  return undefined;
}

/**
 * The guest's pause: the source stopping its vCPUs until the target resumed them (QEMU's
 * event clocks on both hosts), else QEMU's own downtime figure (0 on very fast migrations
 * in QEMU 7.2, so the event clocks come first).
 */
export function downtimeMs(
  source: LauncherMigrationState | undefined,
  target: LauncherMigrationState | undefined,
): number | undefined {
  if (source?.sourceStoppedAtMs !== undefined && target?.resumedAtMs !== undefined) {
    return Math.max(0, target.resumedAtMs - source.sourceStoppedAtMs);
  }
  return source?.qemuDowntimeMs;
}
