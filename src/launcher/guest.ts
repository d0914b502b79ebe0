import type { LauncherPhase, LauncherStatus } from "../api/launcher.js";
import type { Logger } from "../util/log.js";
import {
  type Accelerator,
  BootTimeoutError,
  type GuestConfig,
  QemuExitedError,
  type Readiness,
  type SerialConsole,
  Vm,
} from "../vmm/index.js";
import { type LauncherOutcome, outcomeOfQemuEnd } from "./exit.js";

export interface GuestOptions {
  config: GuestConfig;
  accel: Accelerator;
  accelerationReason: string;
  readiness: Readiness;
  bootTimeoutMs: number;
  qemuBinary?: string;
  log: Logger;
}

/**
 * The one guest this launcher runs: boots it through the VMM, follows its state for the
 * API, stops it on request, and settles `ended` exactly once with how it ended.
 */
export class Guest {
  readonly ended: Promise<LauncherOutcome>;
  private phase: LauncherPhase = "Starting";
  private vm: Vm | undefined;
  private vcpusRunning = false;
  private startedAt: string | undefined;
  /** Epoch ms by which the guest should have powered off, once a stop was asked for. */
  private stopDeadline: number | undefined;
  private panicked = false;
  private message: string | undefined;
  private settle!: (outcome: LauncherOutcome) => void;

  constructor(private readonly opts: GuestOptions) {
    this.ended = new Promise((resolve) => {
      this.settle = (outcome) => {
        this.phase =
          outcome.kind === "guestShutdown" || outcome.kind === "stopped" ? "Stopped" : "Failed";
        this.message = "message" in outcome ? outcome.message : undefined;
        resolve(outcome);
      };
    });
  }

  private get stopRequested(): boolean {
    return this.stopDeadline !== undefined;
  }

  /** Boot; failures do not throw but settle `ended` (BootFailed). */
  async start(): Promise<void> {
    const { log } = this.opts;
    this.startedAt = new Date().toISOString();
    let vm: Vm;
    try {
      vm = await Vm.start({
        config: this.opts.config,
        accel: this.opts.accel,
        readiness: this.opts.readiness,
        bootTimeoutMs: this.opts.bootTimeoutMs,
        log,
        ...(this.opts.qemuBinary ? { qemuBinary: this.opts.qemuBinary } : {}),
      });
    } catch (err) {
      this.settle(this.bootFailure(err));
      return;
    }
    this.vm = vm;
    this.vcpusRunning = true;
    vm.qmp.on("event:STOP", () => {
      this.vcpusRunning = false;
    });
    vm.qmp.on("event:RESUME", () => {
      this.vcpusRunning = true;
    });
    vm.qmp.on("event:GUEST_PANICKED", () => {
      log.error("guest panicked; stopping QEMU");
      this.panicked = true;
      void vm.quit();
    });
    void vm.exited.then((status) =>
      this.settle(
        outcomeOfQemuEnd({ ...status, stopRequested: this.stopRequested, panicked: this.panicked }),
      ),
    );
    if (this.stopDeadline !== undefined) {
      // Asked to stop while booting: the VM is ours only now; spend what is left of the budget.
      void vm.shutdown({ timeoutMs: Math.max(0, this.stopDeadline - Date.now()) });
      return;
    }
    this.phase = "Running";
  }

  private bootFailure(err: unknown): LauncherOutcome {
    if (this.stopRequested) return { kind: "stopped", message: "stopped while booting" };
    if (err instanceof BootTimeoutError) {
      return { kind: "bootFailed", message: `guest not ready within ${err.timeoutMs} ms` };
    }
    if (err instanceof QemuExitedError) return { kind: "bootFailed", message: err.message };
    return { kind: "bootFailed", message: (err as Error).message };
  }

  /** Ready only while this process runs the guest: QEMU alive, booted, vCPUs running. */
  get ready(): boolean {
    return this.phase === "Running" && this.vcpusRunning && !!this.vm && !this.vm.hasExited;
  }

  get serialConsole(): SerialConsole | undefined {
    return this.vm && !this.vm.hasExited ? this.vm.console : undefined;
  }

  async status(): Promise<LauncherStatus> {
    const status: LauncherStatus = {
      phase: this.phase === "Running" && !this.vcpusRunning ? "Paused" : this.phase,
      acceleration: this.opts.accel === "kvm" ? "KVM" : "TCG",
      accelerationReason: this.opts.accelerationReason,
    };
    if (this.startedAt) status.startedAt = this.startedAt;
    if (this.vm?.bootMs !== undefined) status.bootTimeMs = this.vm.bootMs;
    if (this.message) status.message = this.message;
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
    if (!this.stopRequested) {
      this.stopDeadline = Date.now() + gracefulMs;
      this.phase = "Stopping";
      this.opts.log.info({ gracefulMs }, "stopping the guest");
      const vm = this.vm;
      if (vm) void vm.shutdown({ timeoutMs: gracefulMs });
    }
    return this.ended;
  }
}
