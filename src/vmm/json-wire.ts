import type { Socket } from "node:net";

/**
 * The framing QMP and the guest agent share: newline-terminated JSON objects, requests
 * matched to replies by `id`, each with a timeout. Both protocols come from QEMU's QAPI
 * dispatcher, so an error reply is `{"error": {"class", "desc"}}` in either.
 */

/** One decoded message: a reply (`return`/`error`), or a QMP event. */
export interface WireMessage {
  id?: unknown;
  return?: unknown;
  error?: { class?: string; desc?: string };
  event?: string;
  data?: unknown;
  timestamp?: { seconds: number; microseconds: number };
  QMP?: unknown;
}

/** The guest agent's resynchronisation sentinel: never valid UTF-8, so never inside JSON. */
export const SYNC_SENTINEL = 0xff;

/**
 * Split a byte stream into JSON messages (QEMU ends each with \r\n). Bytes before a 0xFF
 * sentinel on a line are stale and dropped, as are lines that do not parse: the agent's
 * channel may hold a half-written message from an earlier connection.
 */
export class JsonLineDecoder {
  private rest = Buffer.alloc(0);

  push(chunk: Buffer | string): WireMessage[] {
    let buf = Buffer.concat([this.rest, typeof chunk === "string" ? Buffer.from(chunk) : chunk]);
    const out: WireMessage[] = [];
    for (let nl = buf.indexOf(0x0a); nl >= 0; nl = buf.indexOf(0x0a)) {
      let line = buf.subarray(0, nl);
      buf = buf.subarray(nl + 1);
      const sentinel = line.lastIndexOf(SYNC_SENTINEL);
      if (sentinel >= 0) line = line.subarray(sentinel + 1);
      const text = line.toString("utf8").trim();
      if (text === "") continue;
      try {
        const msg = JSON.parse(text) as unknown;
        if (msg !== null && typeof msg === "object") out.push(msg as WireMessage);
      } catch {
        // A torn message from before a resync; the caller only waits for ids it sent.
      }
    }
    this.rest = Buffer.from(buf);
    return out;
  }
}

/** How a protocol names its failures (QMP and the agent keep their own error classes). */
export interface WireErrors {
  reply(command: string, errorClass: string, desc: string): Error;
  timeout(command: string, timeoutMs: number): Error;
  closed(command: string): Error;
}

interface Pending {
  command: string;
  match: (msg: WireMessage) => boolean;
  resolve: (value: unknown) => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export interface RequestOptions {
  timeoutMs: number;
  /** Bytes sent right before the request (the agent's 0xFF parser reset). */
  prefix?: Buffer;
  /**
   * Which reply answers this request, when it is not the one carrying our id (the agent's
   * `guest-sync` reply is recognised by its returned value).
   */
  match?: (msg: WireMessage) => boolean;
  /** Omit `id` from the request (with `match`). */
  noId?: boolean;
}

/**
 * One connection speaking the shared framing. Messages that answer no pending request
 * (events, replies to requests that timed out) go to `onUnmatched`.
 */
export class JsonWire {
  private nextId = 1;
  private readonly pending = new Set<Pending>();
  private readonly decoder = new JsonLineDecoder();
  private closed = false;
  private readonly closeListeners: (() => void)[] = [];

  constructor(
    private readonly socket: Socket,
    private readonly errors: WireErrors,
    private readonly onUnmatched: (msg: WireMessage) => void,
    private readonly idPrefix = "kv",
  ) {
    socket.on("data", (chunk: Buffer) => {
      for (const msg of this.decoder.push(chunk)) this.dispatch(msg);
    });
    // Errors always end in `close`, which is where pending work is failed.
    socket.on("error", () => {});
    socket.on("close", () => this.onClose());
  }

  get isClosed(): boolean {
    return this.closed;
  }

  onceClosed(listener: () => void): void {
    if (this.closed) listener();
    else this.closeListeners.push(listener);
  }

  private dispatch(msg: WireMessage): void {
    for (const p of this.pending) {
      if (!p.match(msg)) continue;
      this.pending.delete(p);
      clearTimeout(p.timer);
      if (msg.error) {
        p.reject(
          this.errors.reply(p.command, msg.error.class ?? "GenericError", msg.error.desc ?? ""),
        );
      } else {
        p.resolve(msg.return);
      }
      return;
    }
    this.onUnmatched(msg);
  }

  private onClose(): void {
    if (this.closed) return;
    this.closed = true;
    for (const p of this.pending) {
      clearTimeout(p.timer);
      p.reject(this.errors.closed(p.command));
    }
    this.pending.clear();
    for (const l of this.closeListeners.splice(0)) l();
  }

  /** Send `{execute, arguments}` and resolve with the reply's `return`. */
  request(command: string, args: unknown, opts: RequestOptions): Promise<unknown> {
    if (this.closed) return Promise.reject(this.errors.closed(command));
    const id = `${this.idPrefix}-${this.nextId++}`;
    const match = opts.match ?? ((m: WireMessage) => m.id === id);
    return new Promise<unknown>((resolve, reject) => {
      const entry: Pending = {
        command,
        match,
        resolve,
        reject,
        timer: setTimeout(() => {
          this.pending.delete(entry);
          reject(this.errors.timeout(command, opts.timeoutMs));
        }, opts.timeoutMs),
      };
      this.pending.add(entry);
      const msg: Record<string, unknown> = { execute: command };
      if (args !== undefined) msg.arguments = args;
      if (!opts.noId) msg.id = id;
      const line = Buffer.from(`${JSON.stringify(msg)}\n`);
      this.socket.write(opts.prefix ? Buffer.concat([opts.prefix, line]) : line);
    });
  }

  close(): void {
    this.socket.destroy();
  }
}
