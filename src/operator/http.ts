import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import type { Registry } from "prom-client";

export interface HealthChecks {
  /** Liveness: false only when the process cannot recover by itself. */
  healthy: () => boolean;
  /** Readiness: caches synced (a standby replica is ready too: it can take over at once). */
  ready: () => boolean;
}

/** /metrics (Prometheus text), /healthz and /readyz on one port. */
export async function startHttpServer(
  port: number,
  host: string,
  registry: Registry,
  checks: HealthChecks,
): Promise<{ server: Server; port: number }> {
  const server = createServer((req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const answer = (ok: boolean) => {
      res.writeHead(ok ? 200 : 503, { "content-type": "text/plain" });
      res.end(ok ? "ok\n" : "not ok\n");
    };
    if (path === "/healthz") return answer(checks.healthy());
    if (path === "/readyz") return answer(checks.ready());
    if (path === "/metrics") {
      registry
        .metrics()
        .then((text) => {
          res.writeHead(200, { "content-type": registry.contentType });
          res.end(text);
        })
        .catch((err) => {
          res.writeHead(500);
          res.end(String(err));
        });
      return;
    }
    res.writeHead(404);
    res.end();
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, resolve);
  });
  return { server, port: (server.address() as AddressInfo).port };
}
