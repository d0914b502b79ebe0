import { Counter, Gauge, Histogram, type Registry } from "prom-client";

/**
 * Migration metrics, named after KubeVirt's kubevirt_vmi_migration_* where the meaning is
 * the same, on the operator's registry.
 */
export class MigrationMetrics {
  readonly outcomes: Counter<"outcome" | "reason">;
  readonly dataProcessed: Gauge<"namespace" | "migration">;
  readonly dataRemaining: Gauge<"namespace" | "migration">;
  readonly dataTotal: Gauge<"namespace" | "migration">;
  readonly downtime: Histogram;
  readonly duration: Histogram;

  constructor(registry: Registry, phaseCounts: () => Map<string, number>) {
    const registers = [registry];
    this.outcomes = new Counter({
      name: "kubevisor_vmi_migrations_total",
      help: "Migrations ended, by outcome (succeeded, failed) and reason",
      labelNames: ["outcome", "reason"],
      registers,
    });
    const gauge = (name: string, help: string) =>
      new Gauge({ name, help, labelNames: ["namespace", "migration"], registers });
    this.dataProcessed = gauge(
      "kubevisor_vmi_migration_data_processed_bytes",
      "Guest memory sent so far by each running migration",
    );
    this.dataRemaining = gauge(
      "kubevisor_vmi_migration_data_remaining_bytes",
      "Guest memory still to send by each running migration",
    );
    this.dataTotal = gauge(
      "kubevisor_vmi_migration_data_total_bytes",
      "Guest memory to send in all, per running migration",
    );
    this.downtime = new Histogram({
      name: "kubevisor_vmi_migration_downtime_seconds",
      help: "Guest pause at the switch-over of each succeeded migration",
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.duration = new Histogram({
      name: "kubevisor_vmi_migration_duration_seconds",
      help: "Migration object created until it ended, succeeded or failed",
      buckets: [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800],
      registers,
    });
    new Gauge({
      name: "kubevisor_vmi_migrations_in_phase",
      help: "VirtualMachineMigrations by phase",
      labelNames: ["phase"],
      registers,
      collect() {
        this.reset();
        for (const [phase, count] of phaseCounts()) this.set({ phase }, count);
      },
    });
  }

  /** A migration ended: its per-migration gauges go. */
  forget(namespace: string, migration: string) {
    for (const g of [this.dataProcessed, this.dataRemaining, this.dataTotal]) {
      g.remove({ namespace, migration });
    }
  }
}
