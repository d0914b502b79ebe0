/**
 * Forwards the app's API calls and WebSocket upgrades to the Kubernetes API server with
 * credentials chosen by the caller (kubeconfig in local mode, the user's own bearer token in
 * cluster mode). Only an allowlist of headers crosses in either direction, so a page can
 * never add Impersonate-* or its own Authorization, and no Set-Cookie comes back.
 */
import http from "node:http";
import https from "node:https";
import type { Duplex } from "node:stream";

export interface Upstream {
  server: URL;
  /** TLS and auth for one forwarded request; `bearer` is the user's token in cluster mode. */
  requestOptions(bearer?: string): Promise<https.RequestOptions>;
}

/** Largest request body the app sends (a VM manifest); anything bigger is refused. */
export const MAX_REQUEST_BYTES = 1024 * 1024;
/** A refused upgrade's body (a Status) is copied back up to this size. */
const MAX_REFUSAL_BYTES = 64 * 1024;

const REQUEST_HEADERS = ["accept", "content-type"];
const RESPONSE_HEADERS = ["content-type"];

function pick(headers: http.IncomingHttpHeaders, names: readonly string[]) {
  const out: Record<string, string> = {};
  for (const n of names) {
    const v = headers[n];
    if (typeof v === "string") out[n] = v;
  }
  return out;
}

/** `/k8s/apis/x?y` → `/apis/x?y`; anything outside the API paths is not forwarded. */
export function upstreamPath(url: string, prefix: string): string | undefined {
  const parsed = new URL(url, "http://ui.invalid");
  if (!parsed.pathname.startsWith(`${prefix}/`)) return undefined;
  const path = parsed.pathname.slice(prefix.length);
  // The URL parser already resolved dot segments; what remains must be an API path.
  if (!/^\/(api|apis)(\/|$)/.test(path) && path !== "/version") return undefined;
  return path + parsed.search;
}

function requestTo(upstream: Upstream, opts: https.RequestOptions, init: https.RequestOptions) {
  const lib = upstream.server.protocol === "http:" ? http : https;
  return lib.request({
    ...opts,
    ...init,
    protocol: upstream.server.protocol,
    hostname: upstream.server.hostname.replace(/^\[|\]$/g, ""),
    port: upstream.server.port || (upstream.server.protocol === "http:" ? 80 : 443),
    headers: { ...opts.headers, ...init.headers },
    // Watches stay open as long as the page does; closing the page ends them.
    agent: false,
  });
}

function sendStatus(res: http.ServerResponse, code: number, message: string) {
  if (res.headersSent) return void res.destroy();
  res.writeHead(code, { "content-type": "application/json" });
  res.end(JSON.stringify({ kind: "Status", apiVersion: "v1", status: "Failure", code, message }));
}

export async function forwardHttp(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  upstream: Upstream,
  path: string,
  bearer?: string,
): Promise<void> {
  const declared = Number(req.headers["content-length"] ?? 0);
  if (declared > MAX_REQUEST_BYTES) return sendStatus(res, 413, "request body too large");
  const opts = await upstream.requestOptions(bearer);
  const up = requestTo(upstream, opts, {
    method: req.method ?? "GET",
    path,
    headers: pick(req.headers, REQUEST_HEADERS),
  });
  up.on("response", (r) => {
    res.writeHead(r.statusCode ?? 502, {
      ...pick(r.headers, RESPONSE_HEADERS),
      "cache-control": "no-store",
    });
    // A watch's headers come long before its first event: send them now.
    res.flushHeaders();
    r.pipe(res);
  });
  up.on("error", (err) => sendStatus(res, 502, `cannot reach the API server: ${err.message}`));
  res.on("close", () => up.destroy());
  let seen = 0;
  req.on("data", (chunk: Buffer) => {
    seen += chunk.length;
    if (seen > MAX_REQUEST_BYTES) {
      up.destroy();
      sendStatus(res, 413, "request body too large");
      req.destroy();
      return;
    }
    up.write(chunk);
  });
  req.on("end", () => up.end());
}

export async function forwardUpgrade(
  req: http.IncomingMessage,
  socket: Duplex,
  head: Buffer,
  upstream: Upstream,
  path: string,
  protocols: string[],
  bearer?: string,
  answerProtocol?: string,
): Promise<void> {
  const opts = await upstream.requestOptions(bearer);
  const headers: Record<string, string> = {
    connection: "Upgrade",
    upgrade: "websocket",
    "sec-websocket-version": String(req.headers["sec-websocket-version"] ?? "13"),
    "sec-websocket-key": String(req.headers["sec-websocket-key"] ?? ""),
  };
  if (protocols.length > 0) headers["sec-websocket-protocol"] = protocols.join(", ");
  const up = requestTo(upstream, opts, { method: "GET", path, headers });
  socket.on("error", () => up.destroy());
  up.on("upgrade", (r, upSocket, upHead) => {
    const lines = ["HTTP/1.1 101 Switching Protocols", "Upgrade: websocket", "Connection: Upgrade"];
    const accept = r.headers["sec-websocket-accept"];
    if (typeof accept === "string") lines.push(`sec-websocket-accept: ${accept}`);
    const chosen = r.headers["sec-websocket-protocol"] ?? answerProtocol;
    if (typeof chosen === "string") lines.push(`sec-websocket-protocol: ${chosen}`);
    socket.write(`${lines.join("\r\n")}\r\n\r\n`);
    if (upHead.length > 0) socket.write(upHead);
    if (head.length > 0) upSocket.write(head);
    upSocket.pipe(socket);
    socket.pipe(upSocket);
    const end = () => {
      upSocket.destroy();
      socket.destroy();
    };
    upSocket.on("error", end).on("close", end);
    socket.on("close", end);
  });
  up.on("response", (r) => {
    // A refusal (401/403/404…): hand its Status to the browser, then close.
    const chunks: Buffer[] = [];
    let size = 0;
    r.on("data", (c: Buffer) => {
      size += c.length;
      if (size <= MAX_REFUSAL_BYTES) chunks.push(c);
    });
    r.on("end", () => {
      const body = Buffer.concat(chunks);
      socket.write(
        `HTTP/1.1 ${r.statusCode ?? 502} ${http.STATUS_CODES[r.statusCode ?? 502] ?? ""}\r\n` +
          `content-type: ${r.headers["content-type"] ?? "text/plain"}\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n`,
      );
      socket.end(body);
    });
  });
  up.on("error", (err) =>
    refuseUpgrade(socket, 502, `cannot reach the API server: ${err.message}`),
  );
  up.end();
}

export function refuseUpgrade(socket: Duplex, code: number, message: string) {
  const body = JSON.stringify({
    kind: "Status",
    apiVersion: "v1",
    status: "Failure",
    code,
    message,
  });
  socket.end(
    `HTTP/1.1 ${code} ${http.STATUS_CODES[code] ?? ""}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
