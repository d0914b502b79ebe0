import type { VirtualMachineMigrationStatus } from "../../api/migration.js";

/** Pure: bytes for people: 1023 B, 1.5 KiB, 12.0 MiB. */
export function formatBytes(n: number): string {
  const units = ["B", "KiB", "MiB", "GiB", "TiB"];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}

/** Pure: milliseconds for people: 850 ms, 3.2 s. */
export function formatMs(ms: number): string {
  return ms < 1000 ? `${Math.round(ms)} ms` : `${(ms / 1000).toFixed(1)} s`;
}

/**
 * Pure: one line describing a migration: a bar with bytes transferred and remaining while
 * RAM is copied, then downtime and total time once done.
 */
export function renderMigration(
  name: string,
  status: VirtualMachineMigrationStatus | undefined,
  width = 30,
): string {
  const phase = status?.phase ?? "Pending";
  if (phase === "Succeeded") {
    const parts = [
      status?.downtimeMs !== undefined ? `downtime ${formatMs(status.downtimeMs)}` : undefined,
      status?.totalTimeMs !== undefined ? `total ${formatMs(status.totalTimeMs)}` : undefined,
      status?.targetNode ? `now on ${status.targetNode}` : undefined,
    ].filter(Boolean);
    return `migration ${name} Succeeded${parts.length ? `: ${parts.join(", ")}` : ""}`;
  }
  if (phase === "Failed") {
    const why = [status?.reason, status?.message].filter(Boolean).join(": ");
    return `migration ${name} Failed${why ? `: ${why}` : ""}`;
  }
  const p = status?.progress;
  if (phase === "Running" && p?.dataTotalBytes) {
    const done = p.dataProcessedBytes ?? 0;
    const remaining = p.dataRemainingBytes ?? Math.max(0, p.dataTotalBytes - done);
    const fraction = Math.min(1, Math.max(0, 1 - remaining / p.dataTotalBytes));
    const filled = Math.round(fraction * width);
    const bar = `${"=".repeat(Math.max(0, filled - 1))}${filled > 0 ? ">" : ""}${" ".repeat(width - filled)}`;
    return `[${bar}] ${String(Math.round(fraction * 100)).padStart(3)}%  ${formatBytes(done)} transferred, ${formatBytes(remaining)} remaining`;
  }
  const where =
    status?.sourceNode && status.targetNode ? ` (${status.sourceNode} → ${status.targetNode})` : "";
  return `migration ${name}: ${phase}${where}`;
}
