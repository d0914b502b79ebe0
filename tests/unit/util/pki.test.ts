import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { once } from "node:events";
import type { AddressInfo } from "node:net";
import tls from "node:tls";
import { beforeAll, describe, expect, it } from "vitest";
import { createCA, issueCertificate, loadCA, type PemPair } from "../../../src/util/pki.js";

const SERVER_NAME = "vm1.default.launcher.kubevisor.io";

describe("pki", () => {
  let ca: PemPair;
  let server: PemPair;
  let client: PemPair;

  beforeAll(async () => {
    ca = await createCA("kubevisor-test-ca", 30);
    server = await issueCertificate(ca, {
      commonName: "vm1",
      dnsNames: [SERVER_NAME],
      ipAddresses: ["127.0.0.1"],
      usage: "server",
    });
    client = await issueCertificate(ca, {
      commonName: "kubevisor-operator",
      organization: "kubevisor",
      usage: "client",
      days: 7,
    });
  });

  it("creates a self-signed CA certificate for signing only", () => {
    const cert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(true);
    expect(cert.subject).toBe("CN=kubevisor-test-ca");
    expect(cert.issuer).toBe(cert.subject);
    expect(cert.verify(cert.publicKey)).toBe(true);
    expect(cert.publicKey.asymmetricKeyDetails?.namedCurve).toBe("prime256v1");
    const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(29);
    expect(days).toBeLessThanOrEqual(30);
  });

  it("issues a server certificate signed by the CA with the requested SANs", () => {
    const cert = new X509Certificate(server.certPem);
    const caCert = new X509Certificate(ca.certPem);
    expect(cert.ca).toBe(false);
    expect(cert.issuer).toBe("CN=kubevisor-test-ca");
    expect(cert.checkIssued(caCert)).toBe(true);
    expect(cert.verify(caCert.publicKey)).toBe(true);
    expect(cert.subjectAltName).toBe(`DNS:${SERVER_NAME}, IP Address:127.0.0.1`);
    expect(cert.checkHost(SERVER_NAME)).toBe(SERVER_NAME);
    expect(cert.checkHost("other.example")).toBeUndefined();
    expect(cert.keyUsage).toEqual(["1.3.6.1.5.5.7.3.1"]);
    expect(Date.parse(cert.validFrom)).toBeLessThanOrEqual(Date.now());
    const days = (Date.parse(cert.validTo) - Date.now()) / 86_400_000;
    expect(days).toBeGreaterThan(364);
    expect(days).toBeLessThanOrEqual(365);
  });

  it("issues a client certificate carrying the organization", () => {
    const cert = new X509Certificate(client.certPem);
    expect(cert.subject.split("\n").sort()).toEqual(["CN=kubevisor-operator", "O=kubevisor"]);
    expect(cert.keyUsage).toEqual(["1.3.6.1.5.5.7.3.2"]);
    expect(cert.subjectAltName).toBeUndefined();
  });

  it("issues a certificate for both uses", async () => {
    const both = await issueCertificate(ca, { commonName: "apiserver", usage: "both" });
    expect(new X509Certificate(both.certPem).keyUsage?.sort()).toEqual([
      "1.3.6.1.5.5.7.3.1",
      "1.3.6.1.5.5.7.3.2",
    ]);
  });

  it("rejects an IP SAN that is not an address", async () => {
    await expect(
      issueCertificate(ca, { commonName: "x", ipAddresses: ["not-an-ip"], usage: "server" }),
    ).rejects.toThrow(/not an IP address/);
  });

  it("signs with a CA loaded from PEM, also an RSA one made elsewhere", async () => {
    const loaded = await loadCA(ca);
    const viaLoaded = await issueCertificate(loaded, { commonName: "a", usage: "client" });
    expect(
      new X509Certificate(viaLoaded.certPem).checkIssued(new X509Certificate(ca.certPem)),
    ).toBe(true);

    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 });
    const rsaCa = await loadCA({
      certPem: ca.certPem,
      keyPem: rsa.privateKey.export({ type: "pkcs1", format: "pem" }).toString(),
    });
    const signed = await issueCertificate(rsaCa, { commonName: "b", usage: "server" });
    expect(new X509Certificate(signed.certPem).verify(rsa.publicKey)).toBe(true);
  });

  it("completes a mutual TLS handshake only with certificates from the same CA", async () => {
    const srv = tls.createServer({
      cert: server.certPem,
      key: server.keyPem,
      ca: ca.certPem,
      requestCert: true,
      rejectUnauthorized: true,
    });
    srv.on("secureConnection", (socket) => socket.end("hello"));
    srv.on("tlsClientError", () => {});
    srv.listen(0, "127.0.0.1");
    await once(srv, "listening");
    const { port } = srv.address() as AddressInfo;
    try {
      expect(await handshake(port, client, ca.certPem)).toBe("hello");

      const otherCa = await createCA("other-ca");
      const foreign = await issueCertificate(otherCa, { commonName: "intruder", usage: "client" });
      await expect(handshake(port, foreign, ca.certPem)).rejects.toThrow();
      // The client refuses a server whose certificate a different CA issued.
      await expect(handshake(port, client, otherCa.certPem)).rejects.toThrow(
        /self-signed|unable to verify|certificate/i,
      );
    } finally {
      srv.close();
    }
  });
});

function handshake(port: number, clientPair: PemPair, caPem: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({
      host: "127.0.0.1",
      port,
      servername: SERVER_NAME,
      cert: clientPair.certPem,
      key: clientPair.keyPem,
      ca: caPem,
    });
    let data = "";
    socket.on("data", (chunk) => {
      data += chunk;
    });
    socket.on("end", () => (data ? resolve(data) : reject(new Error("closed without data"))));
    socket.on("error", reject);
  });
}
