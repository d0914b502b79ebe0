import { describe, expect, it } from "vitest";
import {
  LauncherMetrics,
  launcherSamples,
  type ScrapeInput,
} from "../../../src/launcher/metrics.js";
import { LAUNCHER_METRICS } from "../../../src/launcher/metrics-defs.js";
import type { QemuStats } from "../../../src/vmm/index.js";

const input: Omit<ScrapeInput, "stats"> = {
  vm: { namespace: "ns", name: "vm1" },
  accel: { accelerator: "tcg", requested: "Auto" },
  network: [],
  drives: new Map([["disk0", "root"]]),
};

const stats: QemuStats = {
  errors: [],
  cpu: { userSeconds: 3, systemSeconds: 1 },
  rssBytes: 100,
  guestMemoryBytes: 200,
  vcpus: [
    { index: 0, seconds: 1 },
    { index: 1, seconds: 2 },
  ],
  blocks: [
    {
      node: "disk0",
      stats: {
        rd_bytes: 4096,
        wr_bytes: 0,
        rd_operations: 1,
        wr_operations: 0,
        flush_operations: 0,
        rd_total_time_ns: 5e8,
        wr_total_time_ns: 0,
        flush_total_time_ns: 0,
      },
    },
    // Not one of the VM's disks (e.g. a migration's NBD target): no series.
    { node: "mirror-target", stats: {} as never },
  ],
  migration: { status: "active", transferRate: 1000, dirtyRate: 10 },
};

describe("launcher samples", () => {
  it("labels every series with the VM's namespace and name", () => {
    const samples = launcherSamples({ ...input, stats });
    expect(samples.length).toBeGreaterThan(10);
    for (const s of samples) expect(s.labels).toMatchObject({ namespace: "ns", name: "vm1" });
  });

  it("maps QEMU's figures to KubeVirt's names and units", () => {
    const value = (metric: string, labels: Record<string, string> = {}) =>
      launcherSamples({ ...input, stats }).find(
        (s) => s.metric === metric && Object.entries(labels).every(([k, v]) => s.labels[k] === v),
      )?.value;
    expect(value("kubevisor_vmi_cpu_usage_seconds_total")).toBe(4);
    expect(value("kubevisor_vmi_memory_resident_bytes")).toBe(100);
    expect(value("kubevisor_vmi_memory_domain_bytes")).toBe(200);
    expect(value("kubevisor_vmi_vcpu_seconds_total", { id: "1" })).toBe(2);
    expect(value("kubevisor_vmi_storage_read_traffic_bytes_total", { drive: "root" })).toBe(4096);
    expect(value("kubevisor_vmi_storage_read_times_seconds_total", { drive: "root" })).toBe(0.5);
    expect(value("kubevisor_vmi_accelerator_info", { accelerator: "tcg", requested: "Auto" })).toBe(
      1,
    );
    expect(value("kubevisor_vmi_migration_memory_transfer_rate_bytes")).toBe(1000);
    expect(value("kubevisor_vmi_migration_dirty_memory_rate_bytes")).toBe(10);
    expect(
      value("kubevisor_vmi_storage_read_traffic_bytes_total", { drive: "mirror-target" }),
    ).toBeUndefined();
  });

  it("names the parts QEMU did not answer", () => {
    const samples = launcherSamples({
      ...input,
      stats: { errors: ["blockstats: QMP query-blockstats: no reply within 1000 ms"] },
    });
    expect(samples).toContainEqual({
      metric: "kubevisor_vmi_launcher_stats_failed",
      labels: { namespace: "ns", name: "vm1", part: "blockstats" },
      value: 1,
    });
  });

  it("every metric name follows Prometheus conventions: counters end in _total", () => {
    for (const [name, def] of Object.entries(LAUNCHER_METRICS)) {
      expect(name).toMatch(/^kubevisor_vmi_[a-z_]+$/);
      if (def.type === "counter") expect(name).toMatch(/_total$/);
      else expect(name).not.toMatch(/_total$/);
    }
  });
});

describe("LauncherMetrics", () => {
  it("concurrent scrapes share one snapshot: a flood costs QEMU one round of QMP", async () => {
    let calls = 0;
    let release: () => void = () => {};
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const m = new LauncherMetrics({
      input: () => input,
      stats: async () => {
        calls++;
        await gate;
        return stats;
      },
    });
    const scrapes = Array.from({ length: 50 }, () => m.scrape());
    release();
    const texts = await Promise.all(scrapes);
    expect(calls).toBe(1);
    expect(texts[0]).toContain(
      'kubevisor_vmi_cpu_usage_seconds_total{namespace="ns",name="vm1"} 4',
    );
    // The next scrape takes a fresh snapshot.
    await m.scrape();
    expect(calls).toBe(2);
  });

  it("passes its QMP deadline down and serves nothing but the VM before QEMU runs", async () => {
    let asked: number | undefined;
    const m = new LauncherMetrics(
      {
        input: () => ({ ...input, accel: undefined }) as never,
        stats: async (t) => {
          asked = t;
          return undefined;
        },
      },
      250,
    );
    const text = await m.scrape();
    expect(asked).toBe(250);
    expect(text).not.toMatch(/^kubevisor_vmi_cpu_usage_seconds_total\{/m);
  });

  it("a series gone from QEMU's answer (a disk, a migration) leaves the next scrape", async () => {
    let current: QemuStats = stats;
    const m = new LauncherMetrics({ input: () => input, stats: async () => current });
    expect(await m.scrape()).toMatch(/^kubevisor_vmi_migration_memory_transfer_rate_bytes\{/m);
    current = { ...stats, migration: undefined } as QemuStats;
    expect(await m.scrape()).not.toMatch(/^kubevisor_vmi_migration_memory_transfer_rate_bytes\{/m);
  });
});
