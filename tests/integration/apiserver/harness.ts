/**
 * Talking to the cluster as a given user: the admin kubeconfig's client certificate plus
 * impersonation headers, over plain HTTPS and WebSocket, so a test sees exactly what the
 * kube-apiserver (and behind it the aggregated server) answers that user.
 */
import { request } from "node:https";
import { KubeConfig } from "@kubernetes/client-node";
import { inject } from "vitest";
import { WebSocket } from "ws";

export interface Tls {
  ca?: string;
  cert?: string;
  key?: string;
}

export async function adminTls(): Promise<{ server: string; tls: Tls }> {
  const kc = new KubeConfig();
  kc.loadFromFile(inject("kubeconfig"));
  const opts: { ca?: Buffer; cert?: Buffer; key?: Buffer } = {};
  await kc.applyToHTTPSOptions(opts);
  return {
    server: kc.getCurrentCluster()?.server ?? "",
    tls: { ca: opts.ca?.toString(), cert: opts.cert?.toString(), key: opts.key?.toString() },
  };
}

const impersonate = (user?: string) => (user ? { "Impersonate-User": user } : {});

export interface Answer {
  status: number;
  body: string;
  bytes: Buffer;
  type: string | undefined;
  json: { message?: string; code?: number; details?: { name?: string } } & Record<string, unknown>;
}

export function call(
  url: string,
  tls: Tls,
  method: string,
  opts: { user?: string; headers?: Record<string, string>; body?: string } = {},
): Promise<Answer> {
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      {
        method,
        ...tls,
        rejectUnauthorized: tls.ca !== undefined,
        headers: { ...impersonate(opts.user), ...opts.headers },
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const bytes = Buffer.concat(chunks);
          const body = bytes.toString("utf8");
          let json = {};
          try {
            json = JSON.parse(body);
          } catch {}
          resolve({
            status: res.statusCode ?? 0,
            body,
            bytes,
            type: res.headers["content-type"],
            json,
          });
        });
      },
    );
    req.on("error", reject);
    req.end(opts.body);
  });
}

/** A console WebSocket as `user`; rejects with the HTTP status and body of a refusal. */
export function openConsole(url: string, tls: Tls, user: string): Promise<ConsoleSession> {
  const ws = new WebSocket(url.replace(/^https/, "wss"), { ...tls, headers: impersonate(user) });
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve(new ConsoleSession(ws)));
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c: Buffer) => {
        body += c;
      });
      res.on("end", () => reject(new Error(`HTTP ${res.statusCode}: ${body}`)));
    });
    ws.once("error", reject);
  });
}

export class ConsoleSession {
  text = "";
  readonly closed: Promise<{ code: number; reason: string }>;

  constructor(readonly ws: WebSocket) {
    ws.on("message", (data: Buffer) => {
      this.text += data.toString("latin1");
    });
    this.closed = new Promise((resolve) =>
      ws.once("close", (code, reason) => resolve({ code, reason: reason.toString() })),
    );
  }

  type(line: string): void {
    this.ws.send(Buffer.from(`${line}\n`), { binary: true });
  }

  async waitFor(re: RegExp, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!re.test(this.text)) {
      if (Date.now() > deadline)
        throw new Error(`${re} not seen; tail: ${JSON.stringify(this.text.slice(-300))}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export async function eventually<T>(
  what: string,
  fn: () => Promise<T | undefined>,
  timeoutMs = 60_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await fn();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}: ${String(last)}`);
    await new Promise((r) => setTimeout(r, 250));
  }
}
