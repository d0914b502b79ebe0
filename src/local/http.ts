import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";

export interface ClientTls {
  ca: string;
  cert?: string;
  key?: string;
}

export interface HttpResult {
  /** 0 when no HTTP answer came (connection refused, timeout, TLS failure). */
  status: number;
  body: string;
}

/**
 * One small GET for health probes and readiness checks: no keep-alive (a probe must not hold
 * sockets open in a process that is about to exit) and a short timeout. Never throws.
 */
export function get(url: string, tls?: ClientTls, timeoutMs = 3000): Promise<HttpResult> {
  return new Promise((resolve) => {
    const u = new URL(url);
    const opts = { method: "GET", timeout: timeoutMs, agent: false as const, ...tls };
    const req = (u.protocol === "https:" ? httpsRequest : httpRequest)(u, opts, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => {
        body += c;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", (err) => resolve({ status: 0, body: String(err) }));
    });
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.on("error", (err) => resolve({ status: 0, body: String(err) }));
    req.end();
  });
}
