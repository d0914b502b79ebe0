import { Counter, Gauge, Registry } from "prom-client";
import type {
  AccelerationRequest,
  Accelerator,
  InterfaceCounters,
  QemuStats,
} from "../vmm/index.js";
import {
  LAUNCHER_METRICS,
  type LauncherMetricName,
  type MetricDef,
  VM_LABELS,
} from "./metrics-defs.js";

export interface Sample {
  metric: LauncherMetricName;
  labels: Record<string, string>;
  value: number;
}

/** What one scrape knows; every part but the VM's labels may be missing. */
export interface ScrapeInput {
  vm: { namespace: string; name: string };
  accel?: { accelerator: Accelerator; requested: AccelerationRequest };
  stats?: QemuStats;
  network: InterfaceCounters[];
  /** QEMU block node name → the VM's disk name (the `drive` label). */
  drives: ReadonlyMap<string, string>;
}

/** Pure: the samples of one scrape. */
export function launcherSamples(input: ScrapeInput): Sample[] {
  const out: Sample[] = [];
  const vm = input.vm;
  const add = (metric: LauncherMetricName, value: number, labels: Record<string, string> = {}) => {
    if (Number.isFinite(value) && value >= 0)
      out.push({ metric, labels: { ...vm, ...labels }, value });
  };
  if (input.accel) add("kubevisor_vmi_accelerator_info", 1, input.accel);
  const s = input.stats;
  if (s?.cpu) {
    add("kubevisor_vmi_cpu_usage_seconds_total", s.cpu.userSeconds + s.cpu.systemSeconds);
    add("kubevisor_vmi_cpu_user_usage_seconds_total", s.cpu.userSeconds);
    add("kubevisor_vmi_cpu_system_usage_seconds_total", s.cpu.systemSeconds);
  }
  if (s?.rssBytes !== undefined) add("kubevisor_vmi_memory_resident_bytes", s.rssBytes);
  if (s?.guestMemoryBytes !== undefined)
    add("kubevisor_vmi_memory_domain_bytes", s.guestMemoryBytes);
  for (const v of s?.vcpus ?? []) {
    add("kubevisor_vmi_vcpu_seconds_total", v.seconds, { id: String(v.index), state: "running" });
  }
  for (const b of s?.blocks ?? []) {
    const drive = input.drives.get(b.node);
    if (drive === undefined) continue; // a node that is not one of the VM's disks
    const l = { drive };
    add("kubevisor_vmi_storage_read_traffic_bytes_total", b.stats.rd_bytes, l);
    add("kubevisor_vmi_storage_write_traffic_bytes_total", b.stats.wr_bytes, l);
    add("kubevisor_vmi_storage_iops_read_total", b.stats.rd_operations, l);
    add("kubevisor_vmi_storage_iops_write_total", b.stats.wr_operations, l);
    add("kubevisor_vmi_storage_read_times_seconds_total", b.stats.rd_total_time_ns / 1e9, l);
    add("kubevisor_vmi_storage_write_times_seconds_total", b.stats.wr_total_time_ns / 1e9, l);
    add("kubevisor_vmi_storage_flush_requests_total", b.stats.flush_operations, l);
    add("kubevisor_vmi_storage_flush_times_seconds_total", b.stats.flush_total_time_ns / 1e9, l);
  }
  for (const n of input.network) {
    const l = { interface: n.name };
    add("kubevisor_vmi_network_receive_bytes_total", n.rxBytes, l);
    add("kubevisor_vmi_network_transmit_bytes_total", n.txBytes, l);
    add("kubevisor_vmi_network_receive_packets_total", n.rxPackets, l);
    add("kubevisor_vmi_network_transmit_packets_total", n.txPackets, l);
    add("kubevisor_vmi_network_receive_errors_total", n.rxErrors, l);
    add("kubevisor_vmi_network_transmit_errors_total", n.txErrors, l);
    add("kubevisor_vmi_network_receive_packets_dropped_total", n.rxDropped, l);
    add("kubevisor_vmi_network_transmit_packets_dropped_total", n.txDropped, l);
  }
  if (s?.migration?.transferRate !== undefined) {
    add("kubevisor_vmi_migration_memory_transfer_rate_bytes", s.migration.transferRate);
  }
  if (s?.migration?.dirtyRate !== undefined) {
    add("kubevisor_vmi_migration_dirty_memory_rate_bytes", s.migration.dirtyRate);
  }
  for (const e of s?.errors ?? []) {
    add("kubevisor_vmi_launcher_stats_failed", 1, { part: e.slice(0, e.indexOf(":")) || e });
  }
  return out;
}

/** Where a scrape reads from: the running launcher. */
export interface ScrapeSource {
  /** Undefined until the spec was read: nothing to label series with yet. */
  input(): Omit<ScrapeInput, "stats"> | undefined;
  /** QEMU's figures, bounded by `timeoutMs` per QMP call; undefined while no QEMU runs. */
  stats(timeoutMs: number): Promise<QemuStats | undefined>;
}

/** Each QMP call of a scrape waits at most this long (Prometheus' default timeout is 10 s). */
export const SCRAPE_QMP_TIMEOUT_MS = 1_000;

/**
 * The launcher's registry: metrics from the closed map, refilled from one snapshot per
 * scrape. Concurrent scrapes share the snapshot in flight, so a flood of requests costs
 * QEMU one round of QMP calls, and a stuck QEMU one timeout.
 */
export class LauncherMetrics {
  readonly registry = new Registry();
  private readonly metrics = new Map<LauncherMetricName, Counter | Gauge>();
  private inFlight: Promise<string> | undefined;

  constructor(
    private readonly source: ScrapeSource,
    private readonly timeoutMs = SCRAPE_QMP_TIMEOUT_MS,
  ) {
    for (const [name, def] of Object.entries(LAUNCHER_METRICS) as [
      LauncherMetricName,
      MetricDef,
    ][]) {
      const config = {
        name,
        help: def.help,
        labelNames: [...VM_LABELS, ...def.labels],
        registers: [this.registry],
      };
      this.metrics.set(name, def.type === "counter" ? new Counter(config) : new Gauge(config));
    }
  }

  /** The Prometheus text of a fresh snapshot. */
  scrape(): Promise<string> {
    this.inFlight ??= this.collect().finally(() => {
      this.inFlight = undefined;
    });
    return this.inFlight;
  }

  private async collect(): Promise<string> {
    const input = this.source.input();
    const stats = input ? await this.source.stats(this.timeoutMs) : undefined;
    for (const m of this.metrics.values()) m.reset();
    if (input) {
      for (const s of launcherSamples({ ...input, ...(stats ? { stats } : {}) })) {
        const m = this.metrics.get(s.metric);
        // Counters carry QEMU's cumulative totals: set by one inc from a reset.
        if (m instanceof Counter) m.inc(s.labels, s.value);
        else m?.set(s.labels, s.value);
      }
    }
    return this.registry.metrics();
  }
}
