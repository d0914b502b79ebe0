import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { healthRoutes, statusRoutes } from "../../../src/launcher/api/health.js";
import { router } from "../../../src/launcher/api/http.js";
import { migrationRoutes } from "../../../src/launcher/api/migration.js";
import type { LauncherView } from "../../../src/launcher/api/view.js";
import { MigrationControl } from "../../../src/launcher/migration/control.js";
import { issueMigrationTls } from "../../../src/operator/migration/tls.js";
import { logger } from "../../../src/util/log.js";
import { createCA } from "../../../src/util/pki.js";

const tls = await issueMigrationTls(await createCA("test-ca"), "u1", 60_000);

const servers: Server[] = [];
afterEach(() => {
  for (const s of servers.splice(0)) s.close();
});

async function serve(view: LauncherView): Promise<string> {
  const server = createServer(
    router([
      ...healthRoutes(view),
      ...statusRoutes(view),
      ...migrationRoutes(() => view.migration()),
    ]),
  );
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const view = (ready: boolean, migration?: MigrationControl): LauncherView => ({
  ready: () => ready,
  status: async () => ({ phase: ready ? "Running" : "Preparing" }),
  serialConsole: () => undefined,
  migration: () => migration,
  metrics: async () => "",
  guestControl: () => undefined,
  start: () => "notGated",
});

const control = (role: "source" | "target") =>
  new MigrationControl({ role, podIP: "127.0.0.1", log: logger("test") });

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

  it("answers 503 on /migrate until the launcher has a guest", async () => {
    const base = await serve(view(false));
    for (const [method, path] of [
      ["POST", "/migrate"],
      ["GET", "/migrate"],
      ["DELETE", "/migrate"],
      ["POST", "/migrate/incoming"],
    ] as const) {
      expect((await fetch(`${base}${path}`, { method })).status).toBe(503);
    }
  });

  it("reports the migration state and refuses what the role or body does not allow", async () => {
    const base = await serve(view(true, control("source")));
    expect(await (await fetch(`${base}/migrate`)).json()).toEqual({
      role: "source",
      phase: "None",
    });
    const incoming = await fetch(`${base}/migrate/incoming`, {
      method: "POST",
      body: JSON.stringify({ tls: tls.target }),
    });
    expect(incoming.status).toBe(409);
    // A target asked to listen without TLS material: refused, naming the field.
    const targetBase = await serve(view(false, control("target")));
    const plain = await fetch(`${targetBase}/migrate/incoming`, { method: "POST", body: "{}" });
    expect(plain.status).toBe(400);
    expect(((await plain.json()) as { message: string }).message).toMatch(/^tls: /);
    // Anywhere but tcp: to the target pod's IP is refused before QEMU is asked anything.
    const exec = await fetch(`${base}/migrate`, {
      method: "POST",
      body: JSON.stringify({
        migrationUri: "exec:touch /tmp/pwned",
        targetIP: "127.0.0.2",
        diskIndexes: [],
        tls: tls.source,
      }),
    });
    expect(exec.status).toBe(400);
    expect(((await exec.json()) as { message: string }).message).toMatch(/^migrationUri: /);
    const bad = await fetch(`${base}/migrate`, { method: "POST", body: '{"diskIndexes":[]}' });
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/migrationUri/);
    const notJson = await fetch(`${base}/migrate`, { method: "POST", body: "{" });
    expect(notJson.status).toBe(400);
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
