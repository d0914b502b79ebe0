import { EventEmitter } from "node:events";
import type { Socket } from "node:net";
import { ByteRing } from "./ring.js";
import { connectWithRetry } from "./socket.js";

export interface ConsoleAttachment {
  detach(): void;
}

/** Bytes of recent output replayed to a client on attach. */
export const DEFAULT_CONSOLE_BUFFER = 256 * 1024;
/** How much recent text `waitFor` keeps per waiter so a match may span chunks. */
const WAIT_WINDOW = 64 * 1024;

/**
 * The guest's serial console, shared: one connection to QEMU's serial socket, fanned out to
 * any number of clients that attach and detach at will. Recent output is kept in a bounded
 * ring and replayed on attach, so a late client still sees the boot messages. Input from any
 * client goes to the guest. Emits `close` when QEMU closes the port.
 */
export class SerialConsole extends EventEmitter {
  private readonly ring: ByteRing;
  private readonly clients = new Set<(chunk: Buffer) => void>();
  private closed = false;

  constructor(
    private readonly socket: Socket,
    bufferBytes: number = DEFAULT_CONSOLE_BUFFER,
  ) {
    super();
    this.ring = new ByteRing(bufferBytes);
    socket.on("data", (chunk: Buffer) => {
      this.ring.push(chunk);
      for (const client of this.clients) client(chunk);
    });
    socket.on("error", () => {});
    socket.on("close", () => {
      this.closed = true;
      this.emit("close");
    });
  }

  static async connect(
    path: string,
    opts: { timeoutMs: number; bufferBytes?: number; signal?: AbortSignal },
  ): Promise<SerialConsole> {
    const socket = await connectWithRetry(path, opts.timeoutMs, opts.signal);
    return new SerialConsole(socket, opts.bufferBytes);
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /** Recent output, oldest first (at most the buffer size). */
  recent(): Buffer {
    return this.ring.contents();
  }

  attach(onData: (chunk: Buffer) => void, opts: { replay?: boolean } = {}): ConsoleAttachment {
    if (opts.replay ?? true) {
      const backlog = this.ring.contents();
      if (backlog.length > 0) onData(backlog);
    }
    this.clients.add(onData);
    return { detach: () => this.clients.delete(onData) };
  }

  /** Attach line-wise: each complete line with the time (epoch ms) its end arrived. */
  attachLines(
    onLine: (line: string, timeMs: number) => void,
    opts: { replay?: boolean } = {},
  ): ConsoleAttachment {
    let partial = "";
    return this.attach((chunk) => {
      const now = Date.now();
      const lines = (partial + chunk.toString("latin1")).split("\n");
      partial = lines.pop() ?? "";
      for (const line of lines) onLine(line.replace(/\r$/, ""), now);
    }, opts);
  }

  write(data: string | Buffer): void {
    if (this.closed) throw new Error("serial console is closed");
    this.socket.write(data);
  }

  /**
   * Resolve when output arriving from now on (plus the replayed buffer if `includeRecent`)
   * matches `pattern`; reject after `timeoutMs`, on abort, or when the console closes.
   */
  waitFor(
    pattern: RegExp | string,
    opts: { timeoutMs: number; includeRecent?: boolean; signal?: AbortSignal },
  ): Promise<RegExpExecArray> {
    const re = typeof pattern === "string" ? new RegExp(escapeRegExp(pattern)) : pattern;
    return new Promise((resolve, reject) => {
      let window = "";
      let attachment: ConsoleAttachment | undefined;
      let done = false;
      const finish = (err: Error | undefined, match?: RegExpExecArray) => {
        done = true;
        clearTimeout(timer);
        attachment?.detach();
        this.off("close", onClose);
        opts.signal?.removeEventListener("abort", onAbort);
        if (err) reject(err);
        else resolve(match as RegExpExecArray);
      };
      const onClose = () => finish(new Error(`console closed before ${re} was seen`));
      const onAbort = () => finish(opts.signal?.reason ?? new Error("aborted"));
      const timer = setTimeout(
        () => finish(new Error(`${re} not seen on the console within ${opts.timeoutMs} ms`)),
        opts.timeoutMs,
      );
      if (this.closed) return onClose();
      this.once("close", onClose);
      opts.signal?.addEventListener("abort", onAbort, { once: true });
      attachment = this.attach(
        (chunk) => {
          window = (window + chunk.toString("latin1")).slice(-WAIT_WINDOW);
          const match = re.exec(window);
          if (match) finish(undefined, match);
        },
        { replay: opts.includeRecent ?? false },
      );
      // The replayed backlog may already have matched, before `attachment` was assigned.
      if (done) attachment.detach();
    });
  }

  close(): void {
    this.socket.destroy();
  }
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
