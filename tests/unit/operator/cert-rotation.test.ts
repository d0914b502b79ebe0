import { X509Certificate } from "node:crypto";
import { describe, expect, it } from "vitest";
import {
  CA_SECRET,
  caSecretIsOurs,
  decodeCaSecret,
  encodeCaSecret,
} from "../../../src/operator/certs/ca-secret.js";
import { signedBy } from "../../../src/operator/certs/leaf-keeper.js";
import {
  applyCaStep,
  type CaState,
  type CertPolicy,
  DEFAULT_CERT_POLICY,
  decideCa,
  leafDue,
  leafLifetimeMs,
  policyProblem,
  trustBundle,
  validityOf,
} from "../../../src/operator/certs/rotation.js";
import { createCA, issueCertificate } from "../../../src/util/pki.js";

/** The CA rotation's pure decisions: every step of a full rotation, and its guards. */

const S = 1000;
const policy: CertPolicy = { caLifetimeMs: 90 * S, leafLifetimeMs: 20 * S, propagationMs: 5 * S };
const T0 = Date.parse("2026-01-01T00:00:00Z");
const ca = (name: string, notBefore = T0, lifetime = policy.caLifetimeMs) => ({
  certPem: `${name}-cert\n`,
  keyPem: `${name}-key`,
  notBefore,
  notAfter: notBefore + lifetime,
});

describe("policyProblem", () => {
  it("accepts the defaults and a seconds-long test policy", () => {
    expect(policyProblem(DEFAULT_CERT_POLICY)).toBeUndefined();
    expect(policyProblem(policy)).toBeUndefined();
  });
  it("refuses a CA too short for its leaves to expire before it does, naming the fields", () => {
    expect(policyProblem({ ...policy, leafLifetimeMs: 40 * S })).toMatch(
      /caLifetime must be at least 3 × \(leafLifetime \+ 2 × propagation\)/,
    );
    expect(policyProblem({ ...policy, leafLifetimeMs: 0 })).toMatch(/leafLifetime/);
  });
});

describe("leaves", () => {
  const leaf = { notBefore: T0 - 300 * S, notAfter: T0 + 20 * S, signedBySigningCa: true };
  it("are renewed once a third of a leaf lifetime is left, counted from the end (back-dating aside)", () => {
    expect(leafDue(leaf, T0 + 13 * S, policy)).toBe(false);
    expect(leafDue(leaf, T0 + 14 * S, policy)).toBe(true);
  });
  it("are renewed at once when not signed by the signing CA (after a promotion)", () => {
    expect(leafDue({ ...leaf, signedBySigningCa: false }, T0, policy)).toBe(true);
  });
  it("never outlive their CA", () => {
    const signing = ca("a");
    expect(leafLifetimeMs(signing, T0, policy)).toBe(policy.leafLifetimeMs);
    expect(leafLifetimeMs(signing, signing.notAfter - 3 * S, policy)).toBe(3 * S);
  });
});

describe("decideCa: a full rotation", () => {
  const start: CaState = { signing: ca("a") };
  const addAt = T0 + policy.caLifetimeMs - policy.caLifetimeMs / 3;

  it("waits while more than a third of the CA's life is left", () => {
    expect(decideCa(start, addAt - 1, policy)).toEqual({ type: "wait", until: addAt });
  });

  it("adds a new CA to the bundle first: it does not sign yet", () => {
    expect(decideCa(start, addAt, policy)).toEqual({ type: "addPending" });
    const s = applyCaStep(start, { type: "addPending" }, addAt, policy, ca("b", addAt));
    expect(s.signing.certPem).toBe("a-cert\n");
    expect(trustBundle(s)).toEqual(["a-cert\n", "b-cert\n"]);
  });

  const pending = applyCaStep(start, { type: "addPending" }, addAt, policy, ca("b", addAt));
  const promoteAt = addAt + policy.propagationMs;

  it("promotes only after the propagation time", () => {
    expect(decideCa(pending, promoteAt - 1, policy).type).toBe("wait");
    expect(decideCa(pending, promoteAt, policy)).toEqual({ type: "promote" });
  });

  it("never promotes while an outside bundle (the APIService caBundle) lacks the new CA", () => {
    expect(decideCa(pending, promoteAt + 3600 * S, policy, false).type).toBe("wait");
  });

  const promoted = applyCaStep(pending, { type: "promote" }, promoteAt, policy);
  const dropAt = promoteAt + policy.leafLifetimeMs + policy.propagationMs;

  it("on promotion the new CA signs and the old one stays trusted", () => {
    expect(promoted.signing.certPem).toBe("b-cert\n");
    expect(promoted.pending).toBeUndefined();
    expect(trustBundle(promoted)).toEqual(["b-cert\n", "a-cert\n"]);
    expect(promoted.retiring?.until).toBe(dropAt);
  });

  it("drops the old CA only once every leaf it signed has expired", () => {
    // The last leaf the old CA signed: by a follower that had not yet re-read, just before
    // the promotion was seen, valid for a whole leaf lifetime.
    const lastOldLeafEnd = promoteAt + policy.propagationMs + policy.leafLifetimeMs;
    expect(dropAt).toBeGreaterThanOrEqual(lastOldLeafEnd);
    expect(decideCa(promoted, dropAt - 1, policy).type).toBe("wait");
    expect(decideCa(promoted, dropAt, policy)).toEqual({ type: "dropRetiring" });
    const dropped = applyCaStep(promoted, { type: "dropRetiring" }, dropAt, policy);
    expect(trustBundle(dropped)).toEqual(["b-cert\n"]);
  });

  it("under any valid policy the rotation ends before the old CA expires", () => {
    for (const p of [policy, DEFAULT_CERT_POLICY]) {
      const old = ca("a", T0, p.caLifetimeMs);
      const add = old.notAfter - p.caLifetimeMs / 3;
      const promote = add + p.propagationMs;
      const dropped = promote + p.leafLifetimeMs + p.propagationMs;
      expect(dropped).toBeLessThanOrEqual(old.notAfter);
    }
  });
});

describe("the CA Secret codec", async () => {
  const a = await createCA("kubevisor-ca", 0, 90 * S);
  const b = await createCA("kubevisor-ca", 0, 90 * S);
  const state: CaState = {
    signing: { ...b, ...validityOf(b.certPem) },
    retiring: { certPems: [a.certPem], until: T0 },
  };
  const asRead = (s: ReturnType<typeof encodeCaSecret>) => ({
    ...s,
    data: Object.fromEntries(
      Object.entries(s.stringData ?? {}).map(([k, v]) => [k, Buffer.from(v).toString("base64")]),
    ),
  });

  it("round-trips signing, bundle and retirement", () => {
    const secret = asRead(encodeCaSecret(state, "kubevisor-system", "7"));
    expect(secret.metadata?.name).toBe(CA_SECRET);
    expect(secret.metadata?.resourceVersion).toBe("7");
    const back = decodeCaSecret(secret);
    expect(back.signing.certPem).toBe(b.certPem);
    expect(back.retiring?.until).toBe(T0);
    expect(trustBundle(back).map((p) => p.trim())).toEqual([b.certPem.trim(), a.certPem.trim()]);
    expect(caSecretIsOurs(secret)).toBe(true);
  });

  it("reads a Secret written before rotation existed (no ca.crt) as ours, signing only", () => {
    const legacy = {
      metadata: { name: CA_SECRET, namespace: "ns" },
      data: {
        "tls.crt": Buffer.from(a.certPem).toString("base64"),
        "tls.key": Buffer.from(a.keyPem).toString("base64"),
      },
    };
    expect(caSecretIsOurs(legacy)).toBe(true);
    expect(trustBundle(decodeCaSecret(legacy))).toEqual([a.certPem]);
  });

  it("a CA Secret someone else made (another CN, no label) is not ours: never rotated", async () => {
    const theirs = await createCA("corp-issuing-ca");
    const secret = {
      metadata: { name: CA_SECRET, namespace: "ns" },
      data: {
        "tls.crt": Buffer.from(theirs.certPem).toString("base64"),
        "tls.key": Buffer.from(theirs.keyPem).toString("base64"),
      },
    };
    expect(caSecretIsOurs(secret)).toBe(false);
  });

  it("names what is missing", () => {
    expect(() => decodeCaSecret({ metadata: { name: CA_SECRET, namespace: "ns" } })).toThrow(
      /secret ns\/kubevisor-ca lacks tls.crt or tls.key/,
    );
  });

  it("signedBy tells leaves of the old and the new CA apart", async () => {
    const leaf = await issueCertificate(a, { commonName: "x", usage: "client", validForMs: S });
    expect(signedBy(leaf.certPem, a.certPem)).toBe(true);
    expect(signedBy(leaf.certPem, b.certPem)).toBe(false);
    expect(new X509Certificate(b.certPem).subject).toBe("CN=kubevisor-ca");
  });
});
