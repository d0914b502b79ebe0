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

export interface RenderOptions {
  /** Width of the bar itself. */
  barWidth?: number;
  /** Terminal columns: the line is cut to fit, so a redraw never wraps. */
  columns?: number;
  /** Transfer rate measured between two samples (bytes/s), for the rate and time left. */
  bytesPerSecond?: number;
}

/** Pure: the transfer rate between two progress samples; undefined until there are two. */
export function transferRate(
  prev: { bytes: number; atMs: number } | undefined,
  next: { bytes: number; atMs: number },
): number | undefined {
  if (!prev || next.atMs <= prev.atMs || next.bytes < prev.bytes) return undefined;
  return ((next.bytes - prev.bytes) * 1000) / (next.atMs - prev.atMs);
}

/**
 * Pure: one line describing a migration: a bar with bytes transferred and remaining, rate
 * and time left while RAM is copied, then downtime and total time once done. Never longer
 * than `columns - 1`.
 */
export function renderMigration(
  name: string,
  status: VirtualMachineMigrationStatus | undefined,
  opts: RenderOptions = {},
): string {
  const line = migrationLine(name, status, opts);
  const max = opts.columns ? Math.max(10, opts.columns - 1) : Number.POSITIVE_INFINITY;
  return line.length <= max ? line : `${line.slice(0, max - 1)}…`;
}

function migrationLine(
  name: string,
  status: VirtualMachineMigrationStatus | undefined,
  opts: RenderOptions,
): string {
  const width = opts.barWidth ?? 30;
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
    const rate = opts.bytesPerSecond;
    const speed =
      rate && rate > 0
        ? `, ${formatBytes(rate)}/s, ${formatMs((remaining / rate) * 1000)} left`
        : "";
    return `[${bar}] ${String(Math.round(fraction * 100)).padStart(3)}%  ${formatBytes(done)} transferred, ${formatBytes(remaining)} remaining${speed}`;
  }
  const where =
    status?.sourceNode && status.targetNode ? ` (${status.sourceNode} → ${status.targetNode})` : "";
  return `migration ${name}: ${phase}${where}`;
}
