import { describe, expect, it } from "vitest";
import { serviceDnsNames, usable } from "../../../src/apiserver/serving-cert.js";
import { createCA, issueCertificate } from "../../../src/util/pki.js";

describe("serving certificate", () => {
  it("is reused only while it covers the Service names and stays valid", async () => {
    const names = serviceDnsNames("kv-apiserver", "kubevisor-system");
    const ca = await createCA("test");
    const cert = await issueCertificate(ca, { commonName: "x", dnsNames: names, usage: "server" });
    const stored = { caPem: ca.certPem, ...cert };
    expect(usable(stored, names, new Date())).toBe(true);
    expect(usable(stored, serviceDnsNames("other", "ns"), new Date())).toBe(false);
    expect(usable(stored, names, new Date(Date.now() + 360 * 24 * 3600 * 1000))).toBe(false);
    const otherCa = await createCA("other");
    expect(usable({ ...stored, caPem: otherCa.certPem }, names, new Date())).toBe(false);
  });
});
