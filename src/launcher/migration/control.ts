import {
  checkMigrationTarget,
  type IncomingAnswer,
  type IncomingRequest,
  type LauncherMigrationState,
  type MigrateRequest,
  MigrationTargetError,
  migrationUri,
} from "../../api/launcher-migration.js";
import type { Logger } from "../../util/log.js";
import { acceptMigration, migrate, type OutgoingMigration, withTimeout } from "../../vmm/index.js";
import type { Guest } from "../guest.js";
import { freePort } from "./net.js";
import { describeEnd, endFields, progressFields } from "./state.js";

/** A request the launcher cannot honour now; `status` is the HTTP answer. */
export class MigrationRefused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
    this.name = "MigrationRefused";
  }
}

export interface MigrationControlOptions {
  role: "source" | "target";
  /** Where the target listens: the pod IP, reachable from the source's pod. */
  podIP: string;
  log: Logger;
}

/** How long a source whose guest left waits for the operator to read the final figures. */
export const FINAL_READ_WAIT_MS = 10_000;

/**
 * One launcher's side of a live migration. A source sends its guest once asked; a target
 * (a pod started with the migration-target flag) receives one. Requests are idempotent, so
 * an operator that restarted mid-way can ask again and learn what is already happening.
 */
export class MigrationControl {
  private current: LauncherMigrationState;
  private guest: Guest | undefined;
  private copiedDisks: number[] = [];
  private outgoing: OutgoingMigration | undefined;
  /** Settles once the outgoing migration's end has been recorded (and the guest let go). */
  private outgoingDone: Promise<void> | undefined;
  private answer: Promise<IncomingAnswer> | undefined;
  private noShowTimer: NodeJS.Timeout | undefined;
  /**
   * Settles once the operator has read how the current outgoing migration ended. One per
   * outgoing migration: a launcher whose guest arrived here (its own Succeeded, as target,
   * was read long ago) or whose earlier attempt failed must still wait for this one's read.
   */
  private finalRead = latch();

  constructor(private readonly opts: MigrationControlOptions) {
    this.current = { role: opts.role, phase: "None" };
  }

  /** The guest exists: from now on requests can be served. */
  attach(guest: Guest, copiedDisks: number[]): void {
    this.guest = guest;
    this.copiedDisks = copiedDisks;
  }

  /**
   * Target: give up (exit MigrationFailed) when nobody asks us to listen within `ms`: the
   * operator that created this pod is gone or changed its mind.
   */
  expectIncomingWithin(ms: number): void {
    this.noShowTimer = setTimeout(() => {
      if (this.current.phase !== "None") return;
      this.fail(`no migration was started within ${Math.round(ms / 1000)} s`);
    }, ms);
    this.noShowTimer.unref();
  }

  state(): LauncherMigrationState {
    const ended = ["Succeeded", "Failed", "Cancelled"].includes(this.current.phase);
    if (ended && this.current.role === "source") this.finalRead.open();
    return { ...this.current };
  }

  /** Source: resolves once the operator has read the final state, or after `timeoutMs`. */
  async finalStateRead(timeoutMs = FINAL_READ_WAIT_MS): Promise<void> {
    await withTimeout(this.finalRead.opened, timeoutMs);
  }

  get role(): "source" | "target" {
    return this.opts.role;
  }

  get inFlight(): boolean {
    return this.current.phase === "Migrating";
  }

  // ---- target ----

  /** Refuses (409) when this launcher may not listen at all, whatever the request says. */
  checkMayListen(): void {
    if (this.opts.role !== "target") {
      throw new MigrationRefused(409, "this launcher runs the guest; it is not a migration target");
    }
  }

  incoming(req: IncomingRequest): Promise<IncomingAnswer> {
    this.checkMayListen();
    if (this.answer) return this.answer;
    const guest = this.guest;
    const vm = guest?.qemu;
    if (!guest || !vm) throw new MigrationRefused(409, "QEMU is not ready to receive yet");
    clearTimeout(this.noShowTimer);
    const host = this.opts.podIP;
    const disks = this.copiedDisks;
    this.answer = (async () => {
      const nbd = disks.length > 0 ? { host, port: await freePort(host) } : undefined;
      const incoming = await acceptMigration(vm, {
        host,
        port: 0,
        postcopy: req.postCopy,
        ...(nbd ? { receiveDisks: { indexes: disks, nbd } } : {}),
        timeoutMs: req.timeoutMs,
        tls: req.tls,
        onRefused: (why, remote) =>
          this.opts.log.warn({ why, remote }, "refused a connection to the migration port"),
      });
      Object.assign(this.current, {
        phase: "Listening",
        migrationUri: incoming.uri,
        startedAt: new Date().toISOString(),
      });
      this.opts.log.info({ uri: incoming.uri, nbd, disks }, "listening for the incoming guest");
      void incoming.outcome.then((outcome) => {
        if (outcome.status === "completed") {
          Object.assign(this.current, {
            phase: "Succeeded",
            endedAt: new Date().toISOString(),
            ...(outcome.resumedAtMs !== undefined ? { resumedAtMs: outcome.resumedAtMs } : {}),
          });
          guest.arrived();
          this.opts.log.info("the guest arrived and runs here");
        } else {
          this.fail(outcome.error ?? "the incoming migration failed");
        }
      });
      return { migrationUri: incoming.uri, diskIndexes: disks, ...(nbd ? { nbd } : {}) };
    })();
    // A failed setup may be retried by the next request.
    this.answer.catch((err: unknown) => {
      this.answer = undefined;
      this.opts.log.warn({ err }, "could not listen for the guest");
    });
    return this.answer;
  }

  private fail(message: string): void {
    Object.assign(this.current, {
      phase: "Failed",
      error: message,
      endedAt: new Date().toISOString(),
    });
    this.opts.log.error({ message }, "incoming migration failed");
    void this.guest?.release({ kind: "migrationFailed", message });
  }

  // ---- source ----

  start(req: MigrateRequest): LauncherMigrationState {
    const to = checkedTarget(req);
    const c = this.current;
    // A target whose guest arrived runs it like any source and may send it on again.
    const arrivedHere = c.role === "target" && c.phase === "Succeeded";
    if (c.role !== "source" && !arrivedHere) {
      throw new MigrationRefused(409, "no guest runs here yet; a waiting target cannot send one");
    }
    if (c.role === "source" && c.phase !== "None" && c.migrationUri === req.migrationUri) {
      return this.state();
    }
    if (c.role === "source" && (c.phase === "Migrating" || c.phase === "Succeeded")) {
      throw new MigrationRefused(409, `a migration to ${c.migrationUri} is ${c.phase}`);
    }
    const guest = this.guest;
    const vm = guest?.qemu;
    if (!guest || !vm || !guest.ready) {
      throw new MigrationRefused(409, "the guest is not running here");
    }
    // A paused guest would arrive paused on a target that waits for it to run.
    if (guest.paused) {
      throw new MigrationRefused(409, "the guest is paused; unpause it before migrating");
    }
    const unknown = req.diskIndexes.filter((i) => !this.copiedDisks.includes(i));
    if (unknown.length > 0) {
      throw new MigrationRefused(400, `disks ${unknown.join(", ")} are not local to this pod`);
    }
    this.finalRead = latch();
    this.current = {
      role: "source",
      phase: "Migrating",
      migrationUri: req.migrationUri,
      startedAt: new Date().toISOString(),
    };
    const state = this.current;
    guest.setMigrating(true);
    const outgoing = migrate(vm, {
      // Rebuilt from the checked parts: QEMU never sees the string as it arrived.
      uri: migrationUri(to),
      ...(req.bandwidthBytesPerSec ? { maxBandwidth: req.bandwidthBytesPerSec } : {}),
      ...(req.downtimeLimitMs ? { downtimeLimitMs: req.downtimeLimitMs } : {}),
      autoConverge: req.autoConverge,
      postcopy: req.postCopy,
      timeoutMs: req.timeoutMs,
      tls: req.tls,
      ...(req.nbd && req.diskIndexes.length > 0
        ? { sendDisks: { indexes: req.diskIndexes, nbd: { host: to.host, port: req.nbd.port } } }
        : {}),
    });
    this.outgoing = outgoing;
    this.opts.log.info({ uri: req.migrationUri, disks: req.diskIndexes }, "migration started");
    this.outgoingDone = (async () => {
      for await (const p of outgoing.progress) Object.assign(state, progressFields(p));
      const outcome = await outgoing.outcome;
      Object.assign(state, endFields(outcome, new Date()));
      const summary = describeEnd(state);
      if (outcome.status === "completed") {
        this.opts.log.info({ state }, summary);
        // The guest runs on the target now; this QEMU (postmigrate) is only a husk.
        await guest.release({ kind: "migrated", message: summary });
      } else {
        this.opts.log.warn({ state }, summary);
        guest.setMigrating(false);
      }
    })();
    return this.state();
  }

  async cancel(): Promise<LauncherMigrationState> {
    if (this.current.phase === "Migrating" && this.outgoing) {
      this.opts.log.info("cancelling the migration");
      await this.outgoing.cancel().catch((err: unknown) => {
        // Already past the point of no return (or over): the outcome tells which.
        this.opts.log.warn({ err }, "migrate_cancel refused");
      });
      await this.outgoingDone;
    }
    return this.state();
  }
}

/** Only `tcp:` to the target pod's IP as the operator named it; else 400 naming the field. */
function checkedTarget(req: MigrateRequest) {
  try {
    return checkMigrationTarget(req);
  } catch (err) {
    if (err instanceof MigrationTargetError) throw new MigrationRefused(400, err.message);
    throw err;
  }
}

/** A promise opened once from outside. */
function latch(): { opened: Promise<void>; open: () => void } {
  let open = () => {};
  const opened = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { opened, open };
}
