import { X509Certificate } from "node:crypto";
import { LAUNCHER_CLIENT_CN } from "../../api/launcher.js";
import type { Logger } from "../../util/log.js";
import { type IssueOptions, issueCertificate, type PemPair } from "../../util/pki.js";
import type { Trust } from "./ca-store.js";
import { type CertPolicy, leafDue, leafLifetimeMs, validityOf } from "./rotation.js";

/** What a launcher client presents and checks: its pair and the CA bundle it trusts. */
export interface ClientTls {
  caPem: string;
  certPem: string;
  keyPem: string;
}

/** A trust source: the CA store (every replica) or a fixed one (tests). */
export interface TrustSource {
  trust(): Trust;
  onChange(fn: (t: Trust) => void): () => void;
}

/** Pure: whether `cert` was signed by `ca` (issuer name and signature). */
export function signedBy(certPem: string, caPem: string): boolean {
  try {
    const cert = new X509Certificate(certPem);
    const ca = new X509Certificate(caPem);
    return cert.checkIssued(ca) && cert.verify(ca.publicKey);
  } catch {
    return false;
  }
}

/** A leaf's request, without its lifetime (the policy sets it). */
export type LeafRequest = Omit<IssueOptions, "days" | "validForMs">;

/**
 * One leaf certificate this process presents, kept fresh: re-issued when due (a third of a
 * leaf lifetime left) or when the signing CA changed, checked on every trust change and on
 * a timer. Held in memory only; each replica issues its own from the shared CA.
 */
export class LeafKeeper {
  private pair: PemPair;
  private readonly stopWatch: () => void;
  private readonly timer: NodeJS.Timeout;
  private renewing: Promise<void> | undefined;
  private readonly renewed = new Set<(pair: PemPair) => void>();

  private constructor(
    private readonly source: TrustSource,
    private readonly policy: CertPolicy,
    private readonly request: LeafRequest,
    private readonly log: Logger,
    first: PemPair,
    intervalMs: number,
  ) {
    this.pair = first;
    this.stopWatch = source.onChange(() => void this.renewIfDue());
    this.timer = setInterval(() => void this.renewIfDue(), intervalMs);
    this.timer.unref();
  }

  static async start(
    source: TrustSource,
    policy: CertPolicy,
    request: LeafRequest,
    log: Logger,
    intervalMs: number,
  ): Promise<LeafKeeper> {
    const first = await issueLeaf(source.trust(), policy, request);
    return new LeafKeeper(source, policy, request, log, first, intervalMs);
  }

  /** The current pair. */
  current(): PemPair {
    return this.pair;
  }

  /** The pair with today's CA bundle: what a launcher client uses. */
  clientTls(): ClientTls {
    return { caPem: this.source.trust().bundlePem, ...this.pair };
  }

  onRenewed(fn: (pair: PemPair) => void): void {
    this.renewed.add(fn);
  }

  renewIfDue(now = Date.now()): Promise<void> {
    if (this.renewing) return this.renewing;
    const trust = this.source.trust();
    const leaf = {
      ...validityOf(this.pair.certPem),
      signedBySigningCa: signedBy(this.pair.certPem, trust.signing.certPem),
    };
    if (!leafDue(leaf, now, this.policy)) return Promise.resolve();
    this.renewing = issueLeaf(trust, this.policy, this.request)
      .then((next) => {
        this.pair = next;
        for (const fn of this.renewed) fn(next);
        this.log.info({ commonName: this.request.commonName }, "certificate renewed");
      })
      .catch((err: unknown) =>
        this.log.warn(
          { err, commonName: this.request.commonName },
          "renewing a certificate failed",
        ),
      )
      .finally(() => {
        this.renewing = undefined;
      });
    return this.renewing;
  }

  stop(): void {
    this.stopWatch();
    clearInterval(this.timer);
  }
}

function issueLeaf(trust: Trust, policy: CertPolicy, request: LeafRequest): Promise<PemPair> {
  return issueCertificate(trust.signing, {
    ...request,
    validForMs: leafLifetimeMs(trust.signing, Date.now(), policy),
  });
}

/** The operator's client certificate for launchers: `CN=kubevisor-operator`. */
export const OPERATOR_CLIENT_REQUEST: LeafRequest = {
  commonName: LAUNCHER_CLIENT_CN,
  usage: "client",
};
