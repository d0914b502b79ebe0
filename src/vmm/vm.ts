import { EventEmitter } from "node:events";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Logger, logger } from "../util/log.js";
import { GuestAgent, type GuestAgentOptions } from "./agent.js";
import { AGENT_PORT_ID, buildQemuArgs } from "./cmdline.js";
import type { Accelerator, GuestConfig } from "./config.js";
import { SerialConsole } from "./console.js";
import { DEFAULT_QEMU_BINARY, hostTscKhz, type ProcessExit, QemuProcess } from "./process.js";
import { QmpClient, type QmpEvent, type RunState } from "./qmp.js";
import { type QemuStats, sampleQemu } from "./stats.js";

/** When a started guest counts as up: a line on its console, or QEMU resuming its vCPUs. */
export type Readiness = { kind: "marker"; marker: string | RegExp } | { kind: "resume" };

export interface VmOptions {
  config: GuestConfig;
  accel: Accelerator;
  /** Default: `resume` (any guest). The test guest uses its boot marker. */
  readiness?: Readiness;
  /** Deadline from process start to ready; QEMU is killed when it passes. Default 60 s. */
  bootTimeoutMs?: number;
  /** Boots to try (each with the full deadline) before giving up. Default 1. */
  bootAttempts?: number;
  qemuBinary?: string;
  /** Where the QMP and serial sockets live; default a fresh private temp dir, removed on exit. */
  runDir?: string;
  exitOnReboot?: boolean;
  consoleBufferBytes?: number;
  /** Timeouts of the guest agent client (`Vm.agent`), when the config has an agent. */
  agentOptions?: GuestAgentOptions;
  log?: Logger;
}

/**
 * How `shutdown` asks the guest: `auto` uses the guest agent when a connection to it is
 * up, ACPI otherwise; `agent` tries the agent first (connecting to it), falling back to
 * ACPI; `acpi` presses the power button only.
 */
export type ShutdownVia = "auto" | "agent" | "acpi";

/** Why QEMU exited: the guest powered off, we asked it to stop, we killed it, or it died. */
export type ExitReason = "guest-shutdown" | "host-shutdown" | "killed" | "unexpected";

export interface ExitStatus extends ProcessExit {
  reason: ExitReason;
  /** QEMU's SHUTDOWN event reason (e.g. guest-shutdown, host-qmp-quit), when it sent one. */
  shutdownReason?: string;
  /** What `shutdown`/`quit` last asked of the guest or QEMU before it exited. */
  stopRequest?: StopRequest;
}

export type StopRequest = "agent" | "acpi" | "quit";

/** QEMU exited while we still expected it to run (bad spec, crash, killed from outside). */
export class QemuExitedError extends Error {
  constructor(
    readonly status: ExitStatus,
    context: string,
  ) {
    super(
      `QEMU exited ${context} (${status.signal ? `signal ${status.signal}` : `code ${status.code}`}): ${status.stderr || "no stderr"}`,
    );
    this.name = "QemuExitedError";
  }
}

export class BootTimeoutError extends Error {
  constructor(
    readonly timeoutMs: number,
    readonly consoleTail: string,
    readonly stderr: string,
  ) {
    super(`guest not ready within ${timeoutMs} ms; console tail: ${JSON.stringify(consoleTail)}`);
    this.name = "BootTimeoutError";
  }
}

const QUIT_GRACE_MS = 5_000;
/** How long a QEMU whose sockets closed may take to be reaped before we call it stuck. */
const EXIT_SETTLE_MS = 2_000;

/**
 * One running QEMU: spawn, QMP, serial console and lifecycle. Emits `exit` (ExitStatus)
 * exactly once; an `unexpected` exit is also logged at error level with QEMU's stderr.
 */
export class Vm extends EventEmitter {
  readonly argv: string[];
  readonly exited: Promise<ExitStatus>;
  /** Milliseconds from spawning QEMU until the readiness condition held. */
  bootMs: number | undefined;
  /** The guest agent's client, when the config has an agent port; the socket's only client. */
  readonly agent: GuestAgent | undefined;
  private expectExit = false;
  private stopRequest: StopRequest | undefined;
  private killed = false;
  private shutdownEvent: QmpEvent<"SHUTDOWN"> | undefined;
  private _qmp: QmpClient | undefined;
  private _console: SerialConsole | undefined;
  private consoleBufferBytes: number | undefined;

  private constructor(
    readonly accel: Accelerator,
    readonly runDir: string,
    private readonly proc: QemuProcess,
    argv: string[],
    private readonly log: Logger,
    ownsRunDir: boolean,
    agent: GuestAgent | undefined,
  ) {
    super();
    this.argv = argv;
    this.agent = agent;
    this.exited = proc.exited.then((p) => {
      const status: ExitStatus = {
        ...p,
        reason: this.exitReason(),
        shutdownReason: this.shutdownEvent?.data.reason,
        ...(this.stopRequest ? { stopRequest: this.stopRequest } : {}),
      };
      this.agent?.close();
      this._qmp?.close();
      this._console?.close();
      if (ownsRunDir) rmSync(runDir, { recursive: true, force: true });
      if (status.reason === "unexpected") {
        log.error({ code: p.code, signal: p.signal, stderr: p.stderr }, "QEMU exited unexpectedly");
      } else {
        log.info({ code: p.code, reason: status.reason }, "QEMU exited");
      }
      this.emit("exit", status);
      return status;
    });
  }

  private exitReason(): ExitReason {
    if (this.killed) return "killed";
    if (this.shutdownEvent?.data.guest === true) return "guest-shutdown";
    if (this.expectExit || this.shutdownEvent) return "host-shutdown";
    return "unexpected";
  }

  get pid(): number {
    return this.proc.pid;
  }

  get qmp(): QmpClient {
    if (!this._qmp) throw new Error("QMP not connected yet");
    return this._qmp;
  }

  get console(): SerialConsole {
    if (!this._console) throw new Error("console not connected yet");
    return this._console;
  }

  get hasExited(): boolean {
    return this.proc.hasExited;
  }

  /**
   * Boot a guest and resolve once it is ready; on any failure QEMU is gone when this rejects.
   * A boot that misses its deadline is retried up to `bootAttempts` times in all (default 1):
   * some guests stall at boot now and then (microvm under TCG does), and a fresh QEMU is the
   * cure. A QEMU that refuses the spec is never retried.
   */
  static async start(opts: VmOptions): Promise<Vm> {
    const attempts = opts.bootAttempts ?? 1;
    for (let attempt = 1; ; attempt++) {
      try {
        return await Vm.startOnce(opts);
      } catch (err) {
        if (!(err instanceof BootTimeoutError) || attempt >= attempts) throw err;
        (opts.log ?? logger("vmm")).warn(
          { vm: opts.config.name, attempt, timeoutMs: err.timeoutMs },
          "boot deadline missed, retrying with a fresh QEMU",
        );
      }
    }
  }

  private static async startOnce(opts: VmOptions): Promise<Vm> {
    const vm = Vm.spawn(opts, false);
    const timeoutMs = opts.bootTimeoutMs ?? 60_000;
    const t0 = Date.now();
    try {
      await vm.attach(timeoutMs);
      const readiness = opts.readiness ?? { kind: "resume" };
      const ready: Promise<unknown> =
        readiness.kind === "marker"
          ? vm.console.waitFor(readiness.marker, { timeoutMs: timeoutMs - (Date.now() - t0) })
          : vm.qmp.waitForEvent("RESUME", { timeoutMs: timeoutMs - (Date.now() - t0) });
      ready.catch(() => {}); // observed below through the race
      // QEMU was started with -S: vCPUs run only now that the console is attached.
      await vm.untilExit(vm.qmp.execute("cont"), "before the guest started");
      try {
        await vm.untilExit(ready, "during boot");
      } catch (err) {
        if (vm.hasExited) throw err;
        const tail = vm.console.recent().toString("latin1").slice(-2000);
        const status = await vm.kill();
        throw new BootTimeoutError(timeoutMs, tail, status.stderr);
      }
      vm.bootMs = Date.now() - t0;
      vm.log.info({ bootMs: vm.bootMs, accel: vm.accel }, "guest ready");
      return vm;
    } catch (err) {
      throw await vm.failStart(err);
    }
  }

  /** Start QEMU waiting for an incoming migration; see `acceptMigration`. */
  static async startIncoming(opts: VmOptions): Promise<Vm> {
    const vm = Vm.spawn(opts, true);
    try {
      await vm.attach(opts.bootTimeoutMs ?? 60_000);
      return vm;
    } catch (err) {
      throw await vm.failStart(err);
    }
  }

  /**
   * A start failed. If QEMU is dying by itself (its sockets close a moment before the process
   * is reaped), report that with its stderr rather than the symptom; otherwise kill it.
   */
  private async failStart(err: unknown): Promise<unknown> {
    if (err instanceof QemuExitedError || err instanceof BootTimeoutError) return err;
    const status = await withTimeout(this.exited, EXIT_SETTLE_MS);
    if (status && status.reason !== "killed") return new QemuExitedError(status, "during startup");
    await this.kill();
    return err;
  }

  private static spawn(opts: VmOptions, incoming: boolean): Vm {
    const ownsRunDir = !opts.runDir;
    const runDir = opts.runDir ?? mkdtempSync(join(tmpdir(), "kv-vm-"));
    const argv = buildQemuArgs(opts.config, {
      accel: opts.accel,
      qmpSocket: join(runDir, "qmp.sock"),
      serialSocket: join(runDir, "serial.sock"),
      startPaused: !incoming,
      incoming,
      exitOnReboot: opts.exitOnReboot ?? false,
      hostTscKhz: hostTscKhz(),
    });
    const proc = new QemuProcess(opts.qemuBinary ?? DEFAULT_QEMU_BINARY, argv);
    const log = (opts.log ?? logger("vmm")).child({ vm: opts.config.name, qemuPid: proc.pid });
    log.info({ accel: opts.accel, machine: opts.config.machine, incoming }, "QEMU started");
    const agentSocket = opts.config.agent?.socket;
    const agent = agentSocket ? new GuestAgent(agentSocket, opts.agentOptions) : undefined;
    const vm = new Vm(opts.accel, runDir, proc, argv, log, ownsRunDir, agent);
    vm.consoleBufferBytes = opts.consoleBufferBytes;
    return vm;
  }

  /** Connect QMP and the serial console; both sockets appear while QEMU initialises. */
  private async attach(timeoutMs: number): Promise<void> {
    const gone = new AbortController();
    void this.proc.exited.then(() => gone.abort());
    const qmp = await this.untilExit(
      QmpClient.connect(join(this.runDir, "qmp.sock"), { timeoutMs, signal: gone.signal }),
      "during startup",
    );
    this._qmp = qmp;
    qmp.onEvent("SHUTDOWN", (e) => {
      this.shutdownEvent = e;
    });
    // The guest closed the agent's port (agent stopped, guest rebooting): a new agent will
    // need a fresh sync, so drop the connection now rather than at the next timeout.
    qmp.onEvent("VSERPORT_CHANGE", (e) => {
      if (e.data.id === AGENT_PORT_ID && !e.data.open) this.agent?.disconnect();
    });
    this._console = await this.untilExit(
      SerialConsole.connect(join(this.runDir, "serial.sock"), {
        timeoutMs,
        signal: gone.signal,
        bufferBytes: this.consoleBufferBytes,
      }),
      "during startup",
    );
  }

  /** `work`, unless QEMU exits first: then a QemuExitedError carrying its stderr. */
  async untilExit<T>(work: Promise<T>, context: string): Promise<T> {
    const exit = this.exited.then((s) => {
      throw new QemuExitedError(s, context);
    });
    exit.catch(() => {});
    return Promise.race([work, exit]);
  }

  async pause(): Promise<void> {
    await this.qmp.execute("stop");
  }

  async resume(): Promise<void> {
    await this.qmp.execute("cont");
  }

  /** QEMU's run state: running, paused, inmigrate, postmigrate, shutdown, ... */
  async runState(): Promise<RunState> {
    const s = await this.qmp.execute("query-status");
    return s.status;
  }

  /** Resource figures for metrics; every QMP call bounded by `timeoutMs`. Never throws. */
  stats(timeoutMs: number): Promise<QemuStats> {
    const qmp = this.qmp;
    return sampleQemu(
      {
        pid: this.pid,
        query: {
          blockstats: (t) => qmp.execute("query-blockstats", undefined, { timeoutMs: t }),
          cpus: (t) => qmp.execute("query-cpus-fast", undefined, { timeoutMs: t }),
          memory: (t) => qmp.execute("query-memory-size-summary", undefined, { timeoutMs: t }),
          migration: (t) => qmp.execute("query-migrate", undefined, { timeoutMs: t }),
        },
      },
      timeoutMs,
    );
  }

  /**
   * Graceful stop: ask the guest (agent or ACPI power button, see `ShutdownVia`), wait up to
   * `timeoutMs` for it to power off, then ask QEMU to quit, then kill. Always resolves with
   * how it ended.
   */
  async shutdown(opts: { timeoutMs?: number; via?: ShutdownVia } = {}): Promise<ExitStatus> {
    if (this.hasExited) return this.exited;
    this.expectExit = true;
    const timeoutMs = opts.timeoutMs ?? 30_000;
    const deadline = Date.now() + timeoutMs;
    try {
      await this.askGuestToStop(opts.via ?? "auto");
      const status = await withTimeout(this.exited, Math.max(0, deadline - Date.now()));
      if (status) return status;
      this.log.warn({ timeoutMs, via: this.stopRequest }, "guest did not power off, quitting");
    } catch (err) {
      this.log.warn({ err }, "powerdown failed, quitting");
    }
    return this.quit();
  }

  private async askGuestToStop(via: ShutdownVia): Promise<void> {
    const useAgent = via === "agent" || (via === "auto" && this.agent?.isConnected === true);
    if (useAgent && this.agent) {
      try {
        this.stopRequest = "agent";
        await this.agent.shutdown("powerdown");
        return;
      } catch (err) {
        this.log.warn({ err }, "guest agent shutdown failed, using ACPI");
      }
    }
    this.stopRequest = "acpi";
    await this.qmp.execute("system_powerdown");
  }

  /** Stop QEMU now (the guest gets no say), escalating to SIGKILL if QMP does not answer. */
  async quit(): Promise<ExitStatus> {
    if (this.hasExited) return this.exited;
    this.expectExit = true;
    this.stopRequest = "quit";
    try {
      await this.qmp.execute("quit", undefined, { timeoutMs: QUIT_GRACE_MS });
      const status = await withTimeout(this.exited, QUIT_GRACE_MS);
      if (status) return status;
    } catch {
      // fall through to kill
    }
    return this.kill();
  }

  async kill(): Promise<ExitStatus> {
    if (!this.hasExited) this.killed = true;
    await this.proc.kill();
    return this.exited;
  }
}

/** `p`'s value, or undefined once `ms` have passed first. */
export async function withTimeout<T>(p: Promise<T>, ms: number): Promise<T | undefined> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<undefined>((resolve) => {
    timer = setTimeout(() => resolve(undefined), ms);
  });
  try {
    return await Promise.race([p, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
