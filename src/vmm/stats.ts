import { readFile } from "node:fs/promises";
import type { QmpMigrationInfo } from "./migration-stats.js";
import type { BlockDeviceStats, BlockStats, CpuInfoFast } from "./qmp-commands.js";

/**
 * One QEMU's resource figures, for metrics: what QMP and /proc say, each part read with a
 * deadline and each optional (a part that failed or timed out is absent and named in
 * `errors`). Pure parsers first, then `sampleQemu`, the only part that does I/O.
 */
export interface QemuStats {
  /** QEMU's CPU time, all threads (vCPUs and emulation), in seconds. */
  cpu?: { userSeconds: number; systemSeconds: number };
  /** QEMU's resident set. */
  rssBytes?: number;
  /** Guest RAM QEMU was given (base plus hot-plugged). */
  guestMemoryBytes?: number;
  /** Per vCPU: the CPU time of its host thread (user + system), in seconds. */
  vcpus?: { index: number; seconds: number }[];
  /** Per disk (QEMU's block node name): cumulative I/O. */
  blocks?: { node: string; stats: BlockDeviceStats }[];
  /** While a migration is under way (QEMU's figures, bytes per second). */
  migration?: { status: string; transferRate?: number; dirtyRate?: number };
  /** Parts that could not be read this time: `blockstats: QMP … no reply within 1000 ms`. */
  errors: string[];
}

/** /proc reports times in USER_HZ ticks, 100 per second on every Linux ABI we run on. */
export const USER_HZ = 100;

/** A hostile QEMU could answer with huge lists; we never keep more than this many entries. */
export const MAX_ENTRIES = 64;

/**
 * `/proc/<pid>/stat` → user and system CPU seconds. The command name (field 2) is in
 * parentheses and may itself contain spaces or parentheses: fields are counted after the
 * last `)`.
 */
export function parseProcStat(text: string): { userSeconds: number; systemSeconds: number } {
  const rest = text.slice(text.lastIndexOf(")") + 2).split(" ");
  // rest[0] is field 3 (state); utime and stime are fields 14 and 15.
  const utime = Number(rest[11]);
  const stime = Number(rest[12]);
  if (!Number.isFinite(utime) || !Number.isFinite(stime)) {
    throw new Error(`unreadable /proc stat: ${text.slice(0, 80)}`);
  }
  return { userSeconds: utime / USER_HZ, systemSeconds: stime / USER_HZ };
}

/** `/proc/<pid>/status` → VmRSS in bytes. */
export function parseVmRss(text: string): number {
  const kb = /^VmRSS:\s+(\d+)\s+kB$/m.exec(text)?.[1];
  if (kb === undefined) throw new Error("no VmRSS in /proc status");
  return Number(kb) * 1024;
}

/**
 * `query-blockstats` → our disks by block node name. With `-blockdev` + `-device drive=`,
 * QEMU names a backend by its device (`qdev`) and, in 7.2, its root node; the device id is
 * `<node>-dev` (cmdline.ts). Entries without a node we can name are skipped.
 */
export function blocksByNode(entries: readonly BlockStats[]): QemuStats["blocks"] {
  const out: NonNullable<QemuStats["blocks"]> = [];
  for (const e of entries.slice(0, MAX_ENTRIES)) {
    const fromQdev = /\/machine\/peripheral\/([^/]+)-dev(?:\/|$)/.exec(e.qdev ?? "")?.[1];
    const node = e["node-name"] || fromQdev;
    if (node && e.stats) out.push({ node, stats: e.stats });
  }
  return out;
}

/** Thread ids → vCPU indexes, bounded. */
export function vcpuThreads(cpus: readonly CpuInfoFast[]): { index: number; tid: number }[] {
  return cpus
    .slice(0, MAX_ENTRIES)
    .filter((c) => Number.isInteger(c["thread-id"]) && c["thread-id"] > 0)
    .map((c) => ({ index: c["cpu-index"], tid: c["thread-id"] }));
}

/** Migration statuses during which rates mean something. */
const MOVING = new Set(["setup", "active", "pre-switchover", "device", "postcopy-active"]);

/**
 * `query-migrate` → transfer and dirty-page rates in bytes per second, while a migration
 * moves; undefined otherwise (no migration, or one that has ended).
 */
export function migrationRates(info: QmpMigrationInfo): QemuStats["migration"] {
  const status = info.status ?? "none";
  if (!MOVING.has(status)) return undefined;
  const ram = info.ram;
  const out: NonNullable<QemuStats["migration"]> = { status };
  // QEMU's mbps is megabits (10^6) per second.
  if (ram?.mbps !== undefined) out.transferRate = (ram.mbps * 1e6) / 8;
  if (ram?.["dirty-pages-rate"] !== undefined) {
    out.dirtyRate = ram["dirty-pages-rate"] * (ram["page-size"] ?? 4096);
  }
  return out;
}

/** What `sampleQemu` needs: the QEMU's pid and a bounded way to run QMP commands. */
export interface StatsSource {
  pid: number;
  query: {
    blockstats(timeoutMs: number): Promise<BlockStats[]>;
    cpus(timeoutMs: number): Promise<CpuInfoFast[]>;
    memory(timeoutMs: number): Promise<{ "base-memory": number; "plugged-memory"?: number }>;
    migration(timeoutMs: number): Promise<QmpMigrationInfo>;
  };
  /** Reads /proc files; injectable so parsing failures can be tested. */
  readProc?: (path: string) => Promise<string>;
}

/**
 * Everything at once, each part bounded by `timeoutMs` (the QMP client's own timeout; a
 * stuck QEMU costs one timeout, not one per part). Never throws.
 */
export async function sampleQemu(src: StatsSource, timeoutMs: number): Promise<QemuStats> {
  const read = src.readProc ?? ((p: string) => readFile(p, "utf8"));
  const stats: QemuStats = { errors: [] };
  const part = async (name: string, work: () => Promise<void>) => {
    try {
      await work();
    } catch (err) {
      stats.errors.push(`${name}: ${(err as Error).message}`);
    }
  };
  await Promise.all([
    part("cpu", async () => {
      stats.cpu = parseProcStat(await read(`/proc/${src.pid}/stat`));
    }),
    part("rss", async () => {
      stats.rssBytes = parseVmRss(await read(`/proc/${src.pid}/status`));
    }),
    part("memory", async () => {
      const m = await src.query.memory(timeoutMs);
      stats.guestMemoryBytes = m["base-memory"] + (m["plugged-memory"] ?? 0);
    }),
    part("blockstats", async () => {
      stats.blocks = blocksByNode(await src.query.blockstats(timeoutMs));
    }),
    part("vcpus", async () => {
      const threads = vcpuThreads(await src.query.cpus(timeoutMs));
      stats.vcpus = await Promise.all(
        threads.map(async ({ index, tid }) => {
          const t = parseProcStat(await read(`/proc/${src.pid}/task/${tid}/stat`));
          return { index, seconds: t.userSeconds + t.systemSeconds };
        }),
      );
    }),
    part("migration", async () => {
      const rates = migrationRates(await src.query.migration(timeoutMs));
      if (rates) stats.migration = rates;
    }),
  ]);
  return stats;
}
