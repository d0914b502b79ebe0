import { X509Certificate } from "node:crypto";

/**
 * Certificate lifetimes and the CA rotation, as pure decisions: when a leaf is renewed,
 * which CAs a trust bundle holds, when a new CA may sign, when the old one is dropped.
 * The executor (`ca-store.ts`) reads the CA Secret, asks `decideCa`, writes the result.
 */
export interface CertPolicy {
  /** Lifetime of each operator CA. */
  caLifetimeMs: number;
  /** Lifetime of every leaf: launcher serving, operator client, API server serving. */
  leafLifetimeMs: number;
  /**
   * How long a new CA sits in every trust bundle before anything is signed with it: the VM
   * reconciler rewrites each launcher Secret's ca.crt, the kubelet syncs the volume (~1 min),
   * the launcher re-reads it (10 s), followers re-read the CA Secret.
   */
  propagationMs: number;
}

const DAY_MS = 24 * 3600 * 1000;

/** 1 year CAs, 30 day leaves: a CA rotation a year, leaves monthly, 5 min to spread a CA. */
export const DEFAULT_CERT_POLICY: CertPolicy = {
  caLifetimeMs: 365 * DAY_MS,
  leafLifetimeMs: 30 * DAY_MS,
  propagationMs: 5 * 60 * 1000,
};

/**
 * Why a policy cannot work, or undefined. A new CA is added when a third of the old one's
 * life is left; it spreads (propagation), signs, and the old one is dropped once its last
 * leaves expired (a leaf lifetime and another propagation later). All of that must fit in
 * the old CA's last third, so a rotation always ends before the old CA itself expires.
 */
export function policyProblem(p: CertPolicy): string | undefined {
  if (!(p.leafLifetimeMs > 0)) return "leafLifetime must be positive";
  if (!(p.caLifetimeMs > 0)) return "caLifetime must be positive";
  if (p.propagationMs < 0) return "propagation must not be negative";
  if (p.caLifetimeMs / 3 < p.leafLifetimeMs + 2 * p.propagationMs)
    return "caLifetime must be at least 3 × (leafLifetime + 2 × propagation): a new CA is added with a third of the old one's life left, and the rotation must end before the old one expires";
  return undefined;
}

/** Validity in ms since the epoch. */
export interface Validity {
  notBefore: number;
  notAfter: number;
}

/** Pure: a PEM certificate's validity (throws on a malformed one). */
export function validityOf(certPem: string): Validity {
  const c = new X509Certificate(certPem);
  return { notBefore: Date.parse(c.validFrom), notAfter: Date.parse(c.validTo) };
}

/**
 * When a leaf is renewed: once less than a third of a leaf lifetime is left (two thirds
 * into a fresh leaf). Counted back from notAfter, not from notBefore: certificates are
 * back-dated for clock skew, which would make a seconds-long leaf look always due.
 */
export function leafRenewAt(leaf: Validity, p: CertPolicy): number {
  return leaf.notAfter - p.leafLifetimeMs / 3;
}

/** Pure: whether a leaf must be re-issued now: due, or not signed by today's signing CA. */
export function leafDue(
  leaf: Validity & { signedBySigningCa: boolean },
  now: number,
  p: CertPolicy,
): boolean {
  return !leaf.signedBySigningCa || now >= leafRenewAt(leaf, p);
}

/** A new leaf's lifetime: the policy's, but never past its CA's own end. */
export function leafLifetimeMs(signing: Validity, now: number, p: CertPolicy): number {
  return Math.max(0, Math.min(p.leafLifetimeMs, signing.notAfter - now));
}

export interface CaPem {
  certPem: string;
  keyPem: string;
}

/** The CA Secret's content, decoded. */
export interface CaState {
  /** The CA every new leaf is signed with. */
  signing: CaPem & Validity;
  /** A new CA already in every bundle but not yet signing (until pendingSince + propagation). */
  pending?: CaPem & Validity & { since: number };
  /** CAs still trusted although no longer signing, until `until`: their leaves' last day. */
  retiring?: { certPems: string[]; until: number };
}

/** Every CA a peer must trust, as one PEM bundle: signing, pending, retiring (no duplicates). */
export function trustBundle(s: CaState): string[] {
  const all = [s.signing.certPem, ...(s.pending ? [s.pending.certPem] : [])];
  for (const pem of s.retiring?.certPems ?? []) if (!all.includes(pem)) all.push(pem);
  return all;
}

export const bundlePem = (s: CaState) => trustBundle(s).map(ensureNewline).join("");
const ensureNewline = (pem: string) => (pem.endsWith("\n") ? pem : `${pem}\n`);

/** The one step a rotation takes next; `wait` says when to look again. */
export type CaStep =
  | { type: "wait"; until: number }
  /** Make a new CA and add it to every bundle; it does not sign yet. */
  | { type: "addPending" }
  /** The pending CA has spread: it signs from now on, the old one retires. */
  | { type: "promote" }
  /** Nothing the retiring CAs signed is valid any more: drop them from every bundle. */
  | { type: "dropRetiring" };

/**
 * Pure: what the leader does next with the CA. `bundlesTrustPending` is the executor's check
 * that the published bundles outside the CA Secret (the APIService caBundle) already hold the
 * pending CA; promotion waits for it whatever the clock says.
 */
export function decideCa(
  s: CaState,
  now: number,
  p: CertPolicy,
  bundlesTrustPending = true,
): CaStep {
  if (s.pending) {
    const at = s.pending.since + p.propagationMs;
    if (now >= at && bundlesTrustPending) return { type: "promote" };
    return { type: "wait", until: Math.max(at, now + 1000) };
  }
  if (s.retiring && s.retiring.certPems.length > 0) {
    if (now >= s.retiring.until) return { type: "dropRetiring" };
    return { type: "wait", until: s.retiring.until };
  }
  const addAt = s.signing.notAfter - p.caLifetimeMs / 3;
  if (now >= addAt) return { type: "addPending" };
  return { type: "wait", until: addAt };
}

/**
 * Pure: the state after a step. `fresh` is the new CA for `addPending`. On promotion the old
 * signing CA retires until every leaf it may have signed has expired: each was issued before
 * now (or, by a follower yet to re-read, within the propagation time) for at most a leaf
 * lifetime. Migration certificates carry their CA bundle in the
 * request, so QEMU keeps it whatever the Secrets hold.
 */
export function applyCaStep(
  s: CaState,
  step: Exclude<CaStep, { type: "wait" }>,
  now: number,
  p: CertPolicy,
  fresh?: CaPem & Validity,
): CaState {
  switch (step.type) {
    case "addPending":
      if (!fresh) throw new Error("addPending needs the new CA");
      return { ...s, pending: { ...fresh, since: now } };
    case "promote": {
      if (!s.pending) return s;
      const { since: _since, ...next } = s.pending;
      const old = [s.signing.certPem, ...(s.retiring?.certPems ?? [])];
      return {
        signing: next,
        // Plus the propagation time: a follower may sign with the old CA until it re-reads.
        retiring: { certPems: old, until: now + p.leafLifetimeMs + p.propagationMs },
      };
    }
    case "dropRetiring": {
      const { retiring: _retiring, ...rest } = s;
      return rest;
    }
  }
}
