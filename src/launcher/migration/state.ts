import type { LauncherMigrationState } from "../../api/launcher-migration.js";
import type { MigrationOutcome, MigrationProgress } from "../../vmm/index.js";

/** The progress fields of a launcher's migration state from one of QEMU's samples. */
export function progressFields(p: MigrationProgress): Partial<LauncherMigrationState> {
  const fields: Partial<LauncherMigrationState> = { qemuStatus: p.status };
  if (p.totalBytes !== undefined) fields.dataTotalBytes = p.totalBytes;
  if (p.transferredBytes !== undefined) fields.dataProcessedBytes = p.transferredBytes;
  if (p.remainingBytes !== undefined) fields.dataRemainingBytes = p.remainingBytes;
  return fields;
}

/** The source's state once QEMU has reported a terminal status. */
export function endFields(
  outcome: MigrationOutcome,
  endedAt: Date,
): Partial<LauncherMigrationState> {
  const fields: Partial<LauncherMigrationState> = {
    ...progressFields(outcome.final),
    phase:
      outcome.status === "completed"
        ? "Succeeded"
        : outcome.status === "cancelled"
          ? "Cancelled"
          : "Failed",
    endedAt: endedAt.toISOString(),
    totalTimeMs: outcome.totalMs,
  };
  if (outcome.final.qemuDowntimeMs !== undefined) {
    fields.qemuDowntimeMs = outcome.final.qemuDowntimeMs;
  }
  if (outcome.diskCopyMs !== undefined) fields.diskCopyMs = outcome.diskCopyMs;
  if (outcome.sourceStoppedAtMs !== undefined) fields.sourceStoppedAtMs = outcome.sourceStoppedAtMs;
  if (outcome.error) fields.error = outcome.error;
  return fields;
}

/** One line for logs, Events and the Migrated termination message. */
export function describeEnd(state: LauncherMigrationState): string {
  const parts = [`migration ${state.phase.toLowerCase()}`];
  if (state.migrationUri) parts.push(`to ${state.migrationUri}`);
  const figures = [
    state.totalTimeMs !== undefined ? `total ${Math.round(state.totalTimeMs)} ms` : undefined,
    state.qemuDowntimeMs !== undefined ? `downtime ${state.qemuDowntimeMs} ms` : undefined,
  ].filter(Boolean);
  if (figures.length) parts.push(`(${figures.join(", ")})`);
  if (state.error) parts.push(`: ${state.error}`);
  return parts.join(" ");
}
