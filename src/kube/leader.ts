import type { Logger } from "../util/log.js";
import { isConflict, isNotFound, type KubeClient, paths } from "./client.js";

export interface LeaderElectionOptions {
  client: KubeClient;
  namespace: string;
  name: string;
  identity: string;
  /** client-go defaults: 15 s, 10 s, 2 s. */
  leaseDurationMs?: number;
  renewDeadlineMs?: number;
  retryPeriodMs?: number;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
  log: Logger;
}

interface Lease {
  metadata: { name: string; namespace: string; resourceVersion?: string };
  spec?: {
    holderIdentity?: string;
    leaseDurationSeconds?: number;
    acquireTime?: string;
    renewTime?: string;
    leaseTransitions?: number;
  };
}

/**
 * Leader election on a coordination.k8s.io Lease, with client-go's rules: a lease held by
 * someone else is taken over only after it went unchanged for a whole lease duration by
 * our own clock (so clock skew between replicas does not matter); the leader renews every
 * retry period and gives up — stops leading — when it could not renew for the renew
 * deadline, which is shorter than the lease duration, so it has stopped before anyone
 * else may start. After losing, it campaigns again.
 */
export class LeaderElector {
  private readonly leaseDurationMs: number;
  private readonly renewDeadlineMs: number;
  private readonly retryPeriodMs: number;
  private observed: { record: string; at: number } | undefined;
  private lastRenew = 0;
  private leading = false;
  private stopped = false;
  private loop: Promise<void> | undefined;
  private wake: (() => void) | undefined;

  constructor(private readonly o: LeaderElectionOptions) {
    this.leaseDurationMs = o.leaseDurationMs ?? 15_000;
    this.renewDeadlineMs = o.renewDeadlineMs ?? 10_000;
    this.retryPeriodMs = o.retryPeriodMs ?? 2_000;
  }

  /** Whether this instance may act as leader right now: it renewed within the deadline. */
  isLeader(): boolean {
    return this.leading && Date.now() - this.lastRenew < this.renewDeadlineMs;
  }

  start() {
    this.stopped = false;
    this.loop = this.run();
  }

  /** Stops campaigning; a leader releases the lease so a standby takes over at once. */
  async stop() {
    this.stopped = true;
    this.wake?.();
    await this.loop;
    if (this.leading) {
      this.setLeading(false);
      await this.release().catch((err) =>
        this.o.log.warn({ err }, "could not release the leader lease"),
      );
    }
  }

  private async run() {
    while (!this.stopped) {
      if (await this.tryAcquireOrRenew()) {
        if (!this.leading) this.setLeading(true);
      } else if (this.leading && Date.now() - this.lastRenew >= this.renewDeadlineMs) {
        this.o.log.warn(
          { lease: this.o.name },
          "could not renew the leader lease in time; stepping down",
        );
        this.setLeading(false);
      }
      await this.sleep(this.retryPeriodMs);
    }
  }

  private setLeading(leading: boolean) {
    this.leading = leading;
    this.o.log.info(
      { lease: this.o.name, identity: this.o.identity, leading },
      leading ? "became leader" : "stopped leading",
    );
    if (leading) this.o.onStartedLeading();
    else this.o.onStoppedLeading();
  }

  private async tryAcquireOrRenew(): Promise<boolean> {
    const { client, namespace, name, identity } = this.o;
    const now = new Date();
    try {
      let lease: Lease;
      try {
        lease = await client.get<Lease>(paths.lease(namespace, name));
      } catch (err) {
        if (!isNotFound(err)) throw err;
        await client.create(paths.leases(namespace), {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name, namespace },
          spec: this.spec(now, now, 0),
        });
        this.lastRenew = now.getTime();
        return true;
      }
      const spec = lease.spec ?? {};
      const record = JSON.stringify(spec);
      if (this.observed?.record !== record) this.observed = { record, at: now.getTime() };
      const holder = spec.holderIdentity ?? "";
      const heldByOther =
        holder !== "" &&
        holder !== identity &&
        now.getTime() < this.observed.at + (spec.leaseDurationSeconds ?? 0) * 1000;
      if (heldByOther) return false;
      const mine = holder === identity;
      const updated: Lease = {
        ...lease,
        spec: this.spec(
          mine && spec.acquireTime ? new Date(spec.acquireTime) : now,
          now,
          mine ? (spec.leaseTransitions ?? 0) : (spec.leaseTransitions ?? 0) + 1,
        ),
      };
      // PUT with the resourceVersion we read: of two contenders only one gets through.
      await client.request("PUT", paths.lease(namespace, name), { body: updated });
      this.lastRenew = now.getTime();
      return true;
    } catch (err) {
      if (!isConflict(err)) this.o.log.warn({ err }, "leader lease update failed");
      return false;
    }
  }

  private spec(acquired: Date, renewed: Date, transitions: number): Lease["spec"] {
    return {
      holderIdentity: this.o.identity,
      leaseDurationSeconds: Math.ceil(this.leaseDurationMs / 1000),
      acquireTime: microTime(acquired),
      renewTime: microTime(renewed),
      leaseTransitions: transitions,
    };
  }

  private async release() {
    const lease = await this.o.client.get<Lease>(paths.lease(this.o.namespace, this.o.name));
    if (lease.spec?.holderIdentity !== this.o.identity) return;
    const now = new Date();
    await this.o.client.request("PUT", paths.lease(this.o.namespace, this.o.name), {
      body: {
        ...lease,
        spec: {
          ...lease.spec,
          holderIdentity: "",
          leaseDurationSeconds: 1,
          renewTime: microTime(now),
        },
      },
    });
  }

  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(timer);
        resolve();
      };
    });
  }
}

/** metav1.MicroTime: RFC 3339 with exactly six fractional digits. */
export function microTime(date: Date): string {
  return date.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z");
}
