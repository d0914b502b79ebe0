import { randomInt } from "node:crypto";
import {
  type AgentInfo,
  type AgentInterface,
  type AgentOSInfo,
  type GuestInterface,
  type GuestOSInfo,
  guestInterfaces,
  guestOSInfo,
  type InterfaceCounters,
  interfaceCounters,
} from "./agent-status.js";
import { JsonWire, SYNC_SENTINEL } from "./json-wire.js";
import type { ArgsParams, Cmd, Empty, ExecuteOptions } from "./qmp-commands.js";
import { connectWithRetry } from "./socket.js";

/** The qemu-ga commands this project uses (QEMU 7.2's qga schema). */
export interface AgentCommands {
  "guest-sync-delimited": Cmd<{ id: number }, number>;
  "guest-ping": Cmd<undefined, Empty>;
  "guest-info": Cmd<undefined, AgentInfo>;
  "guest-get-osinfo": Cmd<undefined, AgentOSInfo>;
  "guest-network-get-interfaces": Cmd<undefined, AgentInterface[]>;
  "guest-get-host-name": Cmd<undefined, { "host-name": string }>;
  /** Answers only on failure: success is silence, then the guest going away. */
  "guest-shutdown": Cmd<{ mode?: "powerdown" | "halt" | "reboot" }, undefined>;
}
export type AgentCommandName = keyof AgentCommands;

/** Nothing answers on the agent's channel: no guest agent (yet), or no QEMU. */
export class AgentUnavailableError extends Error {
  constructor(
    readonly socketPath: string,
    reason: string,
  ) {
    super(`guest agent on ${socketPath} unavailable: ${reason}`);
    this.name = "AgentUnavailableError";
  }
}

/** The agent answered with an error; `desc` is its own message. */
export class AgentError extends Error {
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(`guest agent ${command}: ${desc} (${errorClass})`);
    this.name = "AgentError";
  }
}

export class AgentTimeoutError extends Error {
  constructor(
    readonly command: string,
    readonly timeoutMs: number,
  ) {
    super(`guest agent ${command}: no reply within ${timeoutMs} ms`);
    this.name = "AgentTimeoutError";
  }
}

export class AgentClosedError extends Error {
  constructor(readonly command: string) {
    super(`guest agent ${command}: connection closed`);
    this.name = "AgentClosedError";
  }
}

const agentErrors = {
  reply: (c: string, cls: string, desc: string) => new AgentError(c, cls, desc),
  timeout: (c: string, ms: number) => new AgentTimeoutError(c, ms),
  closed: (c: string) => new AgentClosedError(c),
};

export interface GuestAgentOptions {
  /** Connecting to the socket QEMU listens on. Default 2 s. */
  connectTimeoutMs?: number;
  /** How long a silent channel (agent not running yet) may take to answer the sync. Default 3 s. */
  syncTimeoutMs?: number;
  /** Default per-command timeout. Default 10 s. */
  commandTimeoutMs?: number;
  /** How long a refused `guest-shutdown` takes to say so; silence past it is acceptance. */
  shutdownGraceMs?: number;
}

/**
 * A client of the QEMU guest agent on the host side of its virtio-serial port. The channel
 * outlives agents (the guest reboots, the agent restarts) and may hold stale bytes, so each
 * connection starts with `guest-sync-delimited` and a random id, behind a 0xFF that resets
 * the agent's parser; replies before the sync's are dropped. A timeout drops the connection
 * so the next call resynchronises. Calls never hang: each has a timeout, and a channel with
 * no agent behind it fails with `AgentUnavailableError`.
 */
export class GuestAgent {
  private wire: JsonWire | undefined;
  private linking: Promise<JsonWire> | undefined;
  private closed = false;
  private readonly opts: Required<GuestAgentOptions>;

  constructor(
    readonly socketPath: string,
    opts: GuestAgentOptions = {},
  ) {
    this.opts = {
      connectTimeoutMs: opts.connectTimeoutMs ?? 2_000,
      syncTimeoutMs: opts.syncTimeoutMs ?? 3_000,
      commandTimeoutMs: opts.commandTimeoutMs ?? 10_000,
      shutdownGraceMs: opts.shutdownGraceMs ?? 2_000,
    };
  }

  /** A synchronised connection exists: the agent answered and nothing has failed since. */
  get isConnected(): boolean {
    return this.wire !== undefined && !this.wire.isClosed;
  }

  private link(): Promise<JsonWire> {
    if (this.closed) return Promise.reject(new AgentUnavailableError(this.socketPath, "closed"));
    if (this.wire && !this.wire.isClosed) return Promise.resolve(this.wire);
    this.linking ??= this.connectAndSync().finally(() => {
      this.linking = undefined;
    });
    return this.linking;
  }

  private async connectAndSync(): Promise<JsonWire> {
    let socket: Awaited<ReturnType<typeof connectWithRetry>>;
    try {
      socket = await connectWithRetry(this.socketPath, this.opts.connectTimeoutMs);
    } catch (err) {
      throw new AgentUnavailableError(this.socketPath, (err as Error).message);
    }
    // Ids unique per connection: a late reply to an earlier connection never matches.
    const wire = new JsonWire(socket, agentErrors, () => {}, `kv-ga-${randomInt(1 << 30)}`);
    const id = randomInt(1, 2 ** 31);
    try {
      await wire.request(
        "guest-sync-delimited",
        { id },
        {
          timeoutMs: this.opts.syncTimeoutMs,
          prefix: Buffer.from([SYNC_SENTINEL]),
          match: (m) => m.return === id,
        },
      );
    } catch (err) {
      wire.close();
      throw new AgentUnavailableError(
        this.socketPath,
        `no answer to guest-sync: ${(err as Error).message}`,
      );
    }
    if (this.closed) {
      wire.close();
      throw new AgentUnavailableError(this.socketPath, "closed");
    }
    this.wire = wire;
    wire.onceClosed(() => {
      if (this.wire === wire) this.wire = undefined;
    });
    return wire;
  }

  /** Run a typed agent command, (re)connecting and resynchronising first when needed. */
  async execute<C extends AgentCommandName>(
    command: C,
    ...[args, opts]: ArgsParams<AgentCommands[C]["args"]>
  ): Promise<AgentCommands[C]["ret"]> {
    const wire = await this.link();
    const timeoutMs = (opts as ExecuteOptions | undefined)?.timeoutMs ?? this.opts.commandTimeoutMs;
    try {
      return (await wire.request(command, args, { timeoutMs })) as AgentCommands[C]["ret"];
    } catch (err) {
      // An agent that stopped answering may be a restarted one: resync on the next call.
      if (err instanceof AgentTimeoutError) this.disconnect();
      throw err;
    }
  }

  async ping(): Promise<void> {
    await this.execute("guest-ping");
  }

  info(): Promise<AgentInfo> {
    return this.execute("guest-info");
  }

  async osInfo(): Promise<GuestOSInfo> {
    return guestOSInfo(await this.execute("guest-get-osinfo"));
  }

  async interfaces(): Promise<GuestInterface[]> {
    return (await this.interfaceReport()).interfaces;
  }

  /** The interfaces for status and their traffic counters for metrics, from one call. */
  async interfaceReport(): Promise<{
    interfaces: GuestInterface[];
    counters: InterfaceCounters[];
  }> {
    const raw = await this.execute("guest-network-get-interfaces");
    return { interfaces: guestInterfaces(raw), counters: interfaceCounters(raw) };
  }

  async hostName(): Promise<string> {
    return (await this.execute("guest-get-host-name"))["host-name"];
  }

  /**
   * Ask the guest OS to shut down. The agent replies only when it refuses (rejects with
   * `AgentError`); silence for `shutdownGraceMs`, or the channel closing, means accepted.
   * Whether the guest then powers off is for the caller to wait for.
   */
  async shutdown(mode: "powerdown" | "halt" | "reboot" = "powerdown"): Promise<void> {
    try {
      await this.execute("guest-shutdown", { mode }, { timeoutMs: this.opts.shutdownGraceMs });
    } catch (err) {
      if (err instanceof AgentTimeoutError || err instanceof AgentClosedError) return;
      throw err;
    }
  }

  /** Drop the connection (calls in flight fail); the next call reconnects. */
  disconnect(): void {
    this.wire?.close();
    this.wire = undefined;
  }

  /** Drop the connection for good. */
  close(): void {
    this.closed = true;
    this.disconnect();
  }
}
