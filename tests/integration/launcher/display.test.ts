import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ClientOptions, WebSocket } from "ws";
import { LAUNCHER_PORT, launcherServerName } from "../../../src/api/launcher.js";
import { issueCertificate, type PemPair } from "../../../src/util/pki.js";
import { GUEST_COUNTER_RE, pngSize } from "../../../src/vmm/index.js";
import { LauncherProcess, type Pki, testGuestSpec, testPki } from "./harness.js";

/** A launcher WebSocket at `path` with the operator's certificate. */
function openWs(l: LauncherProcess, path: string): Promise<WebSocket> {
  const options: ClientOptions & { servername: string } = {
    servername: launcherServerName(l.namespace, l.name),
    ca: l.pki.ca.certPem,
    cert: l.pki.client.certPem,
    key: l.pki.client.keyPem,
  };
  const ws = new WebSocket(`wss://${l.ip}:${LAUNCHER_PORT}${path}`, options);
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve(ws));
    ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once("error", reject);
  });
}

/** The launcher's /vnc with `client`'s certificate; resolves with the first bytes QEMU sends. */
function vncGreeting(l: LauncherProcess, client: PemPair): Promise<string> {
  const options: ClientOptions & { servername: string } = {
    servername: launcherServerName(l.namespace, l.name),
    ca: l.pki.ca.certPem,
    cert: client.certPem,
    key: client.keyPem,
  };
  const ws = new WebSocket(`wss://${l.ip}:${LAUNCHER_PORT}/vnc`, options);
  return new Promise((resolve, reject) => {
    ws.once("message", (data: Buffer) => {
      resolve(data.toString("latin1"));
      ws.close();
    });
    ws.once("unexpected-response", (_req, res) => reject(new Error(`HTTP ${res.statusCode}`)));
    ws.once("error", reject);
  });
}

function getBytes(l: LauncherProcess, path: string) {
  return fetchTls(l, path, "GET");
}

/** A request over mutual TLS keeping the body's bytes (harness.get decodes text). */
async function fetchTls(l: LauncherProcess, path: string, method: string) {
  const { request } = await import("node:https");
  return new Promise<{ status: number; type: string; body: Buffer }>((resolve, reject) => {
    const req = request({ ...l.tlsRequestOptions(), path, method }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () =>
        resolve({
          status: res.statusCode ?? 0,
          type: String(res.headers["content-type"]),
          body: Buffer.concat(chunks),
        }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

/** The last counter value on the console so far. */
function lastCounter(text: string): number {
  const all = [...text.matchAll(new RegExp(GUEST_COUNTER_RE, "g"))];
  return Number(all.at(-1)?.[1] ?? 0);
}

let pki: Pki;
beforeAll(async () => {
  pki = await testPki();
});

describe("a launcher's display, screenshot and pause (q35: graphics on by default)", () => {
  let launcher: LauncherProcess;
  beforeAll(async () => {
    launcher = await LauncherProcess.start(pki, "display", testGuestSpec());
    await launcher.waitReady();
  });
  afterAll(() => launcher.cleanup());

  it("relays QEMU's VNC server over /vnc: the RFB greeting comes first", async () => {
    expect(await vncGreeting(launcher, pki.client)).toBe("RFB 003.008\n");
  });

  it("refuses /vnc to a certificate of the same CA with another identity", async () => {
    const other = await issueCertificate(pki.ca, { commonName: "migration-peer", usage: "client" });
    await expect(vncGreeting(launcher, other)).rejects.toThrow(/403/);
  });

  it("answers GET /screenshot with a PNG of the screen, and leaves no file behind", async () => {
    const res = await getBytes(launcher, "/screenshot");
    expect(res.status).toBe(200);
    expect(res.type).toBe("image/png");
    const { width, height } = pngSize(res.body);
    expect(width).toBeGreaterThanOrEqual(320);
    expect(height).toBeGreaterThanOrEqual(200);
    const { readdirSync } = await import("node:fs");
    const run = readdirSync(`${launcher.dir}/disks/run`);
    expect(run.filter((f) => f.endsWith(".png"))).toEqual([]);
    expect(run).toContain("vnc.sock");
  });

  it("tunnels one TCP connection to a guest port: the test guest's httpd on 80", async () => {
    const ws = await openWs(launcher, "/portforward/80");
    let answer = "";
    const ended = new Promise<void>((resolve) => ws.once("close", () => resolve()));
    ws.on("message", (d: Buffer) => {
      answer += d.toString("latin1");
    });
    ws.send(Buffer.from("GET / HTTP/1.0\r\n\r\n"), { binary: true });
    await ended; // httpd answers and closes; so does the tunnel
    expect(answer).toMatch(/^HTTP\/1\.[01] (200|404)/);
  });

  it("refuses a port-forward to a port outside 1-65535 or not a number", async () => {
    for (const bad of ["0", "65536", "http", "-1", "80x", ""]) {
      await expect(openWs(launcher, `/portforward/${bad}`)).rejects.toThrow(/HTTP (400|404)/);
    }
  });

  it("pauses (the counter stops, the pod stays Ready) and unpauses (it goes on)", async () => {
    const console = await launcher.console();
    try {
      await console.waitFor(GUEST_COUNTER_RE);
      const paused = await fetchTls(launcher, "/pause", "POST");
      expect(paused.status).toBe(200);
      expect(JSON.parse(paused.body.toString())).toEqual({ paused: true });
      // Again: idempotent.
      expect((await fetchTls(launcher, "/pause", "POST")).status).toBe(200);
      expect(JSON.parse((await launcher.get("/status")).body)).toMatchObject({
        phase: "Paused",
        qemuStatus: "paused",
      });
      expect((await launcher.get("/readyz")).status).toBe(200);
      // Stopped vCPUs print nothing: the count read now is still the last one after a while.
      const atPause = lastCounter(console.received);
      await new Promise((r) => setTimeout(r, 1500));
      expect(lastCounter(console.received)).toBe(atPause);
      expect((await fetchTls(launcher, "/unpause", "POST")).status).toBe(200);
      await console.waitFor(new RegExp(`kubevisor-counter ${atPause + 3} `));
      expect(JSON.parse((await launcher.get("/status")).body)).toMatchObject({
        phase: "Running",
        qemuStatus: "running",
      });
    } finally {
      console.close();
    }
  });
});

describe("a VM with graphics turned off", () => {
  let launcher: LauncherProcess;
  beforeAll(async () => {
    launcher = await LauncherProcess.start(
      pki,
      "headless",
      testGuestSpec({ graphics: { enabled: false } }),
    );
    await launcher.waitReady();
  });
  afterAll(() => launcher.cleanup());

  it("has no VNC socket and says so on /vnc and /screenshot", async () => {
    await expect(vncGreeting(launcher, pki.client)).rejects.toThrow(/503/);
    const shot = await getBytes(launcher, "/screenshot");
    expect(shot.status).toBe(409);
    expect(shot.body.toString()).toMatch(/no display/);
  });
});
