import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  nextProbeState,
  probeTiming,
  resolvePort,
  runAction,
} from "../../../../src/local/node/probes.js";

describe("nextProbeState", () => {
  const t = { successThreshold: 2, failureThreshold: 3 };
  it("decides only when a threshold of consecutive results is reached", () => {
    let s = { successes: 0, failures: 0 } as {
      healthy?: boolean;
      successes: number;
      failures: number;
    };
    s = nextProbeState(s, true, t);
    expect(s.healthy).toBeUndefined();
    s = nextProbeState(s, true, t);
    expect(s.healthy).toBe(true);
    s = nextProbeState(nextProbeState(s, false, t), false, t);
    expect(s.healthy).toBe(true);
    s = nextProbeState(s, false, t);
    expect(s.healthy).toBe(false);
    expect(nextProbeState(s, true, t)).toEqual({ healthy: false, successes: 1, failures: 0 });
  });
});

describe("probeTiming", () => {
  it("applies Kubernetes defaults", () => {
    expect(probeTiming({})).toEqual({
      initialDelayMs: 0,
      periodMs: 10_000,
      timeoutMs: 1_000,
      successThreshold: 1,
      failureThreshold: 3,
    });
  });
});

describe("resolvePort", () => {
  it("takes numbers and container port names", () => {
    expect(resolvePort(80, [])).toBe(80);
    expect(resolvePort("8080", [])).toBe(8080);
    expect(resolvePort("http", [{ name: "http", containerPort: 9000 }])).toBe(9000);
    expect(() => resolvePort("nope", [])).toThrow(/no container port named nope/);
  });
});

describe("runAction", () => {
  let server: Server;
  let port = 0;
  const ctx = {
    podIP: "127.0.0.1",
    ports: [],
    exec: async () => ({ exitCode: 3, output: "bad\n" }),
  };
  beforeAll(async () => {
    server = createServer((req, res) => {
      res.statusCode = req.url === "/ok" ? 200 : req.url === "/moved" ? 302 : 500;
      res.end();
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    port = (server.address() as AddressInfo).port;
  });
  afterAll(() => new Promise<void>((r) => server.close(() => r())));

  it("counts HTTP 2xx and 3xx as success", async () => {
    expect((await runAction({ httpGet: { path: "/ok", port } }, ctx, 1000)).ok).toBe(true);
    expect((await runAction({ httpGet: { path: "/moved", port } }, ctx, 1000)).ok).toBe(true);
    const r = await runAction({ httpGet: { path: "/err", port } }, ctx, 1000);
    expect(r).toMatchObject({ ok: false, message: expect.stringContaining("status 500") });
  });

  it("checks TCP connects", async () => {
    expect((await runAction({ tcpSocket: { port } }, ctx, 1000)).ok).toBe(true);
    server.close();
    await new Promise((r) => setTimeout(r, 50));
    expect((await runAction({ tcpSocket: { port } }, ctx, 1000)).ok).toBe(false);
  });

  it("fails on exec exit codes and on probes without a handler", async () => {
    expect(await runAction({ exec: { command: ["false"] } }, ctx, 1000)).toEqual({
      ok: false,
      message: "bad",
    });
    expect((await runAction({}, ctx, 1000)).ok).toBe(false);
  });
});
