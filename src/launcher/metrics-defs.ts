/**
 * The launcher's metrics as one closed map: name → type, help and the labels beyond the
 * `namespace` and `name` of the VM that every series carries. Names are KubeVirt's
 * (`kubevirt_vmi_*` → `kubevisor_vmi_*`) wherever the meaning is the same.
 */
export const LAUNCHER_METRICS = {
  kubevisor_vmi_cpu_usage_seconds_total: {
    type: "counter",
    help: "Total CPU time of the VM's QEMU process (vCPUs and emulation), user and system",
    labels: [],
  },
  kubevisor_vmi_cpu_user_usage_seconds_total: {
    type: "counter",
    help: "Total CPU time of the VM's QEMU process spent in user mode",
    labels: [],
  },
  kubevisor_vmi_cpu_system_usage_seconds_total: {
    type: "counter",
    help: "Total CPU time of the VM's QEMU process spent in system mode",
    labels: [],
  },
  kubevisor_vmi_vcpu_seconds_total: {
    type: "counter",
    help: "CPU time of each vCPU's host thread; `id` is the vCPU index (one series per vCPU)",
    labels: ["id", "state"],
  },
  kubevisor_vmi_memory_domain_bytes: {
    type: "gauge",
    help: "The amount of memory in bytes given to the guest",
    labels: [],
  },
  kubevisor_vmi_memory_resident_bytes: {
    type: "gauge",
    help: "Resident set size of the QEMU process running the VM",
    labels: [],
  },
  kubevisor_vmi_storage_read_traffic_bytes_total: {
    type: "counter",
    help: "Total number of bytes read from storage, by disk",
    labels: ["drive"],
  },
  kubevisor_vmi_storage_write_traffic_bytes_total: {
    type: "counter",
    help: "Total number of written bytes, by disk",
    labels: ["drive"],
  },
  kubevisor_vmi_storage_iops_read_total: {
    type: "counter",
    help: "Total number of I/O read operations, by disk",
    labels: ["drive"],
  },
  kubevisor_vmi_storage_iops_write_total: {
    type: "counter",
    help: "Total number of I/O write operations, by disk",
    labels: ["drive"],
  },
  kubevisor_vmi_storage_read_times_seconds_total: {
    type: "counter",
    help: "Total time spent on read operations, by disk",
    labels: ["drive"],
  },
  kubevisor_vmi_storage_write_times_seconds_total: {
    type: "counter",
    help: "Total time spent on write operations, by disk",
    labels: ["drive"],
  },
  kubevisor_vmi_storage_flush_requests_total: {
    type: "counter",
    help: "Total storage flush requests, by disk",
    labels: ["drive"],
  },
  kubevisor_vmi_storage_flush_times_seconds_total: {
    type: "counter",
    help: "Total time spent on cache flushing, by disk",
    labels: ["drive"],
  },
  kubevisor_vmi_network_receive_bytes_total: {
    type: "counter",
    help: "Total network traffic received in bytes, as the guest agent reports it",
    labels: ["interface"],
  },
  kubevisor_vmi_network_transmit_bytes_total: {
    type: "counter",
    help: "Total network traffic transmitted in bytes, as the guest agent reports it",
    labels: ["interface"],
  },
  kubevisor_vmi_network_receive_packets_total: {
    type: "counter",
    help: "Total network traffic received packets, as the guest agent reports it",
    labels: ["interface"],
  },
  kubevisor_vmi_network_transmit_packets_total: {
    type: "counter",
    help: "Total network traffic transmitted packets, as the guest agent reports it",
    labels: ["interface"],
  },
  kubevisor_vmi_network_receive_errors_total: {
    type: "counter",
    help: "Total network received error packets, as the guest agent reports it",
    labels: ["interface"],
  },
  kubevisor_vmi_network_transmit_errors_total: {
    type: "counter",
    help: "Total network transmitted error packets, as the guest agent reports it",
    labels: ["interface"],
  },
  kubevisor_vmi_network_receive_packets_dropped_total: {
    type: "counter",
    help: "The total number of rx packets dropped, as the guest agent reports it",
    labels: ["interface"],
  },
  kubevisor_vmi_network_transmit_packets_dropped_total: {
    type: "counter",
    help: "The total number of tx packets dropped, as the guest agent reports it",
    labels: ["interface"],
  },
  kubevisor_vmi_accelerator_info: {
    type: "gauge",
    help: "1 for the accelerator the VM runs on (kvm, tcg) and what its spec asked for (Auto, KVM, Emulation)",
    labels: ["accelerator", "requested"],
  },
  kubevisor_vmi_migration_memory_transfer_rate_bytes: {
    type: "gauge",
    help: "The rate at which the memory is being transferred, in bytes per second, while a migration is under way",
    labels: [],
  },
  kubevisor_vmi_migration_dirty_memory_rate_bytes: {
    type: "gauge",
    help: "The rate of memory being dirtied in the guest, in bytes per second, while a migration is under way",
    labels: [],
  },
  kubevisor_vmi_launcher_stats_failed: {
    type: "gauge",
    help: "1 for each part of the last scrape that QEMU did not answer in time or that could not be read (cpu, rss, memory, blockstats, vcpus, migration)",
    labels: ["part"],
  },
} as const satisfies Record<string, MetricDef>;

export interface MetricDef {
  type: "counter" | "gauge";
  help: string;
  labels: readonly string[];
}

export type LauncherMetricName = keyof typeof LAUNCHER_METRICS;

/** Every series carries these. */
export const VM_LABELS = ["namespace", "name"] as const;
