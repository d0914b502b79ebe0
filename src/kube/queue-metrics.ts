import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/**
 * client-go's workqueue metrics (k8s.io/client-go/util/workqueue, `workqueue_*`), with the
 * same names, types, buckets and `name` label, prefixed `kubevisor_` so they cannot collide
 * with other exporters scraped into the same Prometheus (KubeVirt does the same:
 * `kubevirt_workqueue_*`).
 */
export const WORKQUEUE_PREFIX = "kubevisor_workqueue_";

/** What a queue reports; one per named queue. All times in seconds. */
export interface QueueMetrics {
  add(): void;
  /** A key left the queue for a worker after waiting `waitedSeconds`. */
  got(waitedSeconds: number): void;
  /** A worker finished a key it held for `workedSeconds`. */
  done(workedSeconds: number): void;
  retry(): void;
  depth(n: number): void;
}

/** Reports into nothing: a queue without metrics. */
export const NO_QUEUE_METRICS: QueueMetrics = {
  add() {},
  got() {},
  done() {},
  retry() {},
  depth() {},
};

/** client-go's buckets: 10 ns … 10 s, ×10 each. */
const BUCKETS = [1e-8, 1e-7, 1e-6, 1e-5, 1e-4, 1e-3, 1e-2, 1e-1, 1, 10];

/** What the queue can tell at scrape time about the keys being worked on now. */
export interface InFlight {
  /** Seconds each key in progress has been held so far. */
  processingSeconds(): number[];
}

/** The workqueue metric families on one registry; `forQueue` hands out per-queue reporters. */
export class WorkqueueMetrics {
  private readonly adds: Counter<"name">;
  private readonly depthGauge: Gauge<"name">;
  private readonly retries: Counter<"name">;
  private readonly queueDuration: Histogram<"name">;
  private readonly workDuration: Histogram<"name">;
  private readonly inFlight = new Map<string, InFlight>();

  constructor(registry: Registry) {
    const registers = [registry];
    const labelNames = ["name"] as const;
    const inFlight = this.inFlight;
    this.adds = new Counter({
      name: `${WORKQUEUE_PREFIX}adds_total`,
      help: "Total number of adds handled by workqueue",
      labelNames,
      registers,
    });
    this.depthGauge = new Gauge({
      name: `${WORKQUEUE_PREFIX}depth`,
      help: "Current depth of workqueue",
      labelNames,
      registers,
    });
    this.retries = new Counter({
      name: `${WORKQUEUE_PREFIX}retries_total`,
      help: "Total number of retries handled by workqueue",
      labelNames,
      registers,
    });
    this.queueDuration = new Histogram({
      name: `${WORKQUEUE_PREFIX}queue_duration_seconds`,
      help: "How long in seconds an item stays in workqueue before being requested",
      labelNames,
      buckets: BUCKETS,
      registers,
    });
    this.workDuration = new Histogram({
      name: `${WORKQUEUE_PREFIX}work_duration_seconds`,
      help: "How long in seconds processing an item from workqueue takes",
      labelNames,
      buckets: BUCKETS,
      registers,
    });
    new Gauge({
      name: `${WORKQUEUE_PREFIX}unfinished_work_seconds`,
      help:
        "How many seconds of work has been done that is in progress and hasn't been observed " +
        "by work_duration. Large values indicate stuck threads",
      labelNames,
      registers,
      collect() {
        for (const [name, q] of inFlight) {
          this.set({ name }, unfinishedWork(q.processingSeconds()).total);
        }
      },
    });
    new Gauge({
      name: `${WORKQUEUE_PREFIX}longest_running_processor_seconds`,
      help: "How many seconds has the longest running processor for workqueue been running",
      labelNames,
      registers,
      collect() {
        for (const [name, q] of inFlight) {
          this.set({ name }, unfinishedWork(q.processingSeconds()).longest);
        }
      },
    });
  }

  /** The reporter of the queue called `name`; `inFlight` is read at scrape time. */
  forQueue(name: string, inFlight: InFlight): QueueMetrics {
    const labels = { name };
    this.inFlight.set(name, inFlight);
    // Present from the start, as client-go's are: a rate() over them needs a first sample.
    this.adds.inc(labels, 0);
    this.retries.inc(labels, 0);
    this.depthGauge.set(labels, 0);
    return {
      add: () => this.adds.inc(labels),
      got: (s) => this.queueDuration.observe(labels, s),
      done: (s) => this.workDuration.observe(labels, s),
      retry: () => this.retries.inc(labels),
      depth: (n) => this.depthGauge.set(labels, n),
    };
  }
}

/** Sum and maximum of the in-progress times (client-go's two gauges). */
export function unfinishedWork(seconds: readonly number[]): { total: number; longest: number } {
  let total = 0;
  let longest = 0;
  for (const s of seconds) {
    total += s;
    longest = Math.max(longest, s);
  }
  return { total, longest };
}
