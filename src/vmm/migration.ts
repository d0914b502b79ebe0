import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { hostPort } from "../util/net.js";
import { Channel } from "./channel.js";
import { diskNodeName } from "./cmdline.js";
import { guardIncoming, type IncomingGuard } from "./migration-guard.js";
import {
  isTerminal,
  listeningUri,
  type MigrationProgress,
  progressFromQuery,
  shouldStartPostcopy,
} from "./migration-stats.js";
import {
  installTls,
  nbdClientTls,
  nbdServerTls,
  plainMigrationParams,
  removeTls,
  type SourceTls,
  sourceMigrationParams,
  type TargetTls,
  type TlsIds,
} from "./migration-tls.js";
import type { MigrationCapability, QmpEvent } from "./qmp.js";
import type { Vm } from "./vm.js";

/**
 * Live migration between two QEMU processes over TCP. RAM and device state go through QEMU's
 * migration stream. Disks that are not shared storage are copied before the switch-over:
 * the target exports its (empty, same-size) disks over NBD, the source mirrors into them
 * (blockdev-mirror, write-blocking so guest writes reach both sides), and the migration
 * pauses before switch-over until every mirror has completed. QEMU 7.2 still has the old
 * `block` migration capability, but it is deprecated; NBD + mirror is what replaces it.
 *
 * With `tls` (migration-tls.ts) the RAM stream and every NBD connection use mutual TLS and
 * the target admits only the one source identity it was given: QEMU's own TLS for NBD and on
 * the source; on the target the RAM stream's TLS ends in migration-guard.ts, because QEMU
 * 7.2's incoming handshake blocks its main loop. Without `tls`, plaintext.
 */

/** Where a target receives copies of local disks. */
export interface NbdEndpoint {
  host: string;
  port: number;
}

export interface IncomingOptions {
  /** Address to listen on for the migration stream; port 0 picks a free one. */
  host: string;
  port: number;
  /** Must match the source's choice: both sides need the post-copy capability. */
  postcopy?: boolean;
  /** Disks (by index in GuestConfig.disks) to receive over NBD, and where to serve them. */
  receiveDisks?: { indexes: number[]; nbd: NbdEndpoint };
  /** Deadline for the whole incoming migration, from now. Default 10 minutes. */
  timeoutMs?: number;
  /** Mutual TLS for the stream and the NBD exports; only `tls.clientDn` may connect. */
  tls?: TargetTls;
  /** Told about each connection the TLS guard refused (for logs). */
  onRefused?: (why: string, remote: string | undefined) => void;
}

export interface IncomingOutcome {
  status: "completed" | "failed";
  error?: string;
  /** QEMU's timestamp (epoch ms) of the target's RESUME: when the guest ran here. */
  resumedAtMs?: number;
}

export interface IncomingMigration {
  /** What to give the source: the address QEMU actually listens on. */
  uri: string;
  outcome: Promise<IncomingOutcome>;
}

const exportId = (index: number) => `kv-mig-${diskNodeName(index)}`;
let incomingSockets = 0;
const tcpUri = (host: string, port: number) => `tcp:${hostPort(host, port)}`;

/** Put a VM started with `Vm.startIncoming` in listening state. */
export async function acceptMigration(vm: Vm, opts: IncomingOptions): Promise<IncomingMigration> {
  const qmp = vm.qmp;
  const capabilities: { capability: MigrationCapability; state: boolean }[] = [
    { capability: "events", state: true },
  ];
  if (opts.postcopy) capabilities.push({ capability: "postcopy-ram", state: true });
  await qmp.execute("migrate-set-capabilities", { capabilities });
  // QEMU itself receives plaintext on a private unix socket behind the guard (see
  // migration-guard.ts); its TLS objects serve the NBD exports.
  await qmp.execute("migrate-set-parameters", plainMigrationParams);
  const disks = opts.receiveDisks;
  const copying = disks !== undefined && disks.indexes.length > 0;
  const tls = opts.tls && copying ? await installTls(vm, "server", opts.tls) : undefined;
  if (copying) {
    await qmp.execute("nbd-server-start", {
      addr: { type: "inet", data: { host: disks.nbd.host, port: String(disks.nbd.port) } },
      ...(tls ? nbdServerTls(tls) : {}),
    });
    for (const i of disks.indexes) {
      // Exporting activates the not-yet-migrated image for writing; QEMU allows this exactly
      // for storage migration.
      await qmp.execute("block-export-add", {
        type: "nbd",
        id: exportId(i),
        "node-name": diskNodeName(i),
        name: diskNodeName(i),
        writable: true,
      });
    }
  }

  const resumed = qmp.waitForEvent("RESUME", { timeoutMs: opts.timeoutMs ?? 600_000 });
  resumed.catch(() => {});
  const failed = qmp.waitForEvent("MIGRATION", {
    timeoutMs: opts.timeoutMs ?? 600_000,
    match: (e) => e.data.status === "failed",
  });
  failed.catch(() => {});

  let uri: string;
  let guard: IncomingGuard | undefined;
  if (opts.tls) {
    const upstream = join(vm.runDir, `migration-in-${++incomingSockets}.sock`);
    await qmp.execute("migrate-incoming", { uri: `unix:${upstream}` });
    guard = await guardIncoming({
      host: opts.host,
      port: opts.port,
      tls: opts.tls,
      upstream,
      ...(opts.onRefused ? { onRefused: opts.onRefused } : {}),
    });
    uri = tcpUri(opts.host, guard.port);
  } else {
    await qmp.execute("migrate-incoming", { uri: tcpUri(opts.host, opts.port) });
    const info = await qmp.execute("query-migrate");
    uri = listeningUri(info) ?? tcpUri(opts.host, opts.port);
  }

  const outcome = (async (): Promise<IncomingOutcome> => {
    try {
      const first = await vm
        .untilExit(Promise.race([resumed, failed]), "during incoming migration")
        .catch((err: unknown) => {
          void guard?.close();
          throw err;
        });
      if (first.event !== "RESUME") {
        await guard?.close();
        return { status: "failed", error: "incoming migration failed" };
      }
      // The guest runs here; under post-copy its pages still arrive over the open stream.
      guard?.stopAccepting();
      // The guest runs here now: tidying up is best effort and never fails the migration.
      if (disks && disks.indexes.length > 0) {
        // "hard": the source may not have dropped its NBD connection yet; its mirror finished
        // before the switch-over, so nothing it could still send is wanted.
        for (const i of disks.indexes) {
          await qmp.execute("block-export-del", { id: exportId(i), mode: "hard" }).catch(() => {});
        }
        // No nbd-server-stop: QEMU 7.2 waits in it for every connection still negotiating,
        // and any pod can open one and say nothing (measured: no reply within 10 s). The
        // server stays up with no exports, behind TLS, until this QEMU ends.
      }
      return { status: "completed", resumedAtMs: first.timeMs };
    } catch (err) {
      return { status: "failed", error: (err as Error).message };
    }
  })();
  return { uri, outcome };
}

export interface MigrateOptions {
  /** The target's `IncomingMigration.uri`. */
  uri: string;
  /** Bytes/s. QEMU 7.2 defaults to 32 MiB/s, far below loopback or a data-centre network. */
  maxBandwidth?: number;
  /** Longest acceptable stop-and-copy phase, ms (QEMU default 300). */
  downtimeLimitMs?: number;
  /** Throttle the guest's vCPUs when RAM is dirtied faster than it can be sent. */
  autoConverge?: boolean;
  /** Switch to post-copy after the first full pass; the target must also have enabled it. */
  postcopy?: boolean;
  /** Mirror these disks (indexes in GuestConfig.disks) to the target's NBD exports first. */
  sendDisks?: { indexes: number[]; nbd: NbdEndpoint };
  /** How often to ask QEMU for progress. Default 100 ms. */
  pollIntervalMs?: number;
  /** Cancel when not finished after this long. Default 10 minutes. */
  timeoutMs?: number;
  /** Mutual TLS for the stream and the disk mirrors; the target must prove `serverName`. */
  tls?: SourceTls;
}

export interface MigrationOutcome {
  status: "completed" | "failed" | "cancelled";
  error?: string;
  /** The last progress sample: QEMU's totals, downtime and total time. */
  final: MigrationProgress;
  /** Our clock: `migrate` issued until QEMU reported a terminal state. */
  totalMs: number;
  /** Our clock: mirroring local disks before the migration stream started. */
  diskCopyMs?: number;
  /** QEMU's timestamp (epoch ms) of the source's STOP: the start of the guest's pause. */
  sourceStoppedAtMs?: number;
}

export const DEFAULT_MAX_BANDWIDTH = 10 * 1024 ** 3;

/**
 * A migration in flight from this VM. `progress` yields samples until the end; `outcome`
 * settles once (it never rejects). On failure or cancel QEMU resumes the source guest.
 */
export class OutgoingMigration {
  readonly progress = new Channel<MigrationProgress>();
  readonly outcome: Promise<MigrationOutcome>;
  private cancelRequested = false;

  constructor(
    private readonly vm: Vm,
    private readonly opts: MigrateOptions,
  ) {
    this.outcome = this.run();
  }

  async cancel(): Promise<void> {
    this.cancelRequested = true;
    await this.vm.qmp.execute("migrate_cancel");
  }

  /** Wait one poll interval, or less when QEMU announces a status change. */
  private async nextSample(intervalMs: number): Promise<void> {
    const qmp = this.vm.qmp;
    let wake: (() => void) | undefined;
    const changed = new Promise<void>((resolve) => {
      wake = resolve;
      qmp.once("event:MIGRATION", resolve);
    });
    const timer = sleep(intervalMs);
    await Promise.race([changed, timer]);
    if (wake) qmp.off("event:MIGRATION", wake);
  }

  private async run(): Promise<MigrationOutcome> {
    const qmp = this.vm.qmp;
    const o = this.opts;
    const started = Date.now();
    let last: MigrationProgress = { status: "setup", elapsedMs: 0 };
    let stoppedAt: number | undefined;
    let endedAt: number | undefined;
    const onStop = (e: QmpEvent<"STOP">) => {
      stoppedAt = e.timeMs;
    };
    const onMigration = (e: QmpEvent<"MIGRATION">) => {
      if (isTerminal(String(e.data.status))) endedAt = e.timeMs;
    };
    const offStop = qmp.onEvent("STOP", onStop);
    const offMigration = qmp.onEvent("MIGRATION", onMigration);
    const mirrors = o.sendDisks?.indexes ?? [];
    let diskCopyMs: number | undefined;
    const deadline = started + (o.timeoutMs ?? 600_000);
    let tls: TlsIds | undefined;
    try {
      tls = o.tls ? await installTls(this.vm, "client", o.tls) : undefined;
      await qmp.execute("migrate-set-capabilities", {
        capabilities: [
          { capability: "events", state: true },
          { capability: "auto-converge", state: o.autoConverge ?? false },
          { capability: "postcopy-ram", state: o.postcopy ?? false },
          { capability: "pause-before-switchover", state: mirrors.length > 0 },
        ],
      });
      await qmp.execute("migrate-set-parameters", {
        "max-bandwidth": o.maxBandwidth ?? DEFAULT_MAX_BANDWIDTH,
        "downtime-limit": o.downtimeLimitMs ?? 300,
        ...(tls && o.tls ? sourceMigrationParams(tls, o.tls.serverName) : plainMigrationParams),
      });
      if (mirrors.length > 0 && o.sendDisks) {
        const nbdTls = tls && o.tls ? nbdClientTls(tls, o.tls.serverName) : {};
        await startMirrors(this.vm, mirrors, o.sendDisks.nbd, nbdTls, deadline - Date.now());
        diskCopyMs = Date.now() - started;
      }
      const migrateIssued = Date.now();
      await qmp.execute("migrate", { uri: o.uri });
      let postcopyStarted = false;
      let switchedOver = false;
      for (;;) {
        const info = await qmp.execute("query-migrate");
        last = progressFromQuery(info, Date.now() - migrateIssued);
        this.progress.push(last);
        if (isTerminal(last.status)) {
          const status = last.status as MigrationOutcome["status"];
          return {
            status: this.cancelRequested && status !== "completed" ? "cancelled" : status,
            ...(info["error-desc"] ? { error: info["error-desc"] } : {}),
            final: last,
            // The event's timestamp, not our poll's: polling granularity is not migration time.
            totalMs: (endedAt ?? Date.now()) - migrateIssued,
            ...(diskCopyMs !== undefined ? { diskCopyMs } : {}),
            ...(stoppedAt !== undefined ? { sourceStoppedAtMs: stoppedAt } : {}),
          };
        }
        if (last.status === "pre-switchover" && !switchedOver) {
          // vCPUs are stopped: no more guest writes, so the mirrors can finish exactly.
          switchedOver = true;
          await completeMirrors(this.vm, mirrors, deadline - Date.now());
          await qmp.execute("migrate-continue", { state: "pre-switchover" });
        }
        if (o.postcopy && !postcopyStarted && shouldStartPostcopy(last)) {
          postcopyStarted = true;
          await qmp.execute("migrate-start-postcopy");
        }
        if (Date.now() > deadline && !this.cancelRequested) {
          this.cancelRequested = true;
          await qmp.execute("migrate_cancel");
        }
        await this.nextSample(o.pollIntervalMs ?? 100);
      }
    } catch (err) {
      if (!this.cancelRequested) await qmp.execute("migrate_cancel").catch(() => {});
      return {
        status: "failed",
        error: (err as Error).message,
        final: last,
        totalMs: Date.now() - started,
      };
    } finally {
      offStop();
      offMigration();
      await removeMirrors(this.vm, mirrors);
      await removeTls(this.vm, tls);
      this.progress.close();
    }
  }
}

/** Start migrating `vm` to a target prepared with `acceptMigration`. */
export function migrate(vm: Vm, opts: MigrateOptions): OutgoingMigration {
  return new OutgoingMigration(vm, opts);
}

const mirrorTarget = (index: number) => `kv-mig-${diskNodeName(index)}`;

/** One waiter per mirror job for `event`; a waiter that fails is observed by its caller. */
function mirrorEvents(
  vm: Vm,
  event: "BLOCK_JOB_READY" | "BLOCK_JOB_COMPLETED",
  indexes: number[],
  timeoutMs: number,
): Promise<QmpEvent<"BLOCK_JOB_READY" | "BLOCK_JOB_COMPLETED">>[] {
  const waits = indexes.map((i) =>
    vm.qmp.waitForEvent(event, {
      timeoutMs,
      match: (e) => e.data.device === mirrorTarget(i),
    }),
  );
  for (const w of waits) w.catch(() => {});
  return waits;
}

async function startMirrors(
  vm: Vm,
  indexes: number[],
  nbd: NbdEndpoint,
  tls: Record<string, string>,
  timeoutMs: number,
): Promise<void> {
  const qmp = vm.qmp;
  const ready = mirrorEvents(vm, "BLOCK_JOB_READY", indexes, timeoutMs);
  for (const i of indexes) {
    await qmp.execute("blockdev-add", {
      driver: "nbd",
      "node-name": mirrorTarget(i),
      server: { type: "inet", host: nbd.host, port: String(nbd.port) },
      export: diskNodeName(i),
      ...tls,
    });
    await qmp.execute("blockdev-mirror", {
      "job-id": mirrorTarget(i),
      device: diskNodeName(i),
      target: mirrorTarget(i),
      sync: "full",
      // Once in sync, every guest write completes on both sides: nothing is left to copy
      // when the guest stops for the switch-over.
      "copy-mode": "write-blocking",
    });
  }
  await vm.untilExit(Promise.all(ready), "while mirroring disks");
}

async function completeMirrors(vm: Vm, indexes: number[], timeoutMs: number): Promise<void> {
  const qmp = vm.qmp;
  const done = mirrorEvents(vm, "BLOCK_JOB_COMPLETED", indexes, timeoutMs);
  // Cancelling a READY mirror completes it without pivoting: the target keeps an exact copy
  // and the source keeps using its own disk (it is about to stop anyway).
  for (const i of indexes) await qmp.execute("block-job-cancel", { device: mirrorTarget(i) });
  const events = await Promise.all(done);
  const failed = events.find((e) => typeof e.data.error === "string");
  if (failed) throw new Error(`disk mirror ${failed.data.device}: ${failed.data.error}`);
}

/** Drop mirror jobs and NBD client nodes left over by success, failure or cancel. */
async function removeMirrors(vm: Vm, indexes: number[]): Promise<void> {
  if (vm.hasExited) return;
  const qmp = vm.qmp;
  for (const i of indexes) {
    const jobs = await qmp.execute("query-block-jobs").catch(() => []);
    if (jobs.some((j) => j.device === mirrorTarget(i))) {
      const gone = qmp.waitForEvent("BLOCK_JOB_CANCELLED", {
        timeoutMs: 10_000,
        match: (e) => e.data.device === mirrorTarget(i),
      });
      gone.catch(() => {});
      await qmp
        .execute("block-job-cancel", { device: mirrorTarget(i), force: true })
        .catch(() => {});
      await gone.catch(() => {});
    }
    await qmp.execute("blockdev-del", { "node-name": mirrorTarget(i) }).catch(() => {});
  }
}
