import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";
import { EvictionStrategy, VirtualMachineStatus } from "../api/index.js";
import { WorkqueueMetrics } from "../kube/queue-metrics.js";
import { CONDITION_MIGRATABLE, findCondition } from "./vm/conditions.js";

/** What the VM-level gauges say about one VM, read from the cache at scrape time. */
export interface VmFacts {
  namespace: string;
  name: string;
  phase: string;
  /** "" while the VM runs nowhere. */
  node: string;
  /** evictionStrategy LiveMigrate, but Migratable is False: a drain would be blocked. */
  nonEvictable: boolean;
}

/** A VM as the cache holds it: spec and status not yet validated. */
export interface RawObject {
  metadata?: { namespace?: string; name?: string };
  spec?: unknown;
  status?: unknown;
}

/**
 * Pure: one VM object → its facts. A VM without (valid) status counts as Pending; without
 * an evictionStrategy it has the default, LiveMigrate.
 */
export function vmFacts(vm: RawObject): VmFacts {
  const status = VirtualMachineStatus.safeParse(vm.status ?? {}).data;
  const spec = (vm.spec ?? {}) as { evictionStrategy?: unknown };
  const strategy = EvictionStrategy.safeParse(spec.evictionStrategy ?? "LiveMigrate").data;
  const migratable = findCondition(status?.conditions, CONDITION_MIGRATABLE);
  return {
    namespace: vm.metadata?.namespace ?? "",
    name: vm.metadata?.name ?? "",
    phase: status?.phase ?? "Pending",
    node: status?.nodeName ?? "",
    nonEvictable: strategy === "LiveMigrate" && migratable?.status === "False",
  };
}

/**
 * The operator's Prometheus metrics, on a registry of its own so several operators can run
 * in one process (the tests do). Names mirror KubeVirt's current ones with `kubevisor_` for
 * `kubevirt_` wherever the meaning is the same (docs/metrics.md lists them all).
 */
export class OperatorMetrics {
  readonly registry = new Registry();
  readonly workqueue = new WorkqueueMetrics(this.registry);

  readonly reconcileErrors = new Counter({
    name: "kubevisor_operator_reconcile_errors_total",
    help: "Reconcile passes that ended in an error and were retried, by controller",
    labelNames: ["controller"],
    registers: [this.registry],
  });

  readonly phaseTransition = new Histogram({
    name: "kubevisor_vmi_phase_transition_time_from_creation_seconds",
    help: "Histogram of VM phase transitions duration from creation time in seconds",
    labelNames: ["phase"],
    buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600],
    registers: [this.registry],
  });

  /** kubevirt_virt_controller_leading_status. */
  readonly leading = new Gauge({
    name: "kubevisor_operator_leading_status",
    help: "Indication for an operator replica that holds the leader lease and acts (1) or stands by (0)",
    registers: [this.registry],
  });

  /** kubevirt_virt_controller_ready_status. */
  readonly ready = new Gauge({
    name: "kubevisor_operator_ready_status",
    help: "Indication for an operator replica whose caches are synced, ready to take the lead",
    registers: [this.registry],
  });

  constructor(vms: () => VmFacts[], version: string) {
    // process_resident_memory_bytes, nodejs_heap_size_used_bytes, event loop lag, …
    collectDefaultMetrics({ register: this.registry });
    const registers = [this.registry];
    new Gauge({
      name: "kubevisor_info",
      help: "Version information",
      labelNames: ["version"],
      registers,
    }).set({ version }, 1);
    new Gauge({
      name: "kubevisor_vmi_info",
      help:
        "Information about VirtualMachines: 1 per VM, with its phase and node " +
        "(node:kubevisor_vmi_phase:sum counts them by phase and node)",
      labelNames: ["namespace", "name", "phase", "node"],
      registers,
      collect() {
        this.reset();
        for (const f of vms()) {
          this.set({ namespace: f.namespace, name: f.name, phase: f.phase, node: f.node }, 1);
        }
      },
    });
    new Gauge({
      name: "kubevisor_vmi_non_evictable",
      help:
        "Indication for a VirtualMachine that its eviction strategy is set to Live Migration " +
        "but is not migratable",
      labelNames: ["namespace", "name", "node"],
      registers,
      collect() {
        this.reset();
        for (const f of vms()) {
          const labels = { namespace: f.namespace, name: f.name, node: f.node };
          this.set(labels, f.nonEvictable ? 1 : 0);
        }
      },
    });
  }
}
