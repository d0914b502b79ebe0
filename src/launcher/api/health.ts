import type { Route } from "./http.js";
import { sendJson } from "./http.js";
import type { LauncherView } from "./view.js";

/**
 * /healthz: the launcher process answers. /readyz: it runs the guest — a pod is Ready only
 * then, which is what keeps a drain from evicting a VM's only running instance.
 */
export function healthRoutes(view: LauncherView): Route[] {
  return [
    { method: "GET", path: "/healthz", handler: (_req, res) => sendJson(res, 200, { ok: true }) },
    {
      method: "GET",
      path: "/readyz",
      handler: (_req, res) =>
        view.ready()
          ? sendJson(res, 200, { ready: true })
          : sendJson(res, 503, { ready: false, message: "the guest is not running" }),
    },
  ];
}

export function statusRoutes(view: LauncherView): Route[] {
  return [
    {
      method: "GET",
      path: "/status",
      handler: async (_req, res) => sendJson(res, 200, await view.status()),
    },
  ];
}

/** /metrics: plain HTTP on the probe port, for Prometheus (no client certificate there). */
export function metricsRoutes(view: LauncherView): Route[] {
  return [
    {
      method: "GET",
      path: "/metrics",
      handler: async (_req, res) => {
        const text = await view.metrics();
        res.writeHead(200, {
          "content-type": "text/plain; version=0.0.4; charset=utf-8",
          "content-length": Buffer.byteLength(text),
          "cache-control": "no-store",
        });
        res.end(text);
      },
    },
  ];
}
