import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { connectWithRetry } from "./socket.js";

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

export interface QmpEvent {
  event: string;
  data: Record<string, unknown>;
  /** QEMU's own timestamp of the event, as epoch milliseconds (QEMU's clock, not ours). */
  timeMs: number;
}

interface Pending {
  command: string;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export interface QmpConnectOptions {
  /** Keep retrying while the socket does not exist yet (QEMU still starting). */
  timeoutMs: number;
  /** Default per-command timeout. */
  commandTimeoutMs?: number;
  /** Stop retrying early, e.g. when the QEMU process has exited. */
  signal?: AbortSignal;
}

/** Split a byte stream into newline-terminated JSON messages (QEMU ends each with \r\n). */
export class JsonLineDecoder {
  private rest = "";

  push(chunk: string): unknown[] {
    const lines = (this.rest + chunk).split("\n");
    this.rest = lines.pop() ?? "";
    return lines.filter((l) => l.trim() !== "").map((l) => JSON.parse(l));
  }
}

/**
 * A QMP client over a unix socket: greeting and capabilities handshake, commands matched to
 * replies by id, each with a timeout, and asynchronous events emitted as `event` (and by
 * name as `event:NAME`). Emits `close` once when the connection ends.
 */
export class QmpClient extends EventEmitter {
  private nextId = 1;
  private readonly pending = new Map<string, Pending>();
  private closed = false;

  private constructor(
    private readonly socket: Socket,
    private readonly commandTimeoutMs: number,
  ) {
    super();
  }

  static async connect(path: string, opts: QmpConnectOptions): Promise<QmpClient> {
    const socket = await connectWithRetry(path, opts.timeoutMs, opts.signal);
    const client = new QmpClient(socket, opts.commandTimeoutMs ?? 10_000);
    await client.handshake(opts.timeoutMs);
    return client;
  }

  private handshake(timeoutMs: number): Promise<void> {
    const decoder = new JsonLineDecoder();
    return new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.socket.destroy();
        reject(new Error(`QMP: no greeting within ${timeoutMs} ms`));
      }, timeoutMs);
      let greeted = false;
      this.socket.setEncoding("utf8");
      this.socket.on("data", (chunk: string) => {
        for (const msg of decoder.push(chunk) as Record<string, unknown>[]) {
          if (!greeted && "QMP" in msg) {
            greeted = true;
            clearTimeout(timer);
            this.execute("qmp_capabilities").then(() => resolve(), reject);
          } else {
            this.dispatch(msg);
          }
        }
      });
      this.socket.on("close", () => {
        clearTimeout(timer);
        if (!greeted) reject(new Error("QMP: connection closed before greeting"));
        this.onClose();
      });
      // Errors always end in `close`, which is where pending work is failed.
      this.socket.on("error", () => {});
    });
  }

  private dispatch(msg: Record<string, unknown>): void {
    if (typeof msg.event === "string") {
      const ts = msg.timestamp as { seconds: number; microseconds: number } | undefined;
      const event: QmpEvent = {
        event: msg.event,
        data: (msg.data as Record<string, unknown>) ?? {},
        timeMs: ts ? ts.seconds * 1000 + ts.microseconds / 1000 : Date.now(),
      };
      this.emit("event", event);
      this.emit(`event:${event.event}`, event);
      return;
    }
    const id = typeof msg.id === "string" ? msg.id : undefined;
    const pending = id === undefined ? undefined : this.pending.get(id);
    if (!pending || id === undefined) return; // a reply to a command that already timed out
    this.pending.delete(id);
    clearTimeout(pending.timer);
    const error = msg.error as { class?: string; desc?: string } | undefined;
    if (error) {
      pending.reject(
        new QmpError(pending.command, error.class ?? "GenericError", error.desc ?? ""),
      );
    } else {
      pending.resolve(msg.return);
    }
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const [id, p] of this.pending) {
      clearTimeout(p.timer);
      p.reject(new QmpClosedError(p.command));
      this.pending.delete(id);
    }
    this.emit("close");
  }

  get isClosed(): boolean {
    return this.closed;
  }

  execute<T = unknown>(
    command: string,
    args?: Record<string, unknown>,
    opts: { timeoutMs?: number } = {},
  ): Promise<T> {
    if (this.closed) return Promise.reject(new QmpClosedError(command));
    const id = `kv-${this.nextId++}`;
    const timeoutMs = opts.timeoutMs ?? this.commandTimeoutMs;
    return new Promise<T>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new QmpTimeoutError(command, timeoutMs));
      }, timeoutMs);
      this.pending.set(id, { command, resolve: resolve as (v: unknown) => void, reject, timer });
      const msg = args ? { execute: command, arguments: args, id } : { execute: command, id };
      this.socket.write(`${JSON.stringify(msg)}\n`);
    });
  }

  /**
   * Resolve with the next event named `name` that satisfies `match`. Register before the
   * command that causes the event, or a fast QEMU may emit it before you listen.
   */
  waitForEvent(
    name: string,
    opts: { timeoutMs: number; match?: (e: QmpEvent) => boolean; signal?: AbortSignal },
  ): Promise<QmpEvent> {
    return new Promise<QmpEvent>((resolve, reject) => {
      const finish = (err: Error | undefined, ev?: QmpEvent) => {
        clearTimeout(timer);
        this.off(`event:${name}`, onEvent);
        this.off("close", onClose);
        opts.signal?.removeEventListener("abort", onAbort);
        if (err) reject(err);
        else resolve(ev as QmpEvent);
      };
      const onEvent = (e: QmpEvent) => {
        if (!opts.match || opts.match(e)) finish(undefined, e);
      };
      const onClose = () => finish(new QmpClosedError(`wait for ${name}`));
      const onAbort = () => finish(new Error(`wait for ${name}: aborted`));
      const timer = setTimeout(
        () => finish(new Error(`no ${name} event within ${opts.timeoutMs} ms`)),
        opts.timeoutMs,
      );
      if (this.closed) return onClose();
      this.on(`event:${name}`, onEvent);
      this.once("close", onClose);
      opts.signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
