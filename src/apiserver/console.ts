import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocket, WebSocketServer } from "ws";
import { LAUNCHER_PORT, launcherServerName } from "../api/launcher.js";
import { CONSOLE_CLOSE, type ConsoleMode } from "../api/subresources.js";
import type { Logger } from "../util/log.js";
import { hostPort } from "../util/net.js";
import type { UserInfo } from "./auth.js";

export interface LauncherTls {
  caPem: string;
  certPem: string;
  keyPem: string;
}

const UPSTREAM_CONNECT_TIMEOUT_MS = 5_000;

/**
 * What one console session may cost the server (which shares a process with the
 * operator): a user's frame is typing, so it is small; output is read from the launcher
 * only as fast as the user takes it; a peer that stops answering pings is dropped; and the
 * number of sessions is capped per VM and overall.
 */
export interface ConsoleLimits {
  /** Largest frame a user may send; a larger one closes the session (1009). */
  clientMaxPayload: number;
  /** Largest frame accepted from a launcher. */
  upstreamMaxPayload: number;
  /** Bytes sent but not yet written out before reading from the other side pauses. */
  highWater: number;
  /** Reading resumes once the backlog is down to this. */
  lowWater: number;
  /** Both peers are pinged this often; one that has not answered the last ping is dropped. */
  pingIntervalMs: number;
  /** Sessions (interactive and watchers) per VM, and in this process. */
  maxPerVm: number;
  maxTotal: number;
}

export const DEFAULT_CONSOLE_LIMITS: ConsoleLimits = {
  clientMaxPayload: 64 * 1024,
  upstreamMaxPayload: 1024 * 1024,
  highWater: 256 * 1024,
  lowWater: 64 * 1024,
  pingIntervalMs: 30_000,
  maxPerVm: 8,
  maxTotal: 256,
};

/** The WebSocket server the console upgrades go through, with the user-side frame cap. */
export function consoleServer(limits: ConsoleLimits = DEFAULT_CONSOLE_LIMITS): WebSocketServer {
  return new WebSocketServer({ noServer: true, maxPayload: limits.clientMaxPayload });
}

/** Pure: `?mode=watch` asks for a read-only session; anything else is interactive. */
export function consoleMode(url: string): ConsoleMode {
  return new URL(url, "https://apiserver").searchParams.get("mode") === "watch"
    ? "watch"
    : "interactive";
}

/**
 * One interactive session per VM, in this process: a new one takes over and the previous
 * one is closed with CONSOLE_CLOSE.takenOver and a reason naming who took it. Watchers are
 * not counted. (Several server replicas each keep their own table; see README.)
 */
export class ConsoleSessions {
  private readonly interactive = new Map<string, WebSocket>();
  /** Sessions open or being opened, per VM; a slot is taken before the launcher is dialled. */
  private readonly open = new Map<string, number>();
  private total = 0;

  constructor(
    private readonly limits: Pick<ConsoleLimits, "maxPerVm" | "maxTotal"> = DEFAULT_CONSOLE_LIMITS,
  ) {}

  /** Takes a session slot, or says why there is none; give it back with `leave`. */
  enter(vmKey: string): string | undefined {
    const here = this.open.get(vmKey) ?? 0;
    if (here >= this.limits.maxPerVm)
      return `VM ${vmKey} already has ${here} console sessions (the limit)`;
    if (this.total >= this.limits.maxTotal)
      return `this server already relays ${this.total} console sessions (the limit)`;
    this.open.set(vmKey, here + 1);
    this.total++;
    return undefined;
  }

  leave(vmKey: string): void {
    const here = this.open.get(vmKey) ?? 0;
    if (here <= 0) return;
    if (here === 1) this.open.delete(vmKey);
    else this.open.set(vmKey, here - 1);
    this.total--;
  }

  claim(vmKey: string, ws: WebSocket, user: UserInfo): void {
    const previous = this.interactive.get(vmKey);
    this.interactive.set(vmKey, ws);
    previous?.close(
      CONSOLE_CLOSE.takenOver,
      truncateReason(`another interactive console session (user ${user.name}) took over`),
    );
  }

  release(vmKey: string, ws: WebSocket): void {
    if (this.interactive.get(vmKey) === ws) this.interactive.delete(vmKey);
  }

  get size(): number {
    return this.interactive.size;
  }
}

/** A WebSocket close reason is at most 123 bytes. */
export function truncateReason(reason: string): string {
  const bytes = Buffer.from(reason, "utf8");
  return bytes.length <= 123
    ? reason
    : bytes
        .subarray(0, 120)
        .toString("utf8")
        .replace(/\uFFFD$/, "");
}

export interface Upstream {
  podIP: string;
  namespace: string;
  vmName: string;
  port?: number;
}

/** The launcher's console URL: an IPv6 pod IP in brackets. */
export function launcherConsoleUrl(
  target: Pick<Upstream, "podIP" | "port">,
  path = "/console",
): string {
  return `wss://${hostPort(target.podIP, target.port ?? LAUNCHER_PORT)}${path}`;
}

/**
 * Open the launcher's /console (or /vnc) over mutual TLS with the operator's client
 * certificate, checking the launcher's certificate under the VM's launcher server name.
 */
export function connectLauncher(
  target: Upstream,
  tls: LauncherTls,
  limits: Pick<ConsoleLimits, "upstreamMaxPayload"> = DEFAULT_CONSOLE_LIMITS,
  /** `/console`, `/vnc` or `/portforward/{port}`. */
  path = "/console",
): Promise<WebSocket> {
  const options = {
    maxPayload: limits.upstreamMaxPayload,
    servername: launcherServerName(target.namespace, target.vmName),
    ca: tls.caPem,
    cert: tls.certPem,
    key: tls.keyPem,
    handshakeTimeout: UPSTREAM_CONNECT_TIMEOUT_MS,
  };
  const ws = new WebSocket(launcherConsoleUrl(target, path), options);
  return new Promise((resolve, reject) => {
    ws.once("open", () => {
      ws.off("error", reject);
      resolve(ws);
    });
    ws.once("error", reject);
    ws.once("unexpected-response", (_req, res) => {
      reject(new Error(`launcher answered HTTP ${res.statusCode}`));
      ws.terminate();
    });
  });
}

/**
 * Complete the client's upgrade and pump bytes both ways (the console's and VNC's relay
 * alike). Upstream output goes to the client as binary frames; the client's input goes
 * upstream only in interactive mode. `exclusive` (default: interactive mode) makes the
 * session take over the VM's previous one; VNC sessions are not exclusive (QEMU serves
 * several viewers). Either side
 * ending ends the other, the client with CONSOLE_CLOSE.upstreamGone so it knows to reconnect.
 * The caller holds a session slot (`sessions.enter`); relay gives it back when either side
 * ends, also when the client left before the upgrade completed.
 */
export function relay(opts: {
  wss: WebSocketServer;
  req: IncomingMessage;
  socket: Duplex;
  head: Buffer;
  upstream: WebSocket;
  mode: ConsoleMode;
  vmKey: string;
  user: UserInfo;
  sessions: ConsoleSessions;
  log: Logger;
  limits?: ConsoleLimits;
  exclusive?: boolean;
  /** What the logs call the session; default "console". */
  what?: string;
}): void {
  const { upstream, mode, vmKey, sessions, log } = opts;
  // vmKey is <namespace>/<name>; logs carry them under the keys every component uses.
  const [namespace, vm] = vmKey.split("/");
  const exclusive = opts.exclusive ?? mode === "interactive";
  const what = opts.what ?? "console";
  const limits = opts.limits ?? DEFAULT_CONSOLE_LIMITS;
  // The client may have gone while the launcher connection was being made.
  if (opts.socket.destroyed) {
    sessions.leave(vmKey);
    upstream.close();
    return;
  }
  // Called synchronously after the upstream opened, so no replayed output is missed: ws
  // completes the upgrade and runs the callback before any further I/O event.
  opts.wss.handleUpgrade(opts.req, opts.socket, opts.head, (client) => {
    log.info({ namespace, vm, user: opts.user.name, mode }, `${what} session attached`);
    if (exclusive) sessions.claim(vmKey, client, opts.user);
    pipe(upstream, client, limits);
    // Watchers' input is read (so pings and closes are seen) and dropped.
    if (mode === "interactive") pipe(client, upstream, limits);
    const stopPings = [heartbeat(client, limits), heartbeat(upstream, limits)];
    upstream.on("close", (code, reason) => {
      const why = reason.toString() || `code ${code}`;
      if (client.readyState === WebSocket.OPEN || client.readyState === WebSocket.CONNECTING)
        client.close(CONSOLE_CLOSE.upstreamGone, truncateReason(`launcher ${what} ended: ${why}`));
    });
    upstream.on("error", (err) => log.warn({ namespace, vm, err }, `launcher ${what} error`));
    client.on("close", (code) => {
      for (const stop of stopPings) stop();
      sessions.release(vmKey, client);
      sessions.leave(vmKey);
      upstream.close();
      log.info({ namespace, vm, user: opts.user.name, mode, code }, `${what} session detached`);
    });
    client.on("error", (err) => log.warn({ namespace, vm, err }, `${what} client error`));
  });
}

/**
 * Forward `from`'s frames to `to`, reading from `from` only while `to` keeps up: past
 * `highWater` bytes handed to `to` but not yet written out, `from` is paused (TCP then
 * pushes back on its sender) until the backlog drains to `lowWater`. Memory per direction
 * stays around highWater plus one frame, however fast one side talks and slow the other reads.
 */
function pipe(from: WebSocket, to: WebSocket, limits: ConsoleLimits): void {
  let pending = 0;
  let paused = false;
  from.on("message", (data: Buffer, isBinary: boolean) => {
    if (to.readyState !== WebSocket.OPEN) return;
    pending += data.length;
    to.send(data, { binary: isBinary }, () => {
      pending -= data.length;
      if (paused && pending <= limits.lowWater) {
        paused = false;
        from.resume();
      }
    });
    if (!paused && pending > limits.highWater) {
      paused = true;
      from.pause();
    }
  });
}

/** Ping `ws` every interval; if the previous ping went unanswered, drop it. Returns stop. */
function heartbeat(ws: WebSocket, limits: ConsoleLimits): () => void {
  let answered = true;
  ws.on("pong", () => {
    answered = true;
  });
  const timer = setInterval(() => {
    if (!answered) {
      ws.terminate();
      return;
    }
    answered = false;
    if (ws.readyState === WebSocket.OPEN) ws.ping();
  }, limits.pingIntervalMs);
  timer.unref();
  ws.once("close", () => clearInterval(timer));
  return () => clearInterval(timer);
}
