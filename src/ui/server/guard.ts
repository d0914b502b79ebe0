/**
 * Who may use a UI server, decided purely from a request's headers (unit-tested).
 *
 * Local mode (`kubectl vm ui`) forwards with the user's own kubeconfig credentials, so the
 * server itself is the credential: only the browser that opened the one-time URL may use it.
 * - A one-time token in the printed URL is traded for an HttpOnly, SameSite=Strict session
 *   cookie; other local users (who can reach 127.0.0.1 too) never see either.
 * - The Host header must name the loopback address we listen on: a DNS-rebinding page
 *   (evil.example resolving to 127.0.0.1) sends its own host name and is refused.
 * - Writes and WebSocket upgrades must come from our own origin, and writes must carry
 *   UI_HEADER, which a cross-site form or a no-CORS fetch cannot send.
 *
 * Cluster mode (chart, `ui.enabled`) holds no credential worth stealing: the browser sends the
 * user's bearer token with each request and RBAC decides; only the origin rules apply.
 */

import { BEARER_PROTOCOL_PREFIX, SESSION_COOKIE, UI_HEADER, UI_PROTOCOL } from "../protocol.js";

export interface RequestFacts {
  method: string;
  host: string | undefined;
  origin: string | undefined;
  cookie: string | undefined;
  uiHeader: string | undefined;
  upgrade: boolean;
}

export type Verdict = { ok: true } | { ok: false; status: 400 | 401 | 403; reason: string };

const OK: Verdict = { ok: true };
const SAFE_METHODS = new Set(["GET", "HEAD"]);

export function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? "").split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Hosts under which a loopback listener on `port` may be addressed. */
export function loopbackHosts(port: number): string[] {
  return [`127.0.0.1:${port}`, `localhost:${port}`, `[::1]:${port}`];
}

/** Same-origin rules shared by both modes: writes and upgrades only from our own pages. */
export function checkOrigin(facts: RequestFacts): Verdict {
  const needsOrigin = facts.upgrade || !SAFE_METHODS.has(facts.method);
  if (!needsOrigin) return OK;
  if (!facts.host) return { ok: false, status: 400, reason: "missing Host header" };
  // Browsers send Origin on every WebSocket handshake and every cross-origin or non-GET fetch.
  if (facts.origin !== `http://${facts.host}` && facts.origin !== `https://${facts.host}`)
    return { ok: false, status: 403, reason: "request from another origin refused" };
  if (!facts.upgrade && facts.uiHeader !== "1")
    return { ok: false, status: 403, reason: `write without the ${UI_HEADER} header refused` };
  return OK;
}

/** Local mode: loopback Host, a valid session cookie, then the origin rules. */
export function checkLocal(
  facts: RequestFacts,
  hosts: readonly string[],
  session: string,
): Verdict {
  if (!facts.host || !hosts.includes(facts.host))
    return { ok: false, status: 403, reason: "unexpected Host header (DNS rebinding?)" };
  const presented = cookieValue(facts.cookie, SESSION_COOKIE);
  if (!presented || !constantTimeEqual(presented, session))
    return { ok: false, status: 401, reason: "no session: open the URL kubectl vm ui printed" };
  return checkOrigin(facts);
}

export function constantTimeEqual(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}

export function splitBearerProtocol(header: string | undefined): {
  token?: string;
  protocols: string[];
} {
  const protocols: string[] = [];
  let token: string | undefined;
  for (const p of (header ?? "").split(",").map((s) => s.trim())) {
    if (!p) continue;
    if (p === UI_PROTOCOL) continue;
    if (p.startsWith(BEARER_PROTOCOL_PREFIX))
      token = Buffer.from(p.slice(BEARER_PROTOCOL_PREFIX.length), "base64url").toString();
    else protocols.push(p);
  }
  return token === undefined ? { protocols } : { token, protocols };
}
