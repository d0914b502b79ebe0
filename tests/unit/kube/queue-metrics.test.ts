import { Registry } from "prom-client";
import { describe, expect, it } from "vitest";
import { WorkQueue } from "../../../src/kube/queue.js";
import { unfinishedWork, WorkqueueMetrics } from "../../../src/kube/queue-metrics.js";

/** Histogram values carry the series name (…_sum, …_bucket) beside the labels. */
const metricName = (v: object) => (v as { metricName?: string }).metricName;

function setup() {
  const registry = new Registry();
  const metrics = new WorkqueueMetrics(registry);
  let now = 1_000_000;
  let queue: WorkQueue | undefined;
  const reporter = metrics.forQueue("vm", {
    processingSeconds: () => queue?.processingSeconds() ?? [],
  });
  queue = new WorkQueue({ metrics: reporter, now: () => now });
  const value = async (name: string, labels: Record<string, string> = { name: "vm" }) => {
    const m = await registry.getSingleMetric(name)?.get();
    const want = JSON.stringify(labels);
    return m?.values.find(
      (v) => JSON.stringify(Object.fromEntries(Object.entries(v.labels))) === want,
    )?.value;
  };
  return {
    q: queue,
    registry,
    value,
    tick: (ms: number) => {
      now += ms;
    },
  };
}

describe("workqueue metrics (client-go's names, kubevisor_ prefix)", () => {
  it("exists at zero before anything happens, so rate() has a first sample", async () => {
    const { value } = setup();
    expect(await value("kubevisor_workqueue_adds_total")).toBe(0);
    expect(await value("kubevisor_workqueue_retries_total")).toBe(0);
    expect(await value("kubevisor_workqueue_depth")).toBe(0);
  });

  it("counts adds once per key while it is dirty, as client-go does, and tracks depth", async () => {
    const { q, value } = setup();
    q.add("a");
    q.add("a");
    q.add("b");
    expect(await value("kubevisor_workqueue_adds_total")).toBe(2);
    expect(await value("kubevisor_workqueue_depth")).toBe(2);
    await q.get();
    expect(await value("kubevisor_workqueue_depth")).toBe(1);
  });

  it("times the wait in the queue and the work, in seconds", async () => {
    const { q, value, tick, registry } = setup();
    q.add("a");
    tick(250);
    const key = await q.get();
    tick(2_000);
    q.done(key ?? "");
    const queued = await registry
      .getSingleMetric("kubevisor_workqueue_queue_duration_seconds")
      ?.get();
    const worked = await registry
      .getSingleMetric("kubevisor_workqueue_work_duration_seconds")
      ?.get();
    const sum = (m: typeof queued) => m?.values.find((v) => metricName(v)?.endsWith("_sum"))?.value;
    expect(sum(queued)).toBeCloseTo(0.25);
    expect(sum(worked)).toBeCloseTo(2);
    expect(await value("kubevisor_workqueue_depth")).toBe(0);
  });

  it("a key re-added while in progress is counted once and timed from its re-add", async () => {
    const { q, value, tick, registry } = setup();
    q.add("a");
    const key = (await q.get()) ?? "";
    tick(100);
    q.add("a");
    expect(await value("kubevisor_workqueue_depth")).toBe(1);
    tick(400);
    q.done(key);
    expect(await q.get()).toBe("a");
    expect(await value("kubevisor_workqueue_adds_total")).toBe(2);
    const queued = await registry
      .getSingleMetric("kubevisor_workqueue_queue_duration_seconds")
      ?.get();
    expect(queued?.values.find((v) => metricName(v)?.endsWith("_sum"))?.value).toBeCloseTo(0.4);
  });

  it("reports unfinished work and the longest running key at scrape time", async () => {
    const { q, value, tick } = setup();
    q.add("a");
    q.add("b");
    await q.get();
    tick(1_000);
    await q.get();
    tick(3_000);
    expect(await value("kubevisor_workqueue_unfinished_work_seconds")).toBeCloseTo(7);
    expect(await value("kubevisor_workqueue_longest_running_processor_seconds")).toBeCloseTo(4);
  });

  it("counts rate-limited retries", async () => {
    const { q, value } = setup();
    q.addRateLimited("a");
    q.addRateLimited("a");
    expect(await value("kubevisor_workqueue_retries_total")).toBe(2);
    q.shutDown();
  });

  it("renders with the name label in the text format", async () => {
    const { q, registry } = setup();
    q.add("a");
    const text = await registry.metrics();
    expect(text).toContain('kubevisor_workqueue_adds_total{name="vm"} 1');
    const key = (await q.get()) ?? "";
    q.done(key);
    expect(await registry.metrics()).toMatch(
      /kubevisor_workqueue_work_duration_seconds_bucket\{le="1",name="vm"\} 1/,
    );
  });

  it("sums and maxes in-progress times", () => {
    expect(unfinishedWork([])).toEqual({ total: 0, longest: 0 });
    expect(unfinishedWork([1, 4, 2])).toEqual({ total: 7, longest: 4 });
  });
});
