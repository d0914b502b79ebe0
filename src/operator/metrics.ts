import { Counter, collectDefaultMetrics, Gauge, Histogram, Registry } from "prom-client";

/**
 * The operator's Prometheus metrics, on a registry of its own so several operators can run
 * in one process (the tests do). Names follow KubeVirt's where the meaning is the same:
 * kubevirt_vmi_phase_count → kubevisor_vmi_phase_count, and so on.
 */
export class OperatorMetrics {
  readonly registry = new Registry();

  readonly reconcileDuration = new Histogram({
    name: "kubevisor_operator_reconcile_duration_seconds",
    help: "Time of one reconcile pass, by controller",
    labelNames: ["controller"],
    buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });

  readonly reconcileErrors = new Counter({
    name: "kubevisor_operator_reconcile_errors_total",
    help: "Reconcile passes that ended in an error and were retried, by controller",
    labelNames: ["controller"],
    registers: [this.registry],
  });

  readonly queueDepth = new Gauge({
    name: "kubevisor_operator_workqueue_depth",
    help: "Keys waiting in the work queue, by controller",
    labelNames: ["controller"],
    registers: [this.registry],
  });

  readonly phaseTransition = new Histogram({
    name: "kubevisor_vmi_phase_transition_time_from_creation_seconds",
    help: "Time from a VM's creation to its reaching each phase",
    labelNames: ["phase"],
    buckets: [0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800, 3600],
    registers: [this.registry],
  });

  readonly leader = new Gauge({
    name: "kubevisor_operator_leader",
    help: "1 while this operator instance holds the leader lease",
    registers: [this.registry],
  });

  /** kubevisor_vmi_phase_count{phase}: counted from the VM cache when scraped. */
  constructor(phaseCounts: () => Map<string, number>) {
    // process_resident_memory_bytes, nodejs_heap_size_used_bytes, event loop lag, …
    collectDefaultMetrics({ register: this.registry });
    new Gauge({
      name: "kubevisor_vmi_phase_count",
      help: "VirtualMachines by phase",
      labelNames: ["phase"],
      registers: [this.registry],
      collect() {
        this.reset();
        for (const [phase, count] of phaseCounts()) this.set({ phase }, count);
      },
    });
  }
}
