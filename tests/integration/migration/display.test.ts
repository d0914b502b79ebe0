import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { type ClientOptions, WebSocket } from "ws";
import { LAUNCHER_PORT, launcherServerName } from "../../../src/api/launcher.js";
import { pngSize } from "../../../src/vmm/index.js";
import { LauncherProcess, type Pki, testGuestSpec, testPki } from "../launcher/harness.js";
import {
  call,
  launcherPhase,
  listen,
  migrationTls,
  send,
  startTarget,
  until,
} from "./launchers.js";

/**
 * The display across a live migration, with two real launchers: the source's VNC session
 * ends at the switch-over and a new one on the target shows the same guest's screen (the
 * relay's clients reconnect: src/apiserver/README.md). And a paused guest is never sent.
 */
let pki: Pki;
beforeAll(async () => {
  pki = await testPki();
});
const started: LauncherProcess[] = [];
afterEach(async () => {
  await Promise.all(started.splice(0).map((l) => l.cleanup()));
});

function openVnc(l: LauncherProcess): Promise<{ ws: WebSocket; greeting: Promise<string> }> {
  const options: ClientOptions & { servername: string } = {
    servername: launcherServerName(l.namespace, l.name),
    ca: l.pki.ca.certPem,
    cert: l.pki.client.certPem,
    key: l.pki.client.keyPem,
  };
  const ws = new WebSocket(`wss://${l.ip}:${LAUNCHER_PORT}/vnc`, options);
  const greeting = new Promise<string>((resolve) =>
    ws.once("message", (d: Buffer) => resolve(d.toString("latin1"))),
  );
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve({ ws, greeting }));
    ws.once("error", reject);
  });
}

async function screenshotSize(l: LauncherProcess) {
  const { request } = await import("node:https");
  const png = await new Promise<Buffer>((resolve, reject) => {
    const req = request({ ...l.tlsRequestOptions(), path: "/screenshot" }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve(Buffer.concat(chunks)));
    });
    req.on("error", reject);
    req.end();
  });
  return pngSize(png);
}

describe("the display across a live migration", () => {
  it("refuses to send a paused guest; after unpause the screen moves to the target", async () => {
    const spec = testGuestSpec();
    const source = await LauncherProcess.start(pki, "mig-display", spec);
    started.push(source);
    await source.waitReady();
    const before = await screenshotSize(source);
    const viewer = await openVnc(source);
    expect(await viewer.greeting).toBe("RFB 003.008\n");
    const viewerClosed = new Promise<number>((resolve) => viewer.ws.once("close", resolve));

    const target = await startTarget(pki, source, spec);
    started.push(target);
    const tls = await migrationTls(pki);
    const answer = await listen(target, tls);

    expect((await call(source, "POST", "/pause")).status).toBe(200);
    await expect(send(source, target, answer, tls)).rejects.toThrow(/paused/);
    expect(await launcherPhase(source)).toBe("Paused");
    // The target never got a guest: it still waits.
    expect(await launcherPhase(target)).toBe("WaitingForMigration");

    expect((await call(source, "POST", "/unpause")).status).toBe(200);
    await send(source, target, answer, tls);
    await until("the guest to run on the target", async () =>
      (await launcherPhase(target)) === "Running" ? true : undefined,
    );
    // The source's session ended with the guest's departure; the target serves the screen.
    await viewerClosed;
    const moved = await openVnc(target);
    expect(await moved.greeting).toBe("RFB 003.008\n");
    moved.ws.close();
    expect(await screenshotSize(target)).toEqual(before);
    // Pause works on the target, which now runs the guest.
    expect((await call(target, "POST", "/pause")).status).toBe(200);
    expect((await call(target, "POST", "/unpause")).status).toBe(200);
  });
});
