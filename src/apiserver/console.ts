import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocket, type WebSocketServer } from "ws";
import { LAUNCHER_PORT, launcherServerName } from "../api/launcher.js";
import { CONSOLE_CLOSE, type ConsoleMode } from "../api/subresources.js";
import type { Logger } from "../util/log.js";
import type { UserInfo } from "./auth.js";

export interface LauncherTls {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** A client this far behind is dropped rather than buffered without bound. */
const MAX_CLIENT_BACKLOG = 8 * 1024 * 1024;
const UPSTREAM_CONNECT_TIMEOUT_MS = 5_000;

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

/**
 * Open the launcher's /console over mutual TLS with the operator's client certificate,
 * checking the launcher's certificate under the VM's launcher server name.
 */
export function connectLauncher(target: Upstream, tls: LauncherTls): Promise<WebSocket> {
  const options = {
    servername: launcherServerName(target.namespace, target.vmName),
    ca: tls.caPem,
    cert: tls.certPem,
    key: tls.keyPem,
    handshakeTimeout: UPSTREAM_CONNECT_TIMEOUT_MS,
  };
  const ws = new WebSocket(
    `wss://${target.podIP}:${target.port ?? LAUNCHER_PORT}/console`,
    options,
  );
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
 * Complete the client's upgrade and pump bytes both ways. Upstream output goes to the client
 * as binary frames; the client's input goes upstream only in interactive mode. Either side
 * ending ends the other, the client with CONSOLE_CLOSE.upstreamGone so it knows to reconnect.
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
}): void {
  const { upstream, mode, vmKey, sessions, log } = opts;
  // The client may have gone while the launcher connection was being made.
  if (opts.socket.destroyed) {
    upstream.close();
    return;
  }
  // Called synchronously after the upstream opened, so no replayed output is missed: ws
  // completes the upgrade and runs the callback before any further I/O event.
  opts.wss.handleUpgrade(opts.req, opts.socket, opts.head, (client) => {
    log.info({ vm: vmKey, user: opts.user.name, mode }, "console session attached");
    if (mode === "interactive") sessions.claim(vmKey, client, opts.user);
    upstream.on("message", (data: Buffer, isBinary: boolean) => {
      if (client.bufferedAmount > MAX_CLIENT_BACKLOG) {
        client.close(1013, "console client too slow");
        return;
      }
      if (client.readyState === WebSocket.OPEN) client.send(data, { binary: isBinary });
    });
    client.on("message", (data: Buffer, isBinary: boolean) => {
      if (mode === "interactive" && upstream.readyState === WebSocket.OPEN)
        upstream.send(data, { binary: isBinary });
    });
    upstream.on("close", (code, reason) => {
      const why = reason.toString() || `code ${code}`;
      if (client.readyState === WebSocket.OPEN || client.readyState === WebSocket.CONNECTING)
        client.close(CONSOLE_CLOSE.upstreamGone, truncateReason(`launcher console ended: ${why}`));
    });
    upstream.on("error", (err) =>
      log.warn({ vm: vmKey, err: err.message }, "launcher console error"),
    );
    client.on("close", () => {
      sessions.release(vmKey, client);
      upstream.close();
      log.info({ vm: vmKey, user: opts.user.name, mode }, "console session detached");
    });
    client.on("error", (err) => log.warn({ vm: vmKey, err: err.message }, "console client error"));
  });
}
