import { hostPort } from "../util/net.js";
/**
 * Pure interpretation of QEMU's `query-migrate` answers. QEMU 7.2 sometimes reports
 * `total-time`/`downtime` as 0 on very fast migrations (and once garbage under post-copy), so
 * every figure from QEMU travels beside our own clock and neither replaces the other.
 */

/** The subset of QMP MigrationInfo we read. */
export interface QmpMigrationInfo {
  status?: string;
  "total-time"?: number;
  "expected-downtime"?: number;
  downtime?: number;
  "setup-time"?: number;
  "error-desc"?: string;
  ram?: {
    transferred: number;
    remaining: number;
    total: number;
    "dirty-sync-count"?: number;
    mbps?: number;
    /** Pages dirtied per second by the guest, and the page size, for the dirty rate. */
    "dirty-pages-rate"?: number;
    "page-size"?: number;
  };
  "socket-address"?: { type: string; host?: string; port?: string }[];
}

export interface MigrationProgress {
  /** QEMU's status: setup, active, pre-switchover, device, postcopy-active, completed, ... */
  status: string;
  /** Our clock: milliseconds since we issued `migrate`. */
  elapsedMs: number;
  totalBytes?: number;
  transferredBytes?: number;
  remainingBytes?: number;
  /** QEMU's figures (milliseconds), as reported; see the module comment. */
  qemuTotalTimeMs?: number;
  qemuDowntimeMs?: number;
  expectedDowntimeMs?: number;
  setupTimeMs?: number;
  /** Completed passes over RAM; ≥ 2 means the first full copy is done. */
  dirtySyncCount?: number;
  mbps?: number;
}

export const TERMINAL_STATUSES = new Set(["completed", "failed", "cancelled"]);

export function isTerminal(status: string): boolean {
  return TERMINAL_STATUSES.has(status);
}

export function progressFromQuery(info: QmpMigrationInfo, elapsedMs: number): MigrationProgress {
  const p: MigrationProgress = { status: info.status ?? "none", elapsedMs };
  if (info.ram) {
    p.totalBytes = info.ram.total;
    p.transferredBytes = info.ram.transferred;
    p.remainingBytes = info.ram.remaining;
    p.dirtySyncCount = info.ram["dirty-sync-count"];
    p.mbps = info.ram.mbps;
  }
  if (info["total-time"] !== undefined) p.qemuTotalTimeMs = info["total-time"];
  if (info.downtime !== undefined) p.qemuDowntimeMs = info.downtime;
  if (info["expected-downtime"] !== undefined) p.expectedDowntimeMs = info["expected-downtime"];
  if (info["setup-time"] !== undefined) p.setupTimeMs = info["setup-time"];
  return p;
}

/** The port QEMU actually listens on after `migrate-incoming` with port 0. */
export function listeningUri(info: QmpMigrationInfo): string | undefined {
  const addr = info["socket-address"]?.find((a) => a.type === "inet");
  return addr?.host && addr.port ? `tcp:${hostPort(addr.host, addr.port)}` : undefined;
}

/**
 * When to switch a pre-copy migration to post-copy: after the first full pass over RAM, if
 * RAM is still being dirtied faster than it is sent (more than one pass and not converging).
 */
export function shouldStartPostcopy(p: MigrationProgress): boolean {
  return p.status === "active" && (p.dirtySyncCount ?? 0) >= 2;
}

/**
 * How long the guest could not run, by QEMU's event clocks: the source stopping its vCPUs
 * until the target resumed them. Both events carry wall-clock timestamps of their host.
 */
export function guestPauseMs(sourceStoppedAtMs: number, targetResumedAtMs: number): number {
  return Math.max(0, targetResumedAtMs - sourceStoppedAtMs);
}
