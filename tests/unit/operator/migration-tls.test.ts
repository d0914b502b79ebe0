import { X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  IncomingRequest,
  MigrateRequest,
  migrationSourceName,
  migrationTargetName,
} from "../../../src/api/launcher-migration.js";
import {
  issueMigrationTls,
  MIGRATION_CERT_MARGIN_MS,
} from "../../../src/operator/migration/tls.js";
import { launcherCertificateRequest } from "../../../src/operator/vm/tls-secret.js";
import { createCA } from "../../../src/util/pki.js";

const ca = await createCA("kubevisor-ca");
const uid = "2f6d1c3e-8b0a-4c57-9d0e-7a1b2c3d4e5f";

describe("issueMigrationTls: one migration's two identities", () => {
  it("names the target and the admitted source after the migration's uid, signed by the CA", async () => {
    const tls = await issueMigrationTls(ca, uid, 60_000);
    const server = new X509Certificate(tls.target.certPem);
    const client = new X509Certificate(tls.source.certPem);
    const caCert = new X509Certificate(ca.certPem);
    expect(server.verify(caCert.publicKey)).toBe(true);
    expect(client.verify(caCert.publicKey)).toBe(true);
    expect(server.subjectAltName).toBe(`DNS:${migrationTargetName(uid)}`);
    expect(client.subject).toBe(`CN=${migrationSourceName(uid)}`);
    expect(tls.target.clientDn).toBe(`CN=${migrationSourceName(uid)}`);
    expect(tls.source.serverName).toBe(migrationTargetName(uid));
    expect(tls.target.caCertPem).toBe(ca.certPem);
  });

  it("is short-lived: the migration's own deadline plus a margin", async () => {
    const before = Date.now();
    const tls = await issueMigrationTls(ca, uid, 60_000);
    for (const pem of [tls.target.certPem, tls.source.certPem]) {
      const validTo = Date.parse(new X509Certificate(pem).validTo);
      expect(validTo).toBeLessThanOrEqual(Date.now() + 60_000 + MIGRATION_CERT_MARGIN_MS);
      expect(validTo).toBeGreaterThan(before + 60_000);
    }
  });

  it("passes the request schemas, and names nothing a launcher certificate could carry", async () => {
    const tls = await issueMigrationTls(ca, uid, 60_000);
    expect(IncomingRequest.parse({ tls: tls.target }).tls.clientDn).toBe(tls.target.clientDn);
    const send = MigrateRequest.parse({
      migrationUri: "tcp:10.0.0.2:4000",
      diskIndexes: [],
      targetIP: "10.0.0.2",
      tls: tls.source,
    });
    expect(send.tls.serverName).toBe(tls.source.serverName);
    const launcherName = launcherCertificateRequest({
      apiVersion: "kubevisor.io/v1alpha1",
      kind: "VirtualMachine",
      metadata: { name: "target", namespace: `${uid}.migration.kubevisor.io` },
    } as never).commonName;
    // Even a VM and namespace chosen to imitate the name lands under launcher.kubevisor.io.
    expect(launcherName.endsWith(".launcher.kubevisor.io")).toBe(true);
    const refused = IncomingRequest.safeParse({
      tls: { ...tls.target, clientDn: `CN=${launcherName}` },
    });
    expect(refused.success).toBe(false);
    expect(refused.error?.issues[0]?.path).toEqual(["tls", "clientDn"]);
  });

  it("refuses material that is not PEM, naming the field", () => {
    const r = IncomingRequest.safeParse({
      tls: {
        caCertPem: "x",
        certPem: "y",
        keyPem: "z",
        clientDn: `CN=${migrationSourceName(uid)}`,
      },
    });
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path.join("."))).toEqual([
      "tls.caCertPem",
      "tls.certPem",
      "tls.keyPem",
    ]);
  });
});
