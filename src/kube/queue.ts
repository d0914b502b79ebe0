import { NO_QUEUE_METRICS, type QueueMetrics } from "./queue-metrics.js";

/**
 * A work queue in the manner of client-go's: a key is queued at most once, handed to one
 * worker at a time (a key re-added while being processed is queued again when the worker
 * is done), can be added after a delay, and retried with per-key exponential backoff.
 * It reports client-go's workqueue metrics (queue-metrics.ts) at the same points.
 */
export interface QueueOptions {
  /** First retry delay after an error (client-go: 5 ms). */
  baseDelayMs?: number;
  /** Longest retry delay (client-go: 1000 s). */
  maxDelayMs?: number;
  metrics?: QueueMetrics;
  /** Milliseconds clock for the metrics' durations (tests pass their own). */
  now?: () => number;
}

export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly dirty = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly failures = new Map<string, number>();
  private readonly timers = new Map<string, { at: number; timer: NodeJS.Timeout }>();
  private readonly waiters: Array<(key: string | undefined) => void> = [];
  private shuttingDown = false;
  private readonly baseDelayMs: number;
  private readonly maxDelayMs: number;
  private readonly metrics: QueueMetrics;
  private readonly now: () => number;
  /** When each dirty key was added, and when each key in progress was handed out. */
  private readonly addedAt = new Map<string, number>();
  private readonly startedAt = new Map<string, number>();

  constructor(opts: QueueOptions = {}) {
    this.baseDelayMs = opts.baseDelayMs ?? 5;
    this.maxDelayMs = opts.maxDelayMs ?? 1_000_000;
    this.metrics = opts.metrics ?? NO_QUEUE_METRICS;
    this.now = opts.now ?? Date.now;
  }

  add(key: string) {
    if (this.shuttingDown || this.dirty.has(key)) return;
    this.dirty.add(key);
    this.addedAt.set(key, this.now());
    this.metrics.add();
    this.metrics.depth(this.dirty.size);
    if (this.processing.has(key)) return;
    const waiter = this.waiters.shift();
    if (waiter) waiter(this.handOut(key));
    else this.queue.push(key);
  }

  /** A dirty key goes to a worker. */
  private handOut(key: string): string {
    const now = this.now();
    this.dirty.delete(key);
    this.processing.add(key);
    this.metrics.depth(this.dirty.size);
    this.metrics.got((now - (this.addedAt.get(key) ?? now)) / 1000);
    this.addedAt.delete(key);
    this.startedAt.set(key, now);
    return key;
  }

  /** Seconds each key in progress has been held so far (for the unfinished-work gauges). */
  processingSeconds(): number[] {
    const now = this.now();
    return [...this.startedAt.values()].map((t) => (now - t) / 1000);
  }

  /** Adds the key after `ms`; of several pending delays for a key the earliest wins. */
  addAfter(key: string, ms: number) {
    if (this.shuttingDown) return;
    if (ms <= 0) return this.add(key);
    const at = Date.now() + ms;
    const pending = this.timers.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.timers.delete(key);
      this.add(key);
    }, ms);
    timer.unref();
    this.timers.set(key, { at, timer });
  }

  /** Retry after an error: 5 ms, 10 ms, 20 ms, … up to the maximum. */
  addRateLimited(key: string) {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    this.metrics.retry();
    this.addAfter(key, this.backoff(n));
  }

  backoff(failures: number): number {
    return Math.min(this.baseDelayMs * 2 ** failures, this.maxDelayMs);
  }

  /** The key succeeded: its next error starts the backoff afresh. */
  forget(key: string) {
    this.failures.delete(key);
  }

  retries(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** The next key to work on; undefined once the queue shuts down. */
  get(): Promise<string | undefined> {
    const key = this.queue.shift();
    if (key !== undefined) return Promise.resolve(this.handOut(key));
    if (this.shuttingDown) return Promise.resolve(undefined);
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  done(key: string) {
    const started = this.startedAt.get(key);
    if (started !== undefined) this.metrics.done((this.now() - started) / 1000);
    this.startedAt.delete(key);
    this.processing.delete(key);
    if (this.dirty.has(key) && !this.shuttingDown) {
      // Added while in progress: already counted and timed then; queue it now.
      const waiter = this.waiters.shift();
      if (waiter) waiter(this.handOut(key));
      else this.queue.push(key);
    }
  }

  get length(): number {
    return this.queue.length;
  }

  shutDown() {
    this.shuttingDown = true;
    for (const { timer } of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    for (const waiter of this.waiters.splice(0)) waiter(undefined);
  }
}
