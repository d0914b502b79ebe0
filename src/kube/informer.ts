import { type KubernetesObject, ListWatch, Watch } from "@kubernetes/client-node";
import type { Logger } from "../util/log.js";
import { type KubeClient, KubeError } from "./client.js";

/**
 * A list-watch cache of one kind, restarted after errors (client-node's ListWatch stops on
 * the first one). Handlers receive every add, update and delete.
 */
export class Informer<T extends KubernetesObject> {
  private readonly lw: ListWatch<T>;
  private stopped = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private retryMs = RETRY_MIN_MS;

  constructor(
    client: KubeClient,
    readonly path: string,
    private readonly log: Logger,
    labelSelector?: string,
  ) {
    const query = labelSelector ? { labelSelector } : undefined;
    this.lw = new ListWatch<T>(
      path,
      new Watch(client.kubeConfig),
      () => client.list<T>(path, query) as never,
      false,
      labelSelector,
    );
    this.lw.on("error", (err) => this.retry(err));
    this.lw.on("connect", () => {
      this.retryMs = RETRY_MIN_MS;
    });
  }

  on(event: "add" | "update" | "delete" | "change", handler: (obj: T) => void) {
    this.lw.on(event, handler);
  }

  get(name: string, namespace?: string): T | undefined {
    return this.lw.get(name, namespace);
  }

  list(namespace?: string): readonly T[] {
    return this.lw.list(namespace);
  }

  /** True once the first list has filled the cache. */
  get synced(): boolean {
    return this.lw.latestResourceVersion() !== "";
  }

  /** Starts listing and watching; resolves once the cache holds the first full list. */
  async start(): Promise<void> {
    this.stopped = false;
    await this.lw.start();
    while (!this.synced && !this.stopped) await new Promise((r) => setTimeout(r, 50));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.retryTimer);
    await this.lw.stop();
  }

  private retry(err: unknown) {
    if (this.stopped) return;
    // 429 is the apiserver asking to come back later (e.g. a CRD's storage still starting).
    const level = err instanceof KubeError && err.status === 429 ? "info" : "warn";
    this.log[level]({ err, path: this.path, retryMs: this.retryMs }, "watch failed; retrying");
    clearTimeout(this.retryTimer);
    this.retryTimer = setTimeout(() => {
      if (!this.stopped) void this.lw.start();
    }, this.retryMs);
    this.retryMs = Math.min(this.retryMs * 2, RETRY_MAX_MS);
  }
}

const RETRY_MIN_MS = 200;
const RETRY_MAX_MS = 30_000;
