import { afterEach, describe, expect, it } from "vitest";
import { type KubeClient, KubeError } from "../../../src/kube/client.js";
import { LeaderElector } from "../../../src/kube/leader.js";
import { logger } from "../../../src/util/log.js";

/**
 * An apiserver holding one Lease, with resourceVersion conflicts; `down` fails every call,
 * `cut` those of the named clients (a replica cut off from the apiserver).
 */
class LeaseStore {
  lease:
    | {
        metadata: { resourceVersion: string; name: string; namespace: string };
        spec: Record<string, unknown>;
      }
    | undefined;
  private rv = 0;
  down = false;
  readonly cut = new Set<string>();

  client(identity: string): KubeClient {
    const fail = () => {
      if (this.down || this.cut.has(identity)) throw new Error("connection refused");
    };
    return {
      get: async () => {
        fail();
        if (!this.lease) throw new KubeError(404, "NotFound", "no lease");
        return structuredClone(this.lease);
      },
      create: async (
        _path: string,
        body: { metadata: { name: string; namespace: string }; spec: Record<string, unknown> },
      ) => {
        fail();
        if (this.lease) throw new KubeError(409, "AlreadyExists", "exists");
        this.lease = {
          metadata: { ...body.metadata, resourceVersion: String(++this.rv) },
          spec: body.spec,
        };
        return this.lease;
      },
      request: async (
        _method: string,
        _path: string,
        opts: { body: { metadata: { resourceVersion: string }; spec: Record<string, unknown> } },
      ) => {
        fail();
        if (
          !this.lease ||
          opts.body.metadata.resourceVersion !== this.lease.metadata.resourceVersion
        ) {
          throw new KubeError(409, "Conflict", "conflict");
        }
        this.lease = {
          metadata: { ...this.lease.metadata, resourceVersion: String(++this.rv) },
          spec: opts.body.spec,
        };
        return this.lease;
      },
    } as unknown as KubeClient;
  }
}

const timings = { leaseDurationMs: 1000, renewDeadlineMs: 600, retryPeriodMs: 100 };
const electors: LeaderElector[] = [];
afterEach(async () => {
  await Promise.all(electors.splice(0).map((e) => e.stop()));
});

function elector(store: LeaseStore, identity: string, log: string[]) {
  const e = new LeaderElector({
    client: store.client(identity),
    namespace: "kv",
    name: "kubevisor-operator",
    identity,
    ...timings,
    onStartedLeading: () => log.push(`${identity} leads`),
    onStoppedLeading: () => log.push(`${identity} stops`),
    log: logger("test"),
  });
  electors.push(e);
  return e;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("leader election", () => {
  it("lets one lead; the other takes over only after the lease expired unrenewed", async () => {
    const store = new LeaseStore();
    const log: string[] = [];
    const a = elector(store, "a", log);
    a.start();
    await sleep(150);
    const b = elector(store, "b", log);
    b.start();
    await sleep(500);
    expect(a.isLeader()).toBe(true);
    expect(b.isLeader()).toBe(false);
    expect(store.lease?.spec).toMatchObject({
      holderIdentity: "a",
      leaseDurationSeconds: 1,
      leaseTransitions: 0,
    });
    expect(String(store.lease?.spec.renewTime)).toMatch(/\.\d{6}Z$/);

    // a is cut off (cannot renew, cannot release): b waits a whole lease duration, then leads.
    store.cut.add("a");
    const frozenAt = Date.now();
    await sleep(300);
    expect(b.isLeader()).toBe(false);
    while (!b.isLeader()) await sleep(20);
    expect(Date.now() - frozenAt).toBeGreaterThanOrEqual(timings.leaseDurationMs - 200);
    expect(store.lease?.spec).toMatchObject({ holderIdentity: "b", leaseTransitions: 1 });
    // a stepped down on its own once its renew deadline passed, before b took over.
    expect(a.isLeader()).toBe(false);
    expect(log.indexOf("a stops")).toBeLessThan(log.indexOf("b leads"));
  });

  it("steps down when it cannot renew within the deadline, before anyone else may lead", async () => {
    const store = new LeaseStore();
    const log: string[] = [];
    const a = elector(store, "a", log);
    a.start();
    await sleep(200);
    expect(a.isLeader()).toBe(true);
    store.down = true;
    const downAt = Date.now();
    while (!log.includes("a stops")) await sleep(20);
    const after = Date.now() - downAt;
    expect(after).toBeGreaterThanOrEqual(timings.renewDeadlineMs - 150);
    expect(after).toBeLessThan(timings.leaseDurationMs);
    expect(a.isLeader()).toBe(false);
    store.down = false;
    while (!a.isLeader()) await sleep(20);
    expect(log).toEqual(["a leads", "a stops", "a leads"]);
  });

  it("releases the lease on stop so a standby takes over at once", async () => {
    const store = new LeaseStore();
    const log: string[] = [];
    const a = elector(store, "a", log);
    a.start();
    await sleep(150);
    const b = elector(store, "b", log);
    b.start();
    await sleep(150);
    await a.stop();
    const stoppedAt = Date.now();
    while (!b.isLeader()) await sleep(20);
    expect(Date.now() - stoppedAt).toBeLessThan(timings.leaseDurationMs / 2);
  });
});
