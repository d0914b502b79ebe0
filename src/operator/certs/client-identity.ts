import { X509Certificate } from "node:crypto";
import { LAUNCHER_CLIENT_CN } from "../../api/launcher.js";
import type { Logger } from "../../util/log.js";
import { issueCertificate, type PemPair } from "../../util/pki.js";
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

/**
 * The operator's client certificate for launchers (`CN=kubevisor-operator`), kept fresh: re-
 * issued when due (a third of a leaf lifetime left) or when the signing CA changed, checked
 * on every trust change and on a timer. Each replica (and each API server) holds its own.
 */
export class ClientIdentity {
  private tlsNow: ClientTls;
  private stopWatch: () => void;
  private timer: NodeJS.Timeout;
  private renewing: Promise<void> | undefined;

  private constructor(
    private readonly source: TrustSource,
    private readonly policy: CertPolicy,
    private readonly log: Logger,
    first: ClientTls,
    intervalMs: number,
  ) {
    this.tlsNow = first;
    this.stopWatch = source.onChange(() => void this.renewIfDue());
    this.timer = setInterval(() => void this.renewIfDue(), intervalMs);
    this.timer.unref();
  }

  static async start(
    source: TrustSource,
    policy: CertPolicy,
    log: Logger,
    intervalMs: number,
  ): Promise<ClientIdentity> {
    const first = await issueClient(source.trust(), policy);
    return new ClientIdentity(source, policy, log, first, intervalMs);
  }

  tls(): ClientTls {
    return this.tlsNow;
  }

  renewIfDue(now = Date.now()): Promise<void> {
    if (this.renewing) return this.renewing;
    const trust = this.source.trust();
    const leaf = {
      ...validityOf(this.tlsNow.certPem),
      signedBySigningCa: signedBy(this.tlsNow.certPem, trust.signing.certPem),
    };
    if (!leafDue(leaf, now, this.policy)) {
      // The bundle may have changed without the signing CA: check launchers against it.
      if (this.tlsNow.caPem !== trust.bundlePem)
        this.tlsNow = { ...this.tlsNow, caPem: trust.bundlePem };
      return Promise.resolve();
    }
    this.renewing = issueClient(trust, this.policy)
      .then((next) => {
        this.tlsNow = next;
        this.log.info("operator client certificate renewed");
      })
      .catch((err: unknown) => this.log.warn({ err }, "renewing the client certificate failed"))
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

async function issueClient(trust: Trust, policy: CertPolicy): Promise<ClientTls> {
  const pair: PemPair = await issueCertificate(trust.signing, {
    commonName: LAUNCHER_CLIENT_CN,
    usage: "client",
    validForMs: leafLifetimeMs(trust.signing, Date.now(), policy),
  });
  return { caPem: trust.bundlePem, ...pair };
}
