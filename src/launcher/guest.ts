import type { LauncherStatus } from "../api/launcher.js";
import type { Logger } from "../util/log.js";
import {
  type Accelerator,
  BootTimeoutError,
  type GuestConfig,
  type InterfaceCounters,
  openGuestPort,
  type QemuStats,
  type Readiness,
  type SerialConsole,
  screenshot,
  Vm,
} from "../vmm/index.js";
import { AgentPoller } from "./agent-poller.js";
import { type LauncherOutcome, outcomeOfQemuEnd } from "./exit.js";
import type { PhaseOwner } from "./phase.js";

export interface GuestOptions {
  config: GuestConfig;
  accel: Accelerator;
  accelerationReason: string;
  readiness: Readiness;
  bootTimeoutMs: number;
  qemuBinary?: string;
  /** A migration target: QEMU waits for the guest to arrive instead of booting it. */
  incoming?: boolean;
  /** Where QEMU's QMP and serial sockets go (the agent's is in the guest config). */
  runDir?: string;
  /** The launcher's phase; the guest asks it to move, never keeps one of its own. */
  phases: PhaseOwner;
  log: Logger;
}

/** A request the guest's current state does not allow (the API answers 409). */
export class GuestStateError extends Error {
  override name = "GuestStateError";
}

/** Each guest-agent call is bounded: a silent channel never holds up a poll or a stop. */
const AGENT_CALL_LIMITS = {
  connectTimeoutMs: 2_000,
  syncTimeoutMs: 3_000,
  commandTimeoutMs: 5_000,
};

/**
 * The one guest this launcher runs: boots it through the VMM, follows its state for the
 * API, stops it on request, and settles `ended` exactly once with how it ended.
 */
export class Guest {
  readonly ended: Promise<LauncherOutcome>;
  private vm: Vm | undefined;
  private vcpusRunning = false;
  /** The user paused the guest (POST /pause): the vCPUs are stopped on purpose. */
  private userPaused = false;
  private startedAt: string | undefined;
  /** Epoch ms by which the guest should have powered off, once a stop was asked for. */
  private stopDeadline: number | undefined;
  private panicked = false;
  private poller: AgentPoller | undefined;
  /** Set once the guest's fate was decided by a migration, before QEMU is let go. */
  private migrationEnd: LauncherOutcome | undefined;
  private settle!: (outcome: LauncherOutcome) => void;

  constructor(private readonly opts: GuestOptions) {
    this.ended = new Promise((resolve) => {
      this.settle = (outcome) => {
        opts.phases.end(outcome);
        resolve(outcome);
      };
    });
  }

  private get phases(): PhaseOwner {
    return this.opts.phases;
  }

  private get stopRequested(): boolean {
    return this.stopDeadline !== undefined;
  }

  /**
   * Boot (or, as a migration target, start QEMU waiting for the guest); failures do not
   * throw but settle `ended` (BootFailed).
   */
  async start(): Promise<void> {
    const { log } = this.opts;
    this.startedAt = new Date().toISOString();
    let vm: Vm;
    try {
      const options = {
        config: this.opts.config,
        accel: this.opts.accel,
        readiness: this.opts.readiness,
        bootTimeoutMs: this.opts.bootTimeoutMs,
        log,
        ...(this.opts.qemuBinary ? { qemuBinary: this.opts.qemuBinary } : {}),
        ...(this.opts.runDir ? { runDir: this.opts.runDir } : {}),
        agentOptions: AGENT_CALL_LIMITS,
      };
      vm = this.opts.incoming ? await Vm.startIncoming(options) : await Vm.start(options);
    } catch (err) {
      this.settle(this.bootFailure(err));
      return;
    }
    this.vm = vm;
    this.vcpusRunning = !this.opts.incoming;
    vm.qmp.onEvent("STOP", () => {
      this.vcpusRunning = false;
    });
    vm.qmp.onEvent("RESUME", () => {
      this.vcpusRunning = true;
    });
    vm.qmp.onEvent("GUEST_PANICKED", () => {
      log.error("guest panicked; stopping QEMU");
      this.panicked = true;
      void vm.quit();
    });
    if (vm.agent) this.poller = new AgentPoller(vm.agent, log.child({ part: "guest-agent" }));
    void vm.exited.then((status) => {
      this.poller?.stop();
      log.info({ reason: status.reason, stopRequest: status.stopRequest }, "QEMU has ended");
      this.settle(
        this.migrationEnd ??
          outcomeOfQemuEnd({
            ...status,
            stopRequested: this.stopRequested,
            panicked: this.panicked,
          }),
      );
    });
    if (this.stopDeadline !== undefined) {
      // Asked to stop while booting: the VM is ours only now; spend what is left of the budget.
      void vm.shutdown({ timeoutMs: Math.max(0, this.stopDeadline - Date.now()) });
      return;
    }
    this.phases.transition(this.opts.incoming ? "WaitingForMigration" : "Running");
    // A target's guest is not here yet: its agent is polled once it arrives.
    if (!this.opts.incoming) this.poller?.start();
  }

  /** The running QEMU, for the migration code; undefined before start or after exit. */
  get qemu(): Vm | undefined {
    return this.vm && !this.vm.hasExited ? this.vm : undefined;
  }

  /** Source: a migration is under way (the guest still runs here) or was given up. */
  setMigrating(migrating: boolean): void {
    this.phases.transition(migrating ? "Migrating" : "Running", "outgoing migration");
  }

  /** Target: the guest arrived and runs here now. */
  arrived(): void {
    this.phases.transition("Running", "the guest arrived");
    this.poller?.start();
  }

  /**
   * The migration decided this QEMU's end: the source's guest runs elsewhere now (its QEMU
   * sits in postmigrate), or the target's guest never arrived. QEMU is let go; `ended`
   * settles with `outcome` instead of how QEMU happened to exit.
   */
  async release(outcome: Extract<LauncherOutcome, { kind: "migrated" | "migrationFailed" }>) {
    if (this.migrationEnd || this.stopRequested) return;
    this.migrationEnd = outcome;
    this.poller?.stop();
    // The end is known now, before QEMU is gone: status says so at once.
    this.phases.end(outcome);
    this.vcpusRunning = false;
    await this.vm?.quit();
  }

  private bootFailure(err: unknown): LauncherOutcome {
    if (this.stopRequested) return { kind: "stopped", message: "stopped while booting" };
    if (err instanceof BootTimeoutError) {
      return { kind: "bootFailed", message: `guest not ready within ${err.timeoutMs} ms` };
    }
    return { kind: "bootFailed", message: (err as Error).message };
  }

  /**
   * Ready only while this process runs the guest: QEMU alive, booted (or arrived), vCPUs
   * running — also while it sends the guest away, since until the switch-over it runs here.
   * A guest the user paused is still here and still only here: it stays Ready, so the PDB
   * keeps a drain from evicting it (a stop at QEMU's own doing, e.g. the switch-over, does not).
   */
  get ready(): boolean {
    const { phase } = this.phases;
    return (
      (phase === "Running" || phase === "Migrating") &&
      (this.vcpusRunning || this.userPaused) &&
      !!this.vm &&
      !this.vm.hasExited
    );
  }

  /** QEMU's figures for metrics; undefined while no QEMU runs. Bounded, never throws. */
  async stats(timeoutMs: number): Promise<QemuStats | undefined> {
    const vm = this.vm;
    if (!vm || vm.hasExited) return undefined;
    return vm.stats(timeoutMs);
  }

  /** The guest NICs' counters, from the guest agent's last answer (none without an agent). */
  get networkCounters(): InterfaceCounters[] {
    return this.poller?.networkCounters ?? [];
  }

  /** The user paused the guest and has not unpaused it yet. */
  get paused(): boolean {
    return this.userPaused;
  }

  /**
   * Stop the vCPUs at the user's request (QMP stop). Only a guest running here and not
   * being sent away may be paused: pausing mid-migration would stall the switch-over.
   * Idempotent. Throws GuestStateError (409) otherwise.
   */
  async pause(): Promise<void> {
    const vm = this.checkRunningHere("pause");
    if (this.userPaused) return;
    this.userPaused = true;
    try {
      await vm.pause();
    } catch (err) {
      this.userPaused = false;
      throw err;
    }
  }

  /** Resume the vCPUs the user stopped (QMP cont). Idempotent. */
  async unpause(): Promise<void> {
    const vm = this.checkRunningHere("unpause");
    if (!this.userPaused) return;
    await vm.resume();
    this.userPaused = false;
  }

  private checkRunningHere(what: string): Vm {
    const vm = this.qemu;
    if (this.phases.phase !== "Running" || !vm) {
      throw new GuestStateError(`cannot ${what}: the guest is ${this.phases.phase} here`);
    }
    return vm;
  }

  /** The display's VNC socket while QEMU runs and the guest has a display. */
  get vncSocket(): string | undefined {
    return this.qemu ? this.opts.config.graphics?.vncSocket : undefined;
  }

  /** One TCP connection to a guest port (src/vmm/guest-port.ts); only while it runs here. */
  async openPort(port: number) {
    const vm = this.qemu;
    const { phase } = this.phases;
    if (!vm || (phase !== "Running" && phase !== "Migrating")) {
      throw new GuestStateError(`the guest is ${phase} here`);
    }
    return openGuestPort(vm, port);
  }

  /** The current screen as PNG; GuestStateError when there is no display. */
  async screenshot(maxBytes?: number): Promise<Buffer> {
    const vm = this.qemu;
    if (!vm || !this.opts.config.graphics) {
      throw new GuestStateError(vm ? "this VM has no display" : "QEMU is not running");
    }
    return screenshot(vm, maxBytes === undefined ? {} : { maxBytes });
  }

  get serialConsole(): SerialConsole | undefined {
    return this.vm && !this.vm.hasExited ? this.vm.console : undefined;
  }

  async status(): Promise<LauncherStatus> {
    const { phase, endMessage } = this.phases;
    const status: LauncherStatus = {
      phase: phase === "Running" && !this.vcpusRunning ? "Paused" : phase,
      acceleration: this.opts.accel === "kvm" ? "KVM" : "TCG",
      accelerationReason: this.opts.accelerationReason,
    };
    if (this.startedAt) status.startedAt = this.startedAt;
    if (this.vm?.bootMs !== undefined) status.bootTimeMs = this.vm.bootMs;
    if (endMessage) status.message = endMessage;
    const guest = this.poller?.status;
    if (guest) status.guest = guest;
    if (this.vm && !this.vm.hasExited) {
      status.qemuStatus = await this.vm.runState().catch(() => "unknown");
    }
    return status;
  }

  /**
   * Stop for pod termination: ACPI power button, up to `gracefulMs` for the guest to power
   * off, then QEMU is stopped hard. Resolves once the guest has ended.
   */
  async stop(gracefulMs: number): Promise<LauncherOutcome> {
    if (!this.stopRequested && !this.migrationEnd && !this.phases.ended) {
      this.stopDeadline = Date.now() + gracefulMs;
      this.phases.transition("Stopping", "asked to stop");
      this.opts.log.info({ gracefulMs }, "stopping the guest");
      // The shutdown uses the agent's connection when it is up; nothing else may talk on it.
      this.poller?.stop();
      const vm = this.vm;
      if (vm) void vm.shutdown({ timeoutMs: gracefulMs });
    }
    return this.ended;
  }
}
