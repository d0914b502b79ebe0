import { describe, expect, it, vi } from "vitest";
import { WorkQueue } from "../../../src/kube/queue.js";

describe("work queue", () => {
  it("queues a key once however often it is added", async () => {
    const q = new WorkQueue();
    q.add("a");
    q.add("b");
    q.add("a");
    expect(q.length).toBe(2);
    expect(await q.get()).toBe("a");
    expect(await q.get()).toBe("b");
  });

  it("never hands a key to two workers; a re-add during processing comes back after done", async () => {
    const q = new WorkQueue();
    q.add("a");
    const key = await q.get();
    q.add("a");
    expect(q.length).toBe(0);
    let second: string | undefined;
    void q.get().then((k) => {
      second = k;
    });
    await Promise.resolve();
    expect(second).toBeUndefined();
    q.done(key ?? "");
    await Promise.resolve();
    expect(second).toBe("a");
  });

  it("backs off per key exponentially from 5 ms to 1000 s, and forget resets it", () => {
    const q = new WorkQueue();
    expect([0, 1, 2, 10].map((n) => q.backoff(n))).toEqual([5, 10, 20, 5120]);
    expect(q.backoff(40)).toBe(1_000_000);
    q.addRateLimited("a");
    q.addRateLimited("a");
    expect(q.retries("a")).toBe(2);
    q.forget("a");
    expect(q.retries("a")).toBe(0);
    q.shutDown();
  });

  it("adds after a delay, the earliest pending delay winning", async () => {
    vi.useFakeTimers();
    try {
      const q = new WorkQueue();
      q.addAfter("a", 1000);
      q.addAfter("a", 100);
      q.addAfter("a", 5000);
      vi.advanceTimersByTime(99);
      expect(q.length).toBe(0);
      vi.advanceTimersByTime(1);
      expect(q.length).toBe(1);
      await q.get();
      vi.advanceTimersByTime(10_000);
      expect(q.length).toBe(0);
    } finally {
      vi.useRealTimers();
    }
  });

  it("releases waiting workers on shutdown", async () => {
    const q = new WorkQueue();
    const waiting = q.get();
    q.shutDown();
    expect(await waiting).toBeUndefined();
    q.add("a");
    expect(await q.get()).toBeUndefined();
  });
});
