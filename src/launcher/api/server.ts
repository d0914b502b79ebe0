import { createServer as createHttpServer, type IncomingMessage, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { TLSSocket } from "node:tls";
import type { Logger } from "../../util/log.js";
import { bindFirst, listenOn } from "../listen.js";
import { socketRefusal } from "./client-identity.js";
import { guestControlRoutes } from "./guest-control.js";
import { healthRoutes, metricsRoutes, statusRoutes } from "./health.js";
import { type Handler, router, sendError } from "./http.js";
import { migrationRoutes } from "./migration.js";
import { startRoutes } from "./start.js";
import { readTlsFiles, SECURE_CONTEXT, watchTls } from "./tls-reload.js";
import { upgrades } from "./upgrade.js";
import type { LauncherView } from "./view.js";

export interface ServerOptions {
  /** Addresses to bind, in order of preference (listen.ts): the first that binds is used. */
  hosts: string[];
  port: number;
  probePort: number;
  /** Holds tls.crt, tls.key (the launcher's serving certificate) and ca.crt (the operator's CA). */
  tlsDir: string;
  view: LauncherView;
  log: Logger;
  /** How often the TLS files are checked for renewal (tls-reload.ts); default 10 s. */
  tlsReloadMs?: number;
}

export interface LauncherServers {
  close(): Promise<void>;
}

/**
 * The launcher API on the pod's addresses (listen.ts): everything behind mutual TLS on `port` (a client without
 * a certificate from the operator's CA fails the handshake), and /healthz and /readyz also
 * in plain HTTP on `probePort` for the kubelet, which has no client certificate, beside
 * /metrics for Prometheus (figures about this VM only; nothing it serves changes anything).
 */
export async function startServers(opts: ServerOptions): Promise<LauncherServers> {
  const tls = await readTlsFiles(opts.tlsDir);
  const { cert, key, ca } = tls;
  const { view, log } = opts;
  const api = createHttpsServer(
    { cert, key, ca, requestCert: true, rejectUnauthorized: true, ...SECURE_CONTEXT },
    pinned(
      guarded(
        router([
          ...healthRoutes(view),
          ...statusRoutes(view),
          ...startRoutes(view),
          ...migrationRoutes(() => view.migration()),
          ...guestControlRoutes(view),
        ]),
        log,
      ),
      log,
    ),
  );
  const upgrade = upgrades(view, log);
  api.on("upgrade", (req: IncomingMessage, socket: TLSSocket, head: Buffer) => {
    const refusal = socketRefusal(socket);
    if (!refusal) return upgrade(req, socket, head);
    log.warn({ refusal, remote: socket.remoteAddress }, "client refused");
    socket.end("HTTP/1.1 403 Forbidden\r\nconnection: close\r\ncontent-length: 0\r\n\r\n");
  });
  api.on("tlsClientError", (err, socket: TLSSocket) =>
    log.warn({ err, remote: socket.remoteAddress }, "TLS handshake refused"),
  );
  const probes = createHttpServer(
    guarded(router([...healthRoutes(view), ...metricsRoutes(view)]), log),
  );
  const host = await bindFirst(opts.hosts, async (h) => {
    await listenOn(api, h, opts.port);
    return h;
  });
  try {
    await listenOn(probes, host, opts.probePort);
  } catch (err) {
    await closeServer(api);
    throw err;
  }
  log.info({ host, port: opts.port, probePort: opts.probePort }, "launcher API listening");
  const stopWatching = watchTls(api, opts.tlsDir, tls, log, opts.tlsReloadMs);
  return {
    close: async () => {
      stopWatching();
      await Promise.all([closeServer(api), closeServer(probes)]);
    },
  };
}

/** Only the operator's identity gets past this (client-identity.ts): 403 for anyone else. */
function pinned(handler: Handler, log: Logger): Handler {
  return (req, res) => {
    const refusal = socketRefusal(req.socket as TLSSocket);
    if (!refusal) return handler(req, res);
    log.warn({ refusal, remote: req.socket.remoteAddress, url: req.url }, "client refused");
    res.shouldKeepAlive = false;
    sendError(res, 403, refusal);
  };
}

/** A handler that fails answers 500 instead of leaving the request hanging. */
function guarded(handler: Handler, log: Logger): Handler {
  return async (req, res) => {
    try {
      await handler(req, res);
    } catch (err) {
      log.error({ err, url: req.url }, "request failed");
      if (!res.headersSent) sendError(res, 500, (err as Error).message);
      else res.destroy();
    }
  };
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
