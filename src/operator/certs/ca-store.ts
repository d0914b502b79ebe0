import type { V1Secret } from "@kubernetes/client-node";
import {
  isAlreadyExists,
  isConflict,
  isNotFound,
  type KubeClient,
  paths,
} from "../../kube/client.js";
import type { Logger } from "../../util/log.js";
import { createCA } from "../../util/pki.js";
import {
  CA_COMMON_NAME,
  CA_SECRET,
  caSecretIsOurs,
  decodeCaSecret,
  encodeCaSecret,
} from "./ca-secret.js";
import {
  applyCaStep,
  bundlePem,
  type CaPem,
  type CaState,
  type CaStep,
  type CertPolicy,
  decideCa,
  type Validity,
  validityOf,
} from "./rotation.js";

/** What every component that signs or checks needs: the signing CA and the bundle. */
export interface Trust {
  signing: CaPem & Validity;
  /** Every CA to accept, PEMs concatenated. */
  bundlePem: string;
  /** A CA in the bundle that does not sign yet. */
  pendingPem?: string;
}

const toTrust = (s: CaState): Trust => ({
  signing: s.signing,
  bundlePem: bundlePem(s),
  ...(s.pending ? { pendingPem: s.pending.certPem } : {}),
});

/** How often replicas re-read the CA Secret: well inside the propagation time and a leaf's life. */
export function pollIntervalMs(p: CertPolicy): number {
  return Math.max(500, Math.min(30_000, p.propagationMs / 4, p.leafLifetimeMs / 10));
}

/**
 * The operator CA, kept in the Secret `kubevisor-ca` of the operator's namespace. Every
 * replica reads it (and re-reads it on a timer: `refresh`); only the leader changes it
 * (`rotate`), with a resourceVersion guard, so followers sign only with a CA the leader
 * has published and the bundles already trust.
 */
export class CaStore {
  private listeners = new Set<(t: Trust) => void>();
  private current: Trust;

  private constructor(
    private readonly client: KubeClient,
    private readonly namespace: string,
    private readonly policy: CertPolicy,
    private readonly log: Logger,
    private state: CaState,
    private resourceVersion: string | undefined,
    private ours: boolean,
  ) {
    this.current = toTrust(state);
  }

  /** Reads the CA Secret, creating it when missing (whichever replica is first wins). */
  static async open(
    client: KubeClient,
    namespace: string,
    policy: CertPolicy,
    log: Logger,
  ): Promise<CaStore> {
    const existing = await readSecret(client, namespace);
    if (existing) return CaStore.from(client, namespace, policy, log, existing);
    const ca = await createCA(CA_COMMON_NAME, 0, policy.caLifetimeMs);
    const state: CaState = { signing: { ...ca, ...validityOf(ca.certPem) } };
    try {
      const created = await client.create<V1Secret>(
        paths.secrets(namespace),
        encodeCaSecret(state, namespace),
      );
      log.info({ namespace, secret: CA_SECRET }, "created the operator CA");
      return new CaStore(
        client,
        namespace,
        policy,
        log,
        state,
        created.metadata?.resourceVersion,
        true,
      );
    } catch (err) {
      if (!isAlreadyExists(err)) throw err;
      const winner = await readSecret(client, namespace);
      if (!winner)
        throw new Error(`secret ${namespace}/${CA_SECRET} vanished right after creation`);
      return CaStore.from(client, namespace, policy, log, winner);
    }
  }

  private static from(
    client: KubeClient,
    namespace: string,
    policy: CertPolicy,
    log: Logger,
    secret: V1Secret,
  ): CaStore {
    const ours = caSecretIsOurs(secret);
    if (!ours)
      log.warn(
        { namespace, secret: CA_SECRET },
        "the CA Secret was not made by the operator: used as it is, never rotated",
      );
    return new CaStore(
      client,
      namespace,
      policy,
      log,
      decodeCaSecret(secret),
      secret.metadata?.resourceVersion,
      ours,
    );
  }

  trust(): Trust {
    return this.current;
  }

  /** Called with the new trust whenever the signing CA or the bundle changes. */
  onChange(fn: (t: Trust) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  /** Re-reads the Secret (every replica, on a timer). */
  async refresh(): Promise<void> {
    const secret = await readSecret(this.client, this.namespace);
    if (!secret) throw new Error(`secret ${this.namespace}/${CA_SECRET} is gone`);
    this.ours = caSecretIsOurs(secret);
    this.set(decodeCaSecret(secret), secret.metadata?.resourceVersion);
  }

  /**
   * The leader's step: decide, write. `bundlesTrustPending` reports whether the bundles kept
   * outside the Secret (the APIService caBundle) already hold the pending CA.
   */
  async rotate(now: number, bundlesTrustPending = true): Promise<CaStep> {
    if (!this.ours) return { type: "wait", until: now + 3600_000 };
    const step = decideCa(this.state, now, this.policy, bundlesTrustPending);
    if (step.type === "wait") return step;
    const fresh =
      step.type === "addPending"
        ? await createCA(CA_COMMON_NAME, 0, this.policy.caLifetimeMs)
        : undefined;
    const next = applyCaStep(
      this.state,
      step,
      now,
      this.policy,
      fresh && { ...fresh, ...validityOf(fresh.certPem) },
    );
    try {
      const written = await this.client.request<V1Secret>(
        "PUT",
        paths.secret(this.namespace, CA_SECRET),
        { body: encodeCaSecret(next, this.namespace, this.resourceVersion) },
      );
      this.set(next, written.metadata?.resourceVersion);
      this.log.info({ namespace: this.namespace, step: step.type }, "CA rotation step");
    } catch (err) {
      // Someone wrote meanwhile (a leader before us): judge what is there next time.
      if (!isConflict(err)) throw err;
      await this.refresh();
    }
    return step;
  }

  private set(state: CaState, resourceVersion: string | undefined) {
    this.state = state;
    this.resourceVersion = resourceVersion;
    const next = toTrust(state);
    const changed =
      next.bundlePem !== this.current.bundlePem ||
      next.signing.certPem !== this.current.signing.certPem;
    this.current = next;
    if (changed) for (const fn of this.listeners) fn(next);
  }

  /**
   * Every replica re-reads the Secret every `intervalMs`; the one that `leads()` also takes
   * the rotation's next step, after `publish` (its hook for bundles outside the Secret; it
   * answers whether they hold the pending CA).
   */
  start(
    intervalMs: number,
    leads: () => boolean,
    publish: (t: Trust) => Promise<boolean> = async () => true,
  ): () => void {
    let busy = false;
    const tick = async () => {
      await this.refresh();
      if (!leads()) return;
      const trusted = await publish(this.current);
      const step = await this.rotate(Date.now(), trusted);
      if (step.type !== "wait") await publish(this.current);
    };
    const timer = setInterval(() => {
      if (busy) return;
      busy = true;
      tick()
        .catch((err: unknown) => this.log.warn({ err }, "CA refresh or rotation failed"))
        .finally(() => {
          busy = false;
        });
    }, intervalMs);
    timer.unref();
    return () => clearInterval(timer);
  }
}

async function readSecret(client: KubeClient, namespace: string): Promise<V1Secret | undefined> {
  try {
    return await client.get<V1Secret>(paths.secret(namespace, CA_SECRET));
  } catch (err) {
    if (isNotFound(err)) return undefined;
    throw err;
  }
}
