import { X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  bundleHolds,
  mergeBundles,
  serviceDnsNames,
  servingCertRequest,
} from "../../../src/apiserver/serving-cert.js";
import { createCA, issueCertificate } from "../../../src/util/pki.js";

describe("serving certificate", () => {
  it("covers every name the kube-apiserver may dial the Service by", async () => {
    const req = servingCertRequest("kv-apiserver", "kubevisor-system");
    expect(req.dnsNames).toEqual(serviceDnsNames("kv-apiserver", "kubevisor-system"));
    const ca = await createCA("kubevisor-ca");
    const cert = new X509Certificate((await issueCertificate(ca, req)).certPem);
    expect(cert.checkHost("kv-apiserver.kubevisor-system.svc")).toBe(
      "kv-apiserver.kubevisor-system.svc",
    );
  });
});

describe("the APIService caBundle", async () => {
  const [a, b] = await Promise.all([createCA("kubevisor-ca"), createCA("kubevisor-ca")]);

  it("a replica at start only adds CAs, never removes one (removing is the leader's)", () => {
    const merged = mergeBundles(a.certPem, `${a.certPem}${b.certPem}`);
    expect(bundleHolds(merged, a.certPem)).toBe(true);
    expect(bundleHolds(merged, b.certPem)).toBe(true);
    expect(mergeBundles(merged, b.certPem)).toBe(merged);
    expect(bundleHolds(a.certPem, b.certPem)).toBe(false);
  });
});
