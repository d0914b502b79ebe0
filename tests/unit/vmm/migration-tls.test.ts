import { describe, expect, it } from "vitest";
import { sourceRefusal } from "../../../src/vmm/migration-guard.js";
import {
  credsFiles,
  nbdClientTls,
  nbdServerTls,
  sourceMigrationParams,
  tlsCredsObject,
} from "../../../src/vmm/migration-tls.js";

const m = { caCertPem: "CA", certPem: "CERT", keyPem: "KEY" };

describe("migration TLS: what QEMU is given", () => {
  it("names the files tls-creds-x509 reads, per endpoint", () => {
    expect(Object.keys(credsFiles("server", m)).sort()).toEqual([
      "ca-cert.pem",
      "dh-params.pem",
      "server-cert.pem",
      "server-key.pem",
    ]);
    expect(credsFiles("client", m)).toEqual({
      "ca-cert.pem": "CA",
      "client-cert.pem": "CERT",
      "client-key.pem": "KEY",
    });
  });

  it("always verifies the peer, and the target always names the one client it admits", () => {
    expect(tlsCredsObject("c", "/d", "server")).toMatchObject({ "verify-peer": true });
    expect(tlsCredsObject("c", "/d", "client")).toMatchObject({ "verify-peer": true });
    const ids = { creds: "c1", authz: "a1" };
    expect(nbdServerTls(ids)).toEqual({ "tls-creds": "c1", "tls-authz": "a1" });
    expect(sourceMigrationParams({ creds: "c2" }, "target.u.migration.kubevisor.io")).toEqual({
      "tls-creds": "c2",
      "tls-hostname": "target.u.migration.kubevisor.io",
      "tls-authz": "",
    });
    expect(nbdClientTls({ creds: "c2" }, "t")).toEqual({ "tls-creds": "c2", "tls-hostname": "t" });
  });

  it("pins the RAM stream's client to exactly the source's DN", () => {
    const dn = "CN=source.u1.migration.kubevisor.io";
    expect(sourceRefusal({ CN: "source.u1.migration.kubevisor.io" }, dn)).toBeUndefined();
    const subjects: (Record<string, string | string[]> | undefined)[] = [
      { CN: "source.u2.migration.kubevisor.io" },
      { CN: "kubevisor-operator" },
      { CN: "source.u1.migration.kubevisor.io", O: "x" },
      { CN: ["source.u1.migration.kubevisor.io", "y"] },
      {},
      undefined,
    ];
    for (const subject of subjects) {
      expect(sourceRefusal(subject, dn), JSON.stringify(subject)).toMatch(/is not CN=source.u1/);
    }
  });
});
