/**
 * The UI's HTTP server, the same code in both places it runs:
 * - local (`kubectl vm ui`): 127.0.0.1, the user's kubeconfig, a one-time login URL;
 * - cluster (the chart's `ui.enabled`): the user signs in with a bearer token that the app
 *   sends on every request; the server's own ServiceAccount has no rights on VMs.
 * Decisions about who may call live in ./guard.ts; forwarding in ./proxy.ts.
 */
import { randomBytes } from "node:crypto";
import http from "node:http";
import { API_PREFIX, SESSION_COOKIE, UI_HEADER, UI_PROTOCOL } from "../protocol.js";
import { type Asset, assetFor } from "./assets.js";
import {
  checkLocal,
  checkOrigin,
  constantTimeEqual,
  type RequestFacts,
  splitBearerProtocol,
} from "./guard.js";
import {
  forwardHttp,
  forwardUpgrade,
  refuseUpgrade,
  type Upstream,
  upstreamPath,
} from "./proxy.js";

export type UiMode = { kind: "local"; hosts: readonly string[] } | { kind: "cluster" };

/** What the app learns from GET /config.json. */
export interface AppConfig {
  mode: UiMode["kind"];
  namespace: string;
}

export interface UiServerOptions {
  mode: UiMode;
  upstream: Upstream;
  assets: Map<string, Asset>;
  namespace: string;
}

export interface UiServer {
  server: http.Server;
  /** Local mode: the path to open once (`/login?token=…`). */
  loginPath: string;
}

const SECURITY_HEADERS = {
  "content-security-policy":
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  "x-frame-options": "DENY",
  "x-content-type-options": "nosniff",
  // The login URL carries the one-time token: never leak it in a Referer.
  "referrer-policy": "no-referrer",
};

function facts(req: http.IncomingMessage): RequestFacts {
  const h = req.headers;
  return {
    method: req.method ?? "GET",
    host: h.host,
    origin: h.origin,
    cookie: h.cookie,
    uiHeader: typeof h[UI_HEADER] === "string" ? (h[UI_HEADER] as string) : undefined,
    upgrade: (h.upgrade ?? "").toLowerCase() === "websocket",
  };
}

function bearerOf(req: http.IncomingMessage): string | undefined {
  const m = /^Bearer (.+)$/.exec(req.headers.authorization ?? "");
  return m?.[1];
}

function send(res: http.ServerResponse, code: number, type: string, body: string | Buffer) {
  res.writeHead(code, { ...SECURITY_HEADERS, "content-type": type, "cache-control": "no-store" });
  res.end(body);
}

export function createUiServer(opts: UiServerOptions): UiServer {
  const session = randomBytes(32).toString("base64url");
  let oneTimeToken: string | undefined = randomBytes(24).toString("base64url");
  const loginPath = `/login?token=${oneTimeToken}`;
  const config: AppConfig = { mode: opts.mode.kind, namespace: opts.namespace };

  const verdict = (req: http.IncomingMessage) =>
    opts.mode.kind === "local"
      ? checkLocal(facts(req), opts.mode.hosts, session)
      : checkOrigin(facts(req));

  const server = http.createServer((req, res) => {
    const url = new URL(req.url ?? "/", "http://ui.invalid");
    if (url.pathname === "/healthz") return send(res, 200, "text/plain", "ok\n");
    if (opts.mode.kind === "local" && url.pathname === "/login") {
      const token = url.searchParams.get("token") ?? "";
      if (!opts.mode.hosts.includes(req.headers.host ?? ""))
        return send(res, 403, "text/plain", "unexpected Host header\n");
      if (oneTimeToken === undefined || !constantTimeEqual(token, oneTimeToken))
        return send(
          res,
          401,
          "text/plain",
          "This link was used already or is wrong: run `kubectl vm ui` again.\n",
        );
      oneTimeToken = undefined;
      res.writeHead(302, {
        ...SECURITY_HEADERS,
        location: "/",
        "set-cookie": `${SESSION_COOKIE}=${session}; HttpOnly; SameSite=Strict; Path=/`,
      });
      return void res.end();
    }
    const v = verdict(req);
    if (!v.ok) return send(res, v.status, "text/plain", `${v.reason}\n`);
    if (url.pathname === "/config.json")
      return send(res, 200, "application/json", JSON.stringify(config));
    if (url.pathname === API_PREFIX || url.pathname.startsWith(`${API_PREFIX}/`)) {
      const path = upstreamPath(req.url ?? "/", API_PREFIX);
      if (!path) return send(res, 404, "text/plain", "not an API path\n");
      const bearer = opts.mode.kind === "cluster" ? bearerOf(req) : undefined;
      if (opts.mode.kind === "cluster" && !bearer)
        return send(
          res,
          401,
          "application/json",
          JSON.stringify({ kind: "Status", code: 401, message: "sign in first" }),
        );
      return void forwardHttp(req, res, opts.upstream, path, bearer).catch((err: Error) =>
        send(res, 502, "text/plain", `${err.message}\n`),
      );
    }
    if (req.method !== "GET" && req.method !== "HEAD")
      return send(res, 405, "text/plain", "method not allowed\n");
    const asset = assetFor(opts.assets, url.pathname);
    send(res, 200, asset.type, asset.body);
  });

  server.on("upgrade", (req, socket, head) => {
    const v = verdict(req);
    if (!v.ok) return refuseUpgrade(socket, v.status, v.reason);
    const path = upstreamPath(req.url ?? "/", API_PREFIX);
    if (!path) return refuseUpgrade(socket, 404, "not an API path");
    const { token, protocols } = splitBearerProtocol(req.headers["sec-websocket-protocol"]);
    const bearer = opts.mode.kind === "cluster" ? token : undefined;
    if (opts.mode.kind === "cluster" && !bearer) return refuseUpgrade(socket, 401, "sign in first");
    const offered = (req.headers["sec-websocket-protocol"] ?? "").split(",").map((p) => p.trim());
    const answer = offered.includes(UI_PROTOCOL) ? UI_PROTOCOL : undefined;
    forwardUpgrade(req, socket, head, opts.upstream, path, protocols, bearer, answer).catch(
      (err: Error) => refuseUpgrade(socket, 502, err.message),
    );
  });
  return { server, loginPath };
}
