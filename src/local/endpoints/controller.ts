import {
  CoreV1Api,
  DiscoveryV1Api,
  type KubeConfig,
  type KubernetesObject,
  ListWatch,
  type V1EndpointSlice,
  type V1Pod,
  type V1Service,
  Watch,
} from "@kubernetes/client-node";
import { type Logger, logger } from "../../util/log.js";
import {
  desiredSlice,
  MANAGED_BY,
  MANAGED_BY_LABEL,
  SERVICE_NAME_LABEL,
  sliceFingerprint,
  sliceName,
} from "./slice.js";

/**
 * The local endpoints controller: level-triggered, it keeps one FQDN EndpointSlice
 * `<svc>-local` per Service with a selector, holding the selected pods that have loopback
 * IPs (see slice.ts for why). Three list+watch caches (Services, Pods, its own slices) feed
 * a queue of Service keys; every key is reconciled from the caches alone, so a missed event
 * is repaired by the next resync, which enqueues every Service and every slice.
 */

const RESYNC_MS = 30_000;
const WATCH_RESTART_MS = 2_000;
const MAX_BACKOFF_MS = 30_000;

const keyOf = (namespace: string, name: string) => `${namespace}/${name}`;

function errorCode(err: unknown): number | undefined {
  const code = (err as { code?: unknown }).code;
  return typeof code === "number" ? code : undefined;
}

export interface EndpointsControllerOptions {
  resyncMs?: number;
  log?: Logger;
}

export class LocalEndpointsController {
  private readonly core: CoreV1Api;
  private readonly discovery: DiscoveryV1Api;
  private readonly log: Logger;
  private readonly services: ListWatch<V1Service>;
  private readonly pods: ListWatch<V1Pod>;
  private readonly slices: ListWatch<V1EndpointSlice>;
  private readonly synced = new Set<string>();
  private readonly queue = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private draining = false;
  private stopped = false;

  constructor(
    kc: KubeConfig,
    private readonly opts: EndpointsControllerOptions = {},
  ) {
    this.log = opts.log ?? logger("local-endpoints");
    this.core = kc.makeApiClient(CoreV1Api);
    this.discovery = kc.makeApiClient(DiscoveryV1Api);
    const selector = `${MANAGED_BY_LABEL}=${MANAGED_BY}`;
    this.services = this.informer(kc, "services", "/api/v1/services", () =>
      this.core.listServiceForAllNamespaces(),
    );
    this.pods = this.informer(kc, "pods", "/api/v1/pods", () =>
      this.core.listPodForAllNamespaces(),
    );
    this.slices = this.informer(
      kc,
      "endpointslices",
      "/apis/discovery.k8s.io/v1/endpointslices",
      () => this.discovery.listEndpointSliceForAllNamespaces({ labelSelector: selector }),
      selector,
    );

    const enqueueService = (s: V1Service) =>
      this.enqueue(keyOf(s.metadata?.namespace ?? "", s.metadata?.name ?? ""));
    // A pod's labels may have changed (the update gives only the new ones): every Service of
    // its namespace is looked at again; reconciling one that is already right writes nothing.
    const enqueueNamespace = (p: V1Pod) => {
      for (const s of this.services.list(p.metadata?.namespace)) enqueueService(s);
    };
    const enqueueSlice = (s: V1EndpointSlice) => {
      const service = s.metadata?.labels?.[SERVICE_NAME_LABEL];
      if (service) this.enqueue(keyOf(s.metadata?.namespace ?? "", service));
    };
    for (const ev of ["add", "update", "delete"] as const) {
      this.services.on(ev, enqueueService);
      this.pods.on(ev, enqueueNamespace);
      this.slices.on(ev, enqueueSlice);
    }
  }

  private informer<T extends KubernetesObject>(
    kc: KubeConfig,
    what: string,
    path: string,
    list: () => Promise<{ items: T[]; metadata?: { resourceVersion?: string } }>,
    labelSelector?: string,
  ): ListWatch<T> {
    const lw: ListWatch<T> = new ListWatch<T>(
      path,
      new Watch(kc),
      async () => {
        const result = await list();
        this.synced.add(what);
        // biome-ignore lint/suspicious/noExplicitAny: ListWatch wants its own list type
        return result as any;
      },
      false,
      labelSelector,
    );
    lw.on("error", (err) => {
      if (this.stopped) return;
      this.log.warn({ err, what }, "watch failed; restarting it");
      this.later(WATCH_RESTART_MS, () =>
        lw.start().catch((e) => this.log.warn({ err: e, what }, "watch restart failed")),
      );
    });
    return lw;
  }

  /** Starts the caches; resolves once all three have listed and the first pass is queued. */
  async start(signal?: AbortSignal): Promise<void> {
    await Promise.all([this.services.start(), this.pods.start(), this.slices.start()]);
    while (this.synced.size < 3) {
      if (this.stopped || signal?.aborted) throw new Error("stopped before the caches synced");
      await new Promise((r) => setTimeout(r, 100));
    }
    this.resync();
    this.log.info("local endpoints controller running");
  }

  async stop(): Promise<void> {
    this.stopped = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    await Promise.all([this.services.stop(), this.pods.stop(), this.slices.stop()]);
  }

  private later(ms: number, fn: () => unknown): void {
    if (this.stopped) return;
    const t = setTimeout(() => {
      this.timers.delete(t);
      void fn();
    }, ms);
    this.timers.add(t);
  }

  private resync(): void {
    for (const s of this.services.list()) {
      this.enqueue(keyOf(s.metadata?.namespace ?? "", s.metadata?.name ?? ""));
    }
    for (const s of this.slices.list()) {
      const service = s.metadata?.labels?.[SERVICE_NAME_LABEL];
      if (service) this.enqueue(keyOf(s.metadata?.namespace ?? "", service));
    }
    this.later(this.opts.resyncMs ?? RESYNC_MS, () => this.resync());
  }

  private enqueue(key: string): void {
    if (this.stopped) return;
    this.queue.add(key);
    if (!this.draining) void this.drain();
  }

  /** One key at a time: the caches are shared and the writes few. */
  private async drain(): Promise<void> {
    this.draining = true;
    try {
      for (const key of this.queue) {
        this.queue.delete(key);
        if (this.stopped) return;
        try {
          await this.reconcile(key);
          this.failures.delete(key);
        } catch (err) {
          const n = (this.failures.get(key) ?? 0) + 1;
          this.failures.set(key, n);
          const delay = Math.min(MAX_BACKOFF_MS, 500 * 2 ** (n - 1));
          // 409: the caches lag behind a write of ours; the retry sees it.
          const level = errorCode(err) === 409 ? "debug" : "warn";
          this.log[level]({ key, err, retryMs: delay }, "reconcile failed");
          this.later(delay, () => this.enqueue(key));
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private async reconcile(key: string): Promise<void> {
    const [namespace = "", service = ""] = key.split("/");
    const name = sliceName(service);
    const svc = this.services.get(service, namespace);
    const existing = this.slices.get(name, namespace);
    const desired = svc ? desiredSlice(svc, this.pods.list(namespace)) : undefined;
    if (!desired) {
      if (!existing) return;
      try {
        await this.discovery.deleteNamespacedEndpointSlice({
          name,
          namespace,
          body: { preconditions: { uid: existing.metadata?.uid } },
        });
      } catch (err) {
        if (errorCode(err) !== 404) throw err;
      }
      this.log.info({ namespace, service }, "endpoint slice deleted");
      return;
    }
    const count = desired.endpoints.length;
    if (!existing) {
      await this.discovery.createNamespacedEndpointSlice({ namespace, body: desired });
      this.log.info({ namespace, service, endpoints: count }, "endpoint slice created");
    } else if (sliceFingerprint(existing) !== sliceFingerprint(desired)) {
      const body = {
        ...desired,
        metadata: { ...desired.metadata, resourceVersion: existing.metadata?.resourceVersion },
      };
      await this.discovery.replaceNamespacedEndpointSlice({ name, namespace, body });
      this.log.info({ namespace, service, endpoints: count }, "endpoint slice updated");
    }
  }
}
