import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { healthRoutes, statusRoutes } from "../../../src/launcher/api/health.js";
import { router } from "../../../src/launcher/api/http.js";
import { migrationRoutes } from "../../../src/launcher/api/migration.js";
import type { LauncherView } from "../../../src/launcher/api/view.js";

let server: Server | undefined;
afterEach(() => server?.close());

async function serve(view: LauncherView): Promise<string> {
  server = createServer(
    router([...healthRoutes(view), ...statusRoutes(view), ...migrationRoutes()]),
  );
  await new Promise<void>((resolve) => server?.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const view = (ready: boolean): LauncherView => ({
  ready: () => ready,
  status: async () => ({ phase: ready ? "Running" : "Preparing" }),
  serialConsole: () => undefined,
});

describe("launcher API routes", () => {
  it("answers health, readiness and status", async () => {
    const base = await serve(view(true));
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
    expect((await fetch(`${base}/readyz`)).status).toBe(200);
    const status = await fetch(`${base}/status`);
    expect(status.headers.get("content-type")).toBe("application/json");
    expect(await status.json()).toEqual({ phase: "Running" });
  });

  it("is not ready while the guest does not run", async () => {
    const base = await serve(view(false));
    const res = await fetch(`${base}/readyz`);
    expect(res.status).toBe(503);
  });

  it("reserves /migrate and its subtree, answering 501", async () => {
    const base = await serve(view(true));
    for (const [method, path] of [
      ["POST", "/migrate"],
      ["GET", "/migrate"],
      ["DELETE", "/migrate"],
      ["POST", "/migrate/incoming"],
    ] as const) {
      const res = await fetch(`${base}${path}`, { method });
      expect(res.status).toBe(501);
      expect(await res.json()).toEqual({
        message: "live migration is not implemented in this release",
      });
    }
  });

  it("answers 404 for unknown paths and 405 for wrong methods", async () => {
    const base = await serve(view(true));
    expect((await fetch(`${base}/nope`)).status).toBe(404);
    expect((await fetch(`${base}/migrated`)).status).toBe(404);
    const res = await fetch(`${base}/status`, { method: "DELETE" });
    expect(res.status).toBe(405);
    expect(res.headers.get("allow")).toBe("GET");
  });
});
