import type { Counter } from "prom-client";
import type { Logger } from "../util/log.js";
import { isConflict } from "./client.js";
import { WorkQueue } from "./queue.js";
import type { WorkqueueMetrics } from "./queue-metrics.js";

/** Where a controller reports: its queue's workqueue metrics, and errors by controller. */
export interface ControllerMetrics {
  workqueue: WorkqueueMetrics;
  reconcileErrors: Counter<"controller">;
}

/** A reconcile refused to write because this replica may no longer act (lost the lease). */
export class FencedError extends Error {}

export interface ReconcileResult {
  /** Look again after this long even if nothing changes (polling, timeouts). */
  requeueAfterMs?: number;
}

export type ReconcileFn = (key: string) => Promise<ReconcileResult>;

/**
 * N workers draining one work queue into a reconcile function. Errors are retried with the
 * queue's per-key backoff; a write conflict (the cache was behind) is retried the same way
 * but is not an error worth counting.
 */
export class Controller {
  readonly queue: WorkQueue;
  private workers: Promise<void>[] = [];

  constructor(
    readonly name: string,
    private readonly reconcile: ReconcileFn,
    private readonly opts: { workers: number; metrics: ControllerMetrics; log: Logger },
  ) {
    let queue: WorkQueue | undefined;
    const metrics = opts.metrics.workqueue.forQueue(name, {
      processingSeconds: () => queue?.processingSeconds() ?? [],
    });
    queue = new WorkQueue({ metrics });
    this.queue = queue;
  }

  start() {
    for (let i = 0; i < this.opts.workers; i++) this.workers.push(this.work());
  }

  /** Stops taking keys and waits for the passes in flight to finish. */
  async stop() {
    this.queue.shutDown();
    await Promise.all(this.workers);
    this.workers = [];
  }

  private async work() {
    const { metrics, log } = this.opts;
    const labels = { controller: this.name };
    for (;;) {
      const key = await this.queue.get();
      if (key === undefined) return;
      try {
        const result = await this.reconcile(key);
        this.queue.forget(key);
        if (result.requeueAfterMs !== undefined) this.queue.addAfter(key, result.requeueAfterMs);
      } catch (err) {
        if (err instanceof FencedError) {
          log.info({ key }, "not acting: no longer the leader");
          continue;
        }
        if (isConflict(err)) {
          log.debug({ key, err }, "conflict; retrying with fresh data");
        } else {
          metrics.reconcileErrors.inc(labels);
          log.error(
            {
              key,
              err,
              retries: this.queue.retries(key),
            },
            "reconcile failed",
          );
        }
        this.queue.addRateLimited(key);
      } finally {
        this.queue.done(key);
      }
    }
  }
}
