import { afterAll, beforeAll, expect, it } from "vitest";
import { LAUNCHER_AWAIT_START_ENV, parseTerminationMessage } from "../../../src/api/launcher.js";
import { issueCertificate } from "../../../src/util/pki.js";
import { LauncherProcess, type Pki, testGuestSpec, testPki } from "./harness.js";

/**
 * The start gate through a whole launcher process with real QEMU: nothing runs before the
 * operator's POST /start; nobody else can open the gate; a repeated /start starts nothing
 * more; a launcher never started gives up with NeverStarted, having run nothing.
 */
let pki: Pki;
const launchers: LauncherProcess[] = [];
beforeAll(async () => {
  pki = await testPki();
});
afterAll(async () => {
  await Promise.all(launchers.map((l) => l.cleanup()));
});

const qemuStarts = (l: LauncherProcess) =>
  l.logs.split("\n").filter((line) => line.includes('"QEMU started"')).length;

async function status(l: LauncherProcess): Promise<Record<string, unknown> | undefined> {
  const res = await l.get("/status").catch(() => undefined);
  return res?.status === 200 ? (JSON.parse(res.body) as Record<string, unknown>) : undefined;
}

async function until<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 600; i++) {
    const v = await check();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}`);
}

it("runs no QEMU until the operator's POST /start, and only one after any number of them", async () => {
  const l = await LauncherProcess.start(pki, "gated", testGuestSpec(), {
    env: { [LAUNCHER_AWAIT_START_ENV]: "true" },
  });
  launchers.push(l);
  const waiting = await until("awaitingStart", async () => {
    const s = await status(l);
    return s?.awaitingStart === true ? s : undefined;
  });
  expect(waiting.phase).toBe("Preparing");
  expect(l.qemuPid()).toBeUndefined();

  // A tenant holds a certificate from the operator CA (any launcher's, from its Secret),
  // but not the operator's name: the gate stays shut.
  const tenant = await issueCertificate(pki.ca, { commonName: "gated.tests", usage: "both" });
  const refused = await l.get("/start", tenant, "POST").catch((err: Error) => ({
    status: 0,
    body: err.message,
  }));
  expect(refused.status).not.toBe(200);
  expect((await status(l))?.awaitingStart).toBe(true);
  expect(l.qemuPid()).toBeUndefined();

  const opened = await l.get("/start", undefined, "POST");
  expect(opened.status).toBe(200);
  expect(JSON.parse(opened.body)).toMatchObject({ started: true, alreadyStarted: false });
  const again = await l.get("/start", undefined, "POST");
  expect(JSON.parse(again.body)).toMatchObject({ started: true, alreadyStarted: true });
  await l.waitReady();
  expect(l.qemuPid()).toBeDefined();
  expect(qemuStarts(l)).toBe(1);
  expect((await status(l))?.awaitingStart).toBeUndefined();
});

it("never told to start: exits NeverStarted, having started no QEMU", async () => {
  const l = await LauncherProcess.start(pki, "orphan", testGuestSpec(), {
    env: { [LAUNCHER_AWAIT_START_ENV]: "true", KUBEVISOR_START_WAIT_SECONDS: "1" },
  });
  launchers.push(l);
  expect(await l.exited).toEqual({ code: 1, signal: null });
  expect(parseTerminationMessage(l.terminationMessage())).toMatchObject({
    reason: "NeverStarted",
  });
  expect(l.qemuPid()).toBeUndefined();
});
