import { mkdir, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { QmpObject } from "./qmp-commands.js";
import type { Vm } from "./vm.js";

/**
 * Mutual TLS for a live migration, with QEMU's own TLS (tls-creds-x509, verify-peer=on) for
 * every NBD disk copy and the source's side of the RAM stream (the target's side of that
 * ends in migration-guard.ts). The target is the TLS server and admits exactly one client
 * identity (for NBD an `authz-simple` object holding the source certificate's subject DN);
 * the source is the client and checks the target's certificate against one host name.
 *
 * Every QMP command name and argument shape this needs is built here, in one place, so a
 * typed command map can take them over as they are.
 */

/** PEM material for one side: the CA both certificates chain to, and this side's pair. */
export interface TlsMaterial {
  caCertPem: string;
  certPem: string;
  keyPem: string;
}

export interface TargetTls extends TlsMaterial {
  /** The only client admitted: the source certificate's subject DN, e.g. `CN=source.x`. */
  clientDn: string;
}

export interface SourceTls extends TlsMaterial {
  /** The name the target's certificate must carry (a DNS SAN). */
  serverName: string;
}

export type TlsEndpoint = "server" | "client";

/** QEMU object ids of one migration's TLS setup; unique per setup so a retry never clashes. */
export interface TlsIds {
  creds: string;
  authz?: string;
}

/**
 * RFC 7919's ffdhe2048 group: a published, fixed DH group. Without a dh-params.pem a QEMU TLS
 * server generates fresh parameters at object-add (measured: ~1.2 s of CPU under TCG load);
 * the handshake itself uses ECDHE, so a standard group costs nothing in safety.
 */
export const FFDHE2048_PEM = `-----BEGIN DH PARAMETERS-----
MIIBCAKCAQEA//////////+t+FRYortKmq/cViAnPTzx2LnFg84tNpWp4TZBFGQz
+8yTnc4kmz75fS/jY2MMddj2gbICrsRhetPfHtXV/WVhJDP1H18GbtCFY2VVPe0a
87VXE15/V8k1mE8McODmi3fipona8+/och3xWKE2rec1MKzKT0g6eXq8CrGCsyT7
YdEIqUuyyOP7uWrat2DX9GgdT0Kj3jlN9K5W7edjcrsZCwenyO4KbXCeAvzhzffi
7MA0BM0oNC9hkXL+nOmFg/+OTxIy7vKBg8P+OxtMb61zO7X8vC7CIAXFjvGDfRaD
ssbzSibBsu/6iGtCOGEoXJf//////////wIBAg==
-----END DH PARAMETERS-----
`;

/** The file names QEMU's tls-creds-x509 reads from its `dir`. */
export function credsFiles(endpoint: TlsEndpoint, m: TlsMaterial): Record<string, string> {
  return {
    "ca-cert.pem": m.caCertPem,
    [`${endpoint}-cert.pem`]: m.certPem,
    [`${endpoint}-key.pem`]: m.keyPem,
    ...(endpoint === "server" ? { "dh-params.pem": FFDHE2048_PEM } : {}),
  };
}

// ---- QMP shapes ----

export const tlsCredsObject = (id: string, dir: string, endpoint: TlsEndpoint): QmpObject => ({
  "qom-type": "tls-creds-x509",
  id,
  dir,
  endpoint,
  "verify-peer": true,
});

export const authzObject = (id: string, identity: string): QmpObject => ({
  "qom-type": "authz-simple",
  id,
  identity,
});

/** `migrate-set-parameters` on the source: TLS, and the name the target must prove. */
export const sourceMigrationParams = (ids: TlsIds, serverName: string) => ({
  "tls-creds": ids.creds,
  "tls-hostname": serverName,
  "tls-authz": "",
});

/** `migrate-set-parameters` without TLS (a plaintext migration, e.g. benchmarks' baseline). */
export const plainMigrationParams = { "tls-creds": "", "tls-hostname": "", "tls-authz": "" };

/** Extra `nbd-server-start` arguments on the target. */
export const nbdServerTls = (ids: TlsIds) => ({
  "tls-creds": ids.creds,
  ...(ids.authz ? { "tls-authz": ids.authz } : {}),
});

/** Extra `blockdev-add` (driver nbd) arguments on the source. */
export const nbdClientTls = (ids: TlsIds, serverName: string) => ({
  "tls-creds": ids.creds,
  "tls-hostname": serverName,
});

// ---- acting on QEMU ----

let setups = 0;

/**
 * Give QEMU its credentials: the PEM files go to a fresh 0700 directory in the VM's private
 * run directory (each file 0600), QEMU loads them at `object-add`, and the directory is
 * removed at once: keys stay on disk only while QEMU reads them.
 */
export async function installTls(
  vm: Vm,
  endpoint: "server",
  m: TargetTls,
): Promise<Required<TlsIds>>;
export async function installTls(vm: Vm, endpoint: "client", m: SourceTls): Promise<TlsIds>;
export async function installTls(
  vm: Vm,
  endpoint: TlsEndpoint,
  m: TargetTls | SourceTls,
): Promise<TlsIds> {
  const n = ++setups;
  const ids: TlsIds = { creds: `kv-mig-tls-${n}` };
  const dir = join(vm.runDir, `migration-tls-${n}`);
  await mkdir(dir, { mode: 0o700 });
  try {
    for (const [file, pem] of Object.entries(credsFiles(endpoint, m))) {
      await writeFile(join(dir, file), pem, { mode: 0o600 });
    }
    await vm.qmp.execute("object-add", tlsCredsObject(ids.creds, dir, endpoint));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  if ("clientDn" in m) {
    ids.authz = `kv-mig-authz-${n}`;
    await vm.qmp.execute("object-add", authzObject(ids.authz, m.clientDn));
  }
  return ids;
}

/** Drop the objects once nothing uses them any more (best effort: QEMU may be gone). */
export async function removeTls(vm: Vm, ids: TlsIds | undefined): Promise<void> {
  if (!ids || vm.hasExited) return;
  await vm.qmp.execute("migrate-set-parameters", plainMigrationParams).catch(() => {});
  for (const id of [ids.authz, ids.creds]) {
    if (id) await vm.qmp.execute("object-del", { id }).catch(() => {});
  }
}
