import { execFile } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type IncomingAnswer, MIGRATION_PATH } from "../../../src/api/launcher-migration.js";
import { createCA, issueCertificate, type PemPair } from "../../../src/util/pki.js";
import { diskNodeName } from "../../../src/vmm/index.js";
import {
  type ConsoleClient,
  LauncherProcess,
  type Pki,
  testGuestSpec,
  testPki,
} from "../launcher/harness.js";
import {
  call,
  counts,
  launcherPhase,
  listen,
  migrationState,
  migrationTls,
  send,
  startTarget,
  until,
} from "./launchers.js";

/**
 * The migration channel under attack: two real launchers on their own loopback addresses (two
 * pods), and a third party that can reach the target's migration and NBD ports, as any pod in
 * a cluster can. Each test attacks first, then lets the real migration run: the attacker must
 * get nothing, and the migration must still succeed.
 */
let pki: Pki;
const scratch = mkdtempSync(join(tmpdir(), "kv-mig-attack-"));
beforeAll(async () => {
  pki = await testPki();
});
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

const started: LauncherProcess[] = [];
const consoles: ConsoleClient[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const c of consoles.splice(0)) c.close();
  await Promise.all(started.splice(0).map((l) => l.cleanup()));
});

const withDisk = testGuestSpec({ disks: [{ name: "scratch", emptyDisk: { size: "32Mi" } }] });

/** A source running the guest with a payload on its local disk, and a waiting target. */
async function pair(name: string) {
  const source = await LauncherProcess.start(pki, name, withDisk);
  started.push(source);
  await source.waitReady();
  const console = await source.console();
  consoles.push(console);
  await console.waitFor(/kubevisor-counter \d+/);
  console.type(
    "echo payload-$((6*7)) | dd of=/dev/vda bs=512 seek=100 conv=fsync 2>/dev/null; echo written-$((2+3))",
  );
  await console.waitFor(/written-5/);
  const target = await startTarget(pki, source, withDisk);
  started.push(target);
  return { source, target, console };
}

/** After the attack: the real migration runs, and the guest and its disk arrive intact. */
async function migrationSucceeds(
  p: Awaited<ReturnType<typeof pair>>,
  answer: IncomingAnswer,
  tls: Awaited<ReturnType<typeof migrationTls>>,
) {
  await send(p.source, p.target, answer, tls, { downtimeLimitMs: 100 });
  const done = await until("the source to finish", async () => {
    const s = await migrationState(p.source);
    return s.phase === "Migrating" ? undefined : s;
  });
  expect(done, JSON.stringify(done)).toMatchObject({ phase: "Succeeded" });
  await p.target.waitReady(20_000);
  expect(await launcherPhase(p.target)).toBe("Running");
  const console = await p.target.console();
  consoles.push(console);
  await console.waitFor(/kubevisor-counter \d+/);
  expect(counts(console)[0]?.n).toBe((counts(p.console).at(-1)?.n ?? 0) + 1);
  console.type("dd if=/dev/vda bs=512 skip=100 count=1 2>/dev/null | head -1");
  await console.waitFor(/^payload-42/m);
}

/** `qemu-img info` against the target's NBD export, optionally with TLS and a client cert. */
function qemuImgInfo(
  nbd: { host: string; port: number },
  client?: { ca: string; pair: PemPair; serverName: string },
): Promise<{ code: number; output: string }> {
  const exportName = diskNodeName(0);
  let args = ["info", `nbd://${nbd.host}:${nbd.port}/${exportName}`];
  if (client) {
    const dir = mkdtempSync(join(scratch, "creds-"));
    writeFileSync(join(dir, "ca-cert.pem"), client.ca);
    writeFileSync(join(dir, "client-cert.pem"), client.pair.certPem);
    writeFileSync(join(dir, "client-key.pem"), client.pair.keyPem);
    args = [
      "info",
      "--object",
      `tls-creds-x509,id=attacker,dir=${dir},endpoint=client`,
      "--image-opts",
      `driver=nbd,host=${nbd.host},port=${nbd.port},export=${exportName},tls-creds=attacker,tls-hostname=${client.serverName}`,
    ];
  }
  return new Promise((resolve) => {
    execFile("qemu-img", args, { timeout: 20_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 1) : 0;
      resolve({ code, output: `${stdout}${stderr}` });
    });
  });
}

/** Port of a `tcp:IP:PORT` URI. */
const portOf = (uri: string) => Number(uri.split(":").at(-1));

/** Wait until the peer closes `socket`; resolves with what it sent before. */
function closedByPeer(socket: Socket, timeoutMs = 20_000): Promise<Buffer> {
  const got: Buffer[] = [];
  socket.on("data", (b: Buffer) => got.push(b));
  socket.on("error", () => {});
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error("the target kept the connection")), timeoutMs);
    socket.once("close", () => {
      clearTimeout(timer);
      resolve(Buffer.concat(got));
    });
  });
}

describe("the migration channel under attack", () => {
  it("a third party gets nothing from the target's NBD exports; the migration succeeds", async () => {
    const p = await pair("atk-nbd");
    const tls = await migrationTls(pki);
    const answer = await listen(p.target, tls);
    const nbd = answer.nbd;
    expect(nbd).toBeDefined();
    if (!nbd) return;

    // A connection that says nothing and stays open through the migration.
    const squatter = connect(nbd.port, nbd.host);
    sockets.push(squatter);
    squatter.on("error", () => {});
    // Plain NBD, as any pod could try.
    const plain = await qemuImgInfo(nbd);
    expect(plain.code, plain.output).not.toBe(0);
    expect(plain.output).not.toContain("virtual size");
    // TLS with certificates from the operator CA that are not this migration's source: a
    // launcher's serving certificate (tenants can read those) and the operator's own.
    for (const pair of [await pki.server("tests", p.source.name), pki.client]) {
      const res = await qemuImgInfo(nbd, {
        ca: pki.ca.certPem,
        pair,
        serverName: tls.source.serverName,
      });
      expect(res.code, res.output).not.toBe(0);
      expect(res.output).not.toContain("virtual size");
    }

    await migrationSucceeds(p, answer, tls);
  });

  it("a third party on the target's migration port is refused; the migration succeeds", async () => {
    const p = await pair("atk-ram");
    const tls = await migrationTls(pki);
    const answer = await listen(p.target, tls);
    const port = portOf(answer.migrationUri);

    // Connects first and sends what a QEMU source would (QEVM, version 3), then junk.
    const injector = connect(port, p.target.ip);
    sockets.push(injector);
    const injected = closedByPeer(injector);
    injector.write(Buffer.from([0x51, 0x45, 0x56, 0x4d, 0, 0, 0, 3, 0x07, 0x00, 0x00, 0x00]));
    // A TLS client without a certificate.
    const anonymous = tlsConnect({ host: p.target.ip, port, rejectUnauthorized: false });
    sockets.push(anonymous);
    const anonymousRefused = closedByPeer(anonymous);
    anonymous.on("secureConnect", () => anonymous.write("hello"));
    // And one that connects and says nothing: a pending handshake must not block the source.
    const squatter = connect(port, p.target.ip);
    sockets.push(squatter);
    squatter.on("error", () => {});

    expect((await injected).length).toBe(0);
    expect((await anonymousRefused).length).toBe(0);
    expect(await launcherPhase(p.target)).toBe("WaitingForMigration");

    await migrationSucceeds(p, answer, tls);
  });

  it("a certificate issued for another migration is refused on both ports", async () => {
    const p = await pair("atk-other");
    const tls = await migrationTls(pki);
    const other = await migrationTls(pki);
    const answer = await listen(p.target, tls);
    const nbd = answer.nbd;
    if (!nbd) throw new Error("no NBD endpoint");

    // The other migration's source identity, valid and from the same CA, on the stream...
    const impostor = tlsConnect({
      host: p.target.ip,
      port: portOf(answer.migrationUri),
      ca: pki.ca.certPem,
      cert: other.source.certPem,
      key: other.source.keyPem,
      servername: tls.source.serverName,
    });
    sockets.push(impostor);
    const refused = closedByPeer(impostor);
    impostor.on("secureConnect", () => impostor.write("QEVM"));
    expect((await refused).length).toBe(0);
    // ...and on the NBD exports.
    const res = await qemuImgInfo(nbd, {
      ca: pki.ca.certPem,
      pair: { certPem: other.source.certPem, keyPem: other.source.keyPem },
      serverName: tls.source.serverName,
    });
    expect(res.code, res.output).not.toBe(0);
    expect(res.output).toMatch(/authz|denied|TLS/i);
    // The right name on a certificate from a CA of its own fares no better.
    const evil = await createCA("kubevisor-ca");
    const forged = await issueCertificate(evil, {
      commonName: tls.target.clientDn.slice("CN=".length),
      usage: "client",
    });
    const forger = tlsConnect({
      host: p.target.ip,
      port: portOf(answer.migrationUri),
      cert: forged.certPem,
      key: forged.keyPem,
      rejectUnauthorized: false,
    });
    sockets.push(forger);
    const forgerRefused = closedByPeer(forger);
    forger.on("secureConnect", () => forger.write("QEVM"));
    expect((await forgerRefused).length).toBe(0);

    await migrationSucceeds(p, answer, tls);
  });
});

describe("where a source may send its guest", () => {
  it("refuses exec:, unix: and other hosts with 400 before QEMU sees them", async () => {
    const source = await LauncherProcess.start(pki, "atk-uri", testGuestSpec());
    started.push(source);
    await source.waitReady();
    const target = await startTarget(pki, source, testGuestSpec());
    started.push(target);
    const tls = await migrationTls(pki);
    const answer = await listen(target, tls);
    const marker = join(scratch, "exec-ran");
    const base = { ...answer, targetIP: target.ip, tls: tls.source };
    for (const migrationUri of [
      `exec:touch ${marker}`,
      `unix:${join(scratch, "sock")}`,
      `tcp:${source.ip}:${portOf(answer.migrationUri)}`,
      `tcp:${target.ip}:${portOf(answer.migrationUri)},exec:touch ${marker}`,
    ]) {
      const res = await call(source, "POST", MIGRATION_PATH, { ...base, migrationUri });
      expect(res.status, `${migrationUri}: ${JSON.stringify(res.json)}`).toBe(400);
      expect((res.json as { message: string }).message).toMatch(/^migrationUri: /);
    }
    // The operator's word on the target's IP wins over whatever the target answered.
    const elsewhere = await call(source, "POST", MIGRATION_PATH, {
      ...base,
      targetIP: source.ip,
    });
    expect(elsewhere.status).toBe(400);
    await new Promise((r) => setTimeout(r, 500));
    expect(existsSync(marker)).toBe(false);
    expect(await migrationState(source)).toEqual({ role: "source", phase: "None" });
    expect(await launcherPhase(source)).toBe("Running");
  });
});
