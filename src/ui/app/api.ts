/**
 * The app's only way to the cluster: every call goes to the UI server under /k8s, which
 * forwards it with the user's credentials. Local mode: the session cookie rides along and
 * UI_HEADER proves the call came from this page. Cluster mode: the token the user signed in
 * with goes in Authorization (WebSockets: in the subprotocol list, as Kubernetes accepts).
 */
import { API_PREFIX, BEARER_PROTOCOL_PREFIX, UI_HEADER, UI_PROTOCOL } from "../protocol.js";

export interface AppConfig {
  mode: "local" | "cluster";
  namespace: string;
}

/** A Kubernetes Status the API answered with, kept whole so forms can place field errors. */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    message: string,
    readonly causes: { field?: string; message?: string }[] = [],
  ) {
    super(message);
  }
}

const TOKEN_KEY = "kubevisor.token";
let mode: AppConfig["mode"] = "local";

export function setMode(m: AppConfig["mode"]) {
  mode = m;
}
export const currentMode = () => mode;
export const token = {
  get: () => sessionStorage.getItem(TOKEN_KEY) ?? undefined,
  set: (t: string) => sessionStorage.setItem(TOKEN_KEY, t),
  clear: () => sessionStorage.removeItem(TOKEN_KEY),
};

function headers(contentType?: string): Record<string, string> {
  const h: Record<string, string> = { [UI_HEADER]: "1", accept: "application/json" };
  if (contentType) h["content-type"] = contentType;
  const t = mode === "cluster" ? token.get() : undefined;
  if (t) h.authorization = `Bearer ${t}`;
  return h;
}

async function failure(res: Response): Promise<ApiError> {
  const text = await res.text();
  try {
    const s = JSON.parse(text) as {
      message?: string;
      details?: { causes?: { field?: string; message?: string }[] };
    };
    return new ApiError(res.status, s.message ?? `HTTP ${res.status}`, s.details?.causes ?? []);
  } catch {
    return new ApiError(res.status, text.trim() || `HTTP ${res.status}`);
  }
}

export async function api<T>(
  method: string,
  path: string,
  body?: unknown,
  contentType = "application/json",
): Promise<T> {
  const send = () =>
    fetch(`${API_PREFIX}${path}`, {
      method,
      headers: headers(body === undefined ? undefined : contentType),
      body: body === undefined ? undefined : JSON.stringify(body),
    });
  let res = await send();
  // 429: the API server's flow control asks us to come back (Retry-After seconds).
  for (let i = 0; res.status === 429 && i < 3; i++) {
    const wait = Math.min(10, Number(res.headers.get("retry-after") ?? 1) || 1);
    await new Promise((r) => setTimeout(r, wait * 1000));
    res = await send();
  }
  if (!res.ok) throw await failure(res);
  return (await res.json()) as T;
}

export interface WatchEvent<T> {
  type: "ADDED" | "MODIFIED" | "DELETED" | "BOOKMARK" | "ERROR";
  object: T;
}

interface List<T> {
  metadata: { resourceVersion: string };
  items: T[];
}

/**
 * List, then watch from the list's resourceVersion; on any end, list again (a 410 Gone or a
 * dropped connection) after a short pause. `onItems` always gets the whole current set.
 */
export function watchList<T extends { metadata: { uid?: string; name?: string } }>(
  path: string,
  onItems: (items: T[]) => void,
  onError: (err: ApiError | Error) => void,
): () => void {
  let stopped = false;
  const abort = new AbortController();
  const run = async () => {
    while (!stopped) {
      try {
        const list = await api<List<T>>("GET", path);
        const byKey = new Map(list.items.map((i) => [i.metadata.uid ?? i.metadata.name, i]));
        onItems([...byKey.values()]);
        const sep = path.includes("?") ? "&" : "?";
        const res = await fetch(
          `${API_PREFIX}${path}${sep}watch=1&allowWatchBookmarks=true&resourceVersion=${list.metadata.resourceVersion}`,
          { headers: headers(), signal: abort.signal },
        );
        if (!res.ok || !res.body) throw await failure(res);
        const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
        let buffered = "";
        for (;;) {
          const { value, done } = await reader.read();
          if (done) break;
          buffered += value;
          let nl = buffered.indexOf("\n");
          while (nl >= 0) {
            const line = buffered.slice(0, nl);
            buffered = buffered.slice(nl + 1);
            nl = buffered.indexOf("\n");
            if (!line.trim()) continue;
            const ev = JSON.parse(line) as WatchEvent<T>;
            if (ev.type === "ERROR") throw new Error("watch expired");
            if (ev.type === "BOOKMARK") continue;
            const key = ev.object.metadata.uid ?? ev.object.metadata.name;
            if (ev.type === "DELETED") byKey.delete(key);
            else byKey.set(key, ev.object);
            onItems([...byKey.values()]);
          }
        }
      } catch (err) {
        if (stopped) return;
        onError(err as Error);
        if (err instanceof ApiError && (err.code === 401 || err.code === 403)) return;
      }
      await new Promise((r) => setTimeout(r, 1000));
    }
  };
  void run();
  return () => {
    stopped = true;
    abort.abort();
  };
}

/** A WebSocket to an API path through the UI server. */
export function openSocket(path: string): WebSocket {
  const ws = new WebSocket(socketUrl(path), socketProtocols());
  ws.binaryType = "arraybuffer";
  return ws;
}

/** Subprotocols for a WebSocket through the UI server (cluster mode: the user's token too). */
export function socketProtocols(): string[] {
  const protocols = [UI_PROTOCOL];
  const t = mode === "cluster" ? token.get() : undefined;
  if (t) protocols.push(`${BEARER_PROTOCOL_PREFIX}${base64url(t)}`);
  return protocols;
}

function base64url(text: string): string {
  const bin = String.fromCharCode(...new TextEncoder().encode(text));
  return btoa(bin).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

/** ws(s):// URL of an API path through the UI server. */
export function socketUrl(path: string): string {
  const url = new URL(`${API_PREFIX}${path}`, location.href);
  url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
  return url.toString();
}
