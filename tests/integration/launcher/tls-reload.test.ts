import { mkdir, mkdtemp, rename, rm, symlink, writeFile } from "node:fs/promises";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LAUNCHER_CLIENT_CN, launcherServerName } from "../../../src/api/launcher.js";
import { type LauncherServers, startServers } from "../../../src/launcher/api/server.js";
import type { LauncherView } from "../../../src/launcher/api/view.js";
import { freePort } from "../../../src/launcher/migration/net.js";
import { logger } from "../../../src/util/log.js";
import { createCA, issueCertificate, type PemPair } from "../../../src/util/pki.js";

/**
 * The launcher takes renewed certificates and a new CA bundle from its Secret-mounted files
 * without a restart, and after a CA rotation's overlap ends refuses the old CA's clients;
 * an expired client certificate is refused at any time.
 */

const HOST = "127.0.0.1";
const SERVER_NAME = launcherServerName("ns", "vm");
const view: LauncherView = {
  ready: () => true,
  status: async () => ({ phase: "Running" }),
  serialConsole: () => undefined,
  migration: () => undefined,
  start: () => "notGated",
  metrics: async () => "",
  guestControl: () => undefined,
};

let dir: string;
let port: number;
let servers: LauncherServers;
let caA: PemPair;
let caB: PemPair;
let clientA: PemPair;
let clientB: PemPair;

const serving = (ca: PemPair) =>
  issueCertificate(ca, { commonName: "vm", dnsNames: [SERVER_NAME], usage: "server" });
const client = (ca: PemPair, validForMs?: number) =>
  issueCertificate(ca, {
    commonName: LAUNCHER_CLIENT_CN,
    usage: "client",
    ...(validForMs !== undefined ? { validForMs } : {}),
  });

let version = 0;
/**
 * As the kubelet updates a Secret volume: each file is a symlink through `..data`, and the
 * new set is written to a fresh directory that `..data` is then atomically renamed onto.
 */
async function writeTls(pair: PemPair, bundle: PemPair[]) {
  const data = `..v${++version}`;
  await mkdir(join(dir, data));
  await Promise.all([
    writeFile(join(dir, data, "tls.crt"), pair.certPem),
    writeFile(join(dir, data, "tls.key"), pair.keyPem),
    writeFile(join(dir, data, "ca.crt"), bundle.map((c) => c.certPem).join("")),
  ]);
  await symlink(data, join(dir, "..data_tmp"));
  await rename(join(dir, "..data_tmp"), join(dir, "..data"));
  if (version === 1) {
    for (const f of ["tls.crt", "tls.key", "ca.crt"])
      await symlink(join("..data", f), join(dir, f));
  }
}

/** GET /status as `as`, trusting `trust` for the server: the server cert's issuer CN, or the error. */
function call(
  as: PemPair,
  trust: PemPair[],
): Promise<{ ok: true; issuer: string } | { ok: false; error: string }> {
  return new Promise((resolve) => {
    const req = request(
      {
        host: HOST,
        port,
        path: "/status",
        servername: SERVER_NAME,
        ca: trust.map((c) => c.certPem),
        cert: as.certPem,
        key: as.keyPem,
        agent: false,
        timeout: 5000,
      },
      (res) => {
        const issuer = String((res.socket as TLSSocket).getPeerCertificate().issuer?.CN);
        res.resume();
        res.on("end", () =>
          resolve(
            res.statusCode === 200
              ? { ok: true, issuer }
              : { ok: false, error: `${res.statusCode}` },
          ),
        );
      },
    );
    req.on("error", (err) => resolve({ ok: false, error: err.message }));
    req.end();
  });
}

async function until<T>(what: string, check: () => Promise<T | undefined>): Promise<T> {
  for (let i = 0; i < 200; i++) {
    const v = await check();
    if (v !== undefined) return v;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "kv-tls-reload-"));
  [caA, caB] = await Promise.all([createCA("operator-ca-a"), createCA("operator-ca-b")]);
  [clientA, clientB] = await Promise.all([client(caA), client(caB)]);
  await writeTls(await serving(caA), [caA]);
  port = await freePort(HOST);
  servers = await startServers({
    hosts: [HOST],
    port,
    probePort: await freePort(HOST),
    tlsDir: dir,
    view,
    log: logger("test"),
    tlsReloadMs: 50,
  });
});

afterAll(async () => {
  await servers?.close();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe("launcher TLS reload and CA rotation", () => {
  it("serves the renewed certificate and trusts both CAs during the overlap", async () => {
    expect(await call(clientA, [caA])).toEqual({ ok: true, issuer: "operator-ca-a" });
    // The new CA is added to the bundle first; the serving pair is renewed from it.
    await writeTls(await serving(caB), [caA, caB]);
    await until("the renewed serving certificate", async () => {
      const r = await call(clientA, [caA, caB]);
      return r.ok && r.issuer === "operator-ca-b" ? r : undefined;
    });
    // Both the operator's old and new client certificates are admitted meanwhile.
    expect((await call(clientA, [caB])).ok).toBe(true);
    expect((await call(clientB, [caB])).ok).toBe(true);
  });

  it("refuses the old CA's client once the overlap ended, and an expired one always", async () => {
    await writeTls(await serving(caB), [caB]);
    const refused = await until("the old CA dropped", async () => {
      const r = await call(clientA, [caB]);
      return r.ok ? undefined : r;
    });
    expect(refused.ok).toBe(false);
    expect((await call(clientB, [caB])).ok).toBe(true);
    // Signed by the trusted CA, with the pinned name, but expired a minute ago.
    const expired = await client(caB, -60_000);
    expect((await call(expired, [caB])).ok).toBe(false);
  });
});
