import { EventEmitter } from "node:events";
import { JsonWire, type WireMessage } from "./json-wire.js";
import type {
  ArgsParams,
  ExecuteOptions,
  QmpCommandName,
  QmpCommands,
  QmpEventName,
  QmpEvents,
} from "./qmp-commands.js";
import { connectWithRetry } from "./socket.js";

export { JsonLineDecoder } from "./json-wire.js";
export type * from "./qmp-commands.js";

/** A QMP command QEMU answered with an error; `desc` is QEMU's own message. */
export class QmpError extends Error {
  constructor(
    readonly command: string,
    readonly errorClass: string,
    readonly desc: string,
  ) {
    super(`QMP ${command}: ${desc} (${errorClass})`);
    this.name = "QmpError";
  }
}

export class QmpTimeoutError extends Error {
  constructor(
    readonly command: string,
    readonly timeoutMs: number,
  ) {
    super(`QMP ${command}: no reply within ${timeoutMs} ms`);
    this.name = "QmpTimeoutError";
  }
}

export class QmpClosedError extends Error {
  constructor(readonly command: string) {
    super(`QMP ${command}: connection closed`);
    this.name = "QmpClosedError";
  }
}

/** An event of the map, discriminated by name. */
export type QmpEvent<N extends QmpEventName = QmpEventName> = {
  [K in N]: {
    event: K;
    data: QmpEvents[K];
    /** QEMU's own timestamp of the event, as epoch milliseconds (QEMU's clock, not ours). */
    timeMs: number;
  };
}[N];

export interface QmpConnectOptions {
  /** Keep retrying while the socket does not exist yet (QEMU still starting). */
  timeoutMs: number;
  /** Default per-command timeout. */
  commandTimeoutMs?: number;
  /** Stop retrying early, e.g. when the QEMU process has exited. */
  signal?: AbortSignal;
}

const qmpErrors = {
  reply: (c: string, cls: string, desc: string) => new QmpError(c, cls, desc),
  timeout: (c: string, ms: number) => new QmpTimeoutError(c, ms),
  closed: (c: string) => new QmpClosedError(c),
};

/**
 * A QMP client over a unix socket: greeting and capabilities handshake, typed commands
 * (`QmpCommands`) matched to replies by id, each with a timeout, and asynchronous events
 * emitted as `event` (and by name as `event:NAME`); `onEvent`/`waitForEvent` are the typed
 * way to listen. Emits `close` once when the connection ends.
 */
export class QmpClient extends EventEmitter {
  private constructor(
    private readonly wire: JsonWire,
    private readonly commandTimeoutMs: number,
  ) {
    super();
  }

  static async connect(path: string, opts: QmpConnectOptions): Promise<QmpClient> {
    const socket = await connectWithRetry(path, opts.timeoutMs, opts.signal);
    let client: QmpClient | undefined;
    let greet: (() => void) | undefined;
    const greeted = new Promise<void>((resolve) => {
      greet = resolve;
    });
    const wire = new JsonWire(socket, qmpErrors, (msg) => {
      if (msg.QMP !== undefined) greet?.();
      else client?.dispatchEvent(msg);
    });
    client = new QmpClient(wire, opts.commandTimeoutMs ?? 10_000);
    wire.onceClosed(() => client?.emit("close"));
    let timer: NodeJS.Timeout | undefined;
    const failed = new Promise<never>((_, reject) => {
      timer = setTimeout(
        () => reject(new Error(`QMP: no greeting within ${opts.timeoutMs} ms`)),
        opts.timeoutMs,
      );
      wire.onceClosed(() => reject(new Error("QMP: connection closed before greeting")));
    });
    try {
      await Promise.race([greeted, failed]);
      await client.execute("qmp_capabilities");
      return client;
    } catch (err) {
      wire.close();
      throw err;
    } finally {
      clearTimeout(timer);
    }
  }

  private dispatchEvent(msg: WireMessage): void {
    if (typeof msg.event !== "string") return; // a reply to a command that already timed out
    const ts = msg.timestamp;
    const event = {
      event: msg.event,
      data: (msg.data as Record<string, unknown>) ?? {},
      timeMs: ts ? ts.seconds * 1000 + ts.microseconds / 1000 : Date.now(),
    } as QmpEvent;
    this.emit("event", event);
    this.emit(`event:${event.event}`, event);
  }

  get isClosed(): boolean {
    return this.wire.isClosed;
  }

  /** Run `command` with its typed arguments; resolves with its typed return value. */
  execute<C extends QmpCommandName>(
    command: C,
    ...[args, opts]: ArgsParams<QmpCommands[C]["args"]>
  ): Promise<QmpCommands[C]["ret"]> {
    const timeoutMs = (opts as ExecuteOptions | undefined)?.timeoutMs ?? this.commandTimeoutMs;
    return this.wire.request(command, args, { timeoutMs }) as Promise<QmpCommands[C]["ret"]>;
  }

  /** Call `handler` for every `name` event until the returned function is called. */
  onEvent<N extends QmpEventName>(name: N, handler: (e: QmpEvent<N>) => void): () => void {
    const h = handler as (e: QmpEvent) => void;
    this.on(`event:${name}`, h);
    return () => this.off(`event:${name}`, h);
  }

  /**
   * Resolve with the next event named `name` that satisfies `match`. Register before the
   * command that causes the event, or a fast QEMU may emit it before you listen.
   */
  waitForEvent<N extends QmpEventName>(
    name: N,
    opts: { timeoutMs: number; match?: (e: QmpEvent<N>) => boolean; signal?: AbortSignal },
  ): Promise<QmpEvent<N>> {
    return new Promise<QmpEvent<N>>((resolve, reject) => {
      const finish = (err: Error | undefined, ev?: QmpEvent<N>) => {
        clearTimeout(timer);
        off();
        this.off("close", onClose);
        opts.signal?.removeEventListener("abort", onAbort);
        if (err) reject(err);
        else resolve(ev as QmpEvent<N>);
      };
      const onClose = () => finish(new QmpClosedError(`wait for ${name}`));
      const onAbort = () => finish(new Error(`wait for ${name}: aborted`));
      const timer = setTimeout(
        () => finish(new Error(`no ${name} event within ${opts.timeoutMs} ms`)),
        opts.timeoutMs,
      );
      let off = () => {};
      if (this.isClosed) return onClose();
      off = this.onEvent(name, (e) => {
        if (!opts.match || opts.match(e)) finish(undefined, e);
      });
      this.once("close", onClose);
      opts.signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  close(): void {
    this.wire.close();
  }
}
