/**
 * The console relay against real WebSockets on 127.0.0.1: a stand-in launcher console on
 * one side, a user on the other, and the relay the API server runs in between. Each test
 * plays a user (or launcher) out to exhaust the server.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocket, WebSocketServer } from "ws";
import {
  type ConsoleLimits,
  ConsoleSessions,
  consoleServer,
  DEFAULT_CONSOLE_LIMITS,
  relay,
} from "../../../src/apiserver/console.js";
import { logger } from "../../../src/util/log.js";

const MiB = 1024 * 1024;
const log = logger("test");

interface Rig {
  launcher: WebSocketServer;
  /** The relay's WebSocket to the user (server side), once attached. */
  relayClients: WebSocketServer;
  server: Server;
  port: number;
  /** Bytes the launcher received from the relay. */
  received: () => number;
  launcherSide: () => Promise<WebSocket>;
  sessions: ConsoleSessions;
  close(): Promise<void>;
}

let rig: Rig | undefined;
afterEach(async () => {
  await rig?.close();
  rig = undefined;
});

async function setup(limits: ConsoleLimits = DEFAULT_CONSOLE_LIMITS): Promise<Rig> {
  const launcher = new WebSocketServer({ host: "127.0.0.1", port: 0 });
  await new Promise((r) => launcher.once("listening", r));
  let received = 0;
  let resolveSide: (ws: WebSocket) => void = () => {};
  const side = new Promise<WebSocket>((r) => {
    resolveSide = r;
  });
  launcher.on("connection", (ws) => {
    ws.on("message", (d: Buffer) => {
      received += d.length;
    });
    resolveSide(ws);
  });
  const launcherPort = (launcher.address() as AddressInfo).port;
  const wss = consoleServer(limits);
  const sessions = new ConsoleSessions(limits);
  const server = createServer();
  server.on("upgrade", (req, socket, head) => {
    const vmKey = "ns/vm";
    const full = sessions.enter(vmKey);
    if (full) {
      socket.end("HTTP/1.1 429 Too Many Requests\r\nContent-Length: 0\r\n\r\n");
      return;
    }
    const upstream = new WebSocket(`ws://127.0.0.1:${launcherPort}/console`, {
      maxPayload: limits.upstreamMaxPayload,
    });
    upstream.once("open", () =>
      relay({
        wss,
        req,
        socket,
        head,
        upstream,
        mode: "interactive",
        vmKey,
        user: { name: "mallory", groups: [], extra: {} } as never,
        sessions,
        log,
        limits,
      }),
    );
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return {
    launcher,
    relayClients: wss,
    server,
    port: (server.address() as AddressInfo).port,
    received: () => received,
    launcherSide: () => side,
    sessions,
    async close() {
      for (const ws of wss.clients) ws.terminate();
      for (const ws of launcher.clients) ws.terminate();
      server.closeAllConnections();
      await new Promise((r) => server.close(r));
      await new Promise((r) => launcher.close(r));
    },
  };
}

function connect(port: number, opts: { autoPong?: boolean } = {}): Promise<WebSocket> {
  const ws = new WebSocket(`ws://127.0.0.1:${port}/console`, opts);
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve(ws));
    ws.once("error", reject);
  });
}

const closed = (ws: WebSocket) =>
  new Promise<number>((resolve) => ws.once("close", (code) => resolve(code)));

async function until(what: string, check: () => boolean, timeoutMs = 30_000) {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

describe("console relay limits", () => {
  it("cuts off a user sending a 50 MiB frame before any of it reaches the launcher", async () => {
    rig = await setup();
    const user = await connect(rig.port);
    await rig.launcherSide();
    const code = closed(user);
    user.on("error", () => {});
    user.send(Buffer.alloc(50 * MiB, 0x61));
    expect(await code).toBe(1009); // message too big
    expect(rig.received()).toBe(0);
    // Its slot is given back.
    await until("session released", () => rig?.sessions.enter("ns/vm") === undefined);
  }, 60_000);

  it("holds the launcher back while a user does not read, instead of buffering its output", async () => {
    rig = await setup();
    const user = await connect(rig.port);
    const launcherWs = await rig.launcherSide();
    let got = 0;
    user.on("message", (d: Buffer) => {
      got += d.length;
    });
    user.pause(); // a user that stops reading
    const frame = Buffer.alloc(64 * 1024, 0x62);
    let sent = 0;
    let maxRelayBacklog = 0;
    const sample = () => {
      for (const ws of rig?.relayClients.clients ?? [])
        maxRelayBacklog = Math.max(maxRelayBacklog, ws.bufferedAmount);
    };
    // Push until the back-pressure reaches the launcher: its own queue stops draining.
    let stalled = 0;
    while (stalled < 20 && sent < 256 * MiB) {
      if (launcherWs.bufferedAmount < 2 * MiB) {
        stalled = 0;
        for (let i = 0; i < 16; i++) {
          launcherWs.send(frame);
          sent += frame.length;
        }
      } else stalled++;
      sample();
      await new Promise((r) => setTimeout(r, 10));
    }
    console.log(
      `launcher pushed ${(sent / MiB).toFixed(0)} MiB; relay backlog peaked at ${(maxRelayBacklog / 1024).toFixed(0)} KiB`,
    );
    expect(stalled).toBe(20);
    expect(maxRelayBacklog).toBeLessThan(DEFAULT_CONSOLE_LIMITS.highWater + 2 * frame.length);
    // Nothing was dropped: once the user reads again, every byte arrives.
    user.resume();
    await until("all output delivered", () => got === sent, 60_000);
    expect(user.readyState).toBe(WebSocket.OPEN);
  }, 120_000);

  it("drops a user who stops answering pings", async () => {
    rig = await setup({ ...DEFAULT_CONSOLE_LIMITS, pingIntervalMs: 100 });
    const user = await connect(rig.port, { autoPong: false });
    const launcherWs = await rig.launcherSide();
    const launcherClosed = closed(launcherWs);
    expect(await closed(user)).toBe(1006);
    await launcherClosed;
  }, 30_000);

  it("caps sessions per VM and in total, and gives slots back", () => {
    const sessions = new ConsoleSessions({ maxPerVm: 2, maxTotal: 3 });
    expect(sessions.enter("a/x")).toBeUndefined();
    expect(sessions.enter("a/x")).toBeUndefined();
    expect(sessions.enter("a/x")).toMatch(/2 console sessions/);
    expect(sessions.enter("a/y")).toBeUndefined();
    expect(sessions.enter("a/z")).toMatch(/3 console sessions/);
    sessions.leave("a/x");
    expect(sessions.enter("a/z")).toBeUndefined();
  });

  it("refuses a session over the per-VM cap at the upgrade", async () => {
    rig = await setup({ ...DEFAULT_CONSOLE_LIMITS, maxPerVm: 1 });
    const first = await connect(rig.port);
    await expect(connect(rig.port)).rejects.toThrow(/429/);
    const code = closed(first);
    first.close();
    await code;
    await until("slot released", () => rig?.sessions.enter("ns/vm") === undefined);
  });
});
