import { Counter, Gauge, Histogram, type Registry } from "prom-client";
import { MigrationPhase, VirtualMachineMigrationStatus } from "../../api/index.js";
import type { RawObject } from "../metrics.js";

/** Phases a migration waits or works in; each has its `..._in_<phase>_phase` gauge. */
export const OPEN_MIGRATION_PHASES = ["Pending", "Scheduling", "TargetReady", "Running"] as const;
export type OpenMigrationPhase = (typeof OPEN_MIGRATION_PHASES)[number];

/** `TargetReady` → `kubevisor_vmi_migrations_in_target_ready_phase` (KubeVirt's pattern). */
export function phaseGaugeName(phase: OpenMigrationPhase): string {
  const snake = phase.replace(/([a-z])([A-Z])/g, "$1_$2").toLowerCase();
  return `kubevisor_vmi_migrations_in_${snake}_phase`;
}

export interface MigrationFacts {
  labels: { namespace: string; vmi: string; migration: string };
  phase: MigrationPhase;
  /** Bytes of guest memory, while the migration reports them. */
  progress?: { total?: number; processed?: number; remaining?: number };
}

/** Pure: one migration object → what its gauges say. No status counts as Pending. */
export function migrationFacts(m: RawObject): MigrationFacts {
  const status = VirtualMachineMigrationStatus.safeParse(m.status ?? {}).data;
  const vmName = (m.spec as { vmName?: unknown } | undefined)?.vmName;
  const facts: MigrationFacts = {
    labels: {
      namespace: m.metadata?.namespace ?? "",
      vmi: typeof vmName === "string" ? vmName : "",
      migration: m.metadata?.name ?? "",
    },
    phase: MigrationPhase.safeParse(status?.phase).data ?? "Pending",
  };
  const p = status?.progress;
  if (p && (facts.phase === "Running" || facts.phase === "TargetReady")) {
    facts.progress = {
      total: p.dataTotalBytes,
      processed: p.dataProcessedBytes,
      remaining: p.dataRemainingBytes,
    };
  }
  return facts;
}

/**
 * Migration metrics on the operator's registry, each labelled with the VM (`vmi`, as
 * KubeVirt's are) and named after KubeVirt's `kubevirt_vmi_migration*` where the meaning is
 * the same. The per-migration gauges are read from the migration cache at scrape time, so a
 * migration that ends (or an operator that stops leading) leaves no stale series behind.
 */
export class MigrationMetrics {
  /** Ended migrations by VM and outcome (succeeded, failed). */
  readonly outcomes: Counter<"namespace" | "vmi" | "outcome">;
  readonly downtime: Histogram<"namespace" | "vmi">;
  readonly duration: Histogram<"namespace" | "vmi">;

  constructor(registry: Registry, migrations: () => MigrationFacts[]) {
    const registers = [registry];
    this.outcomes = new Counter({
      name: "kubevisor_vmi_migrations_total",
      help: "Migrations ended, by VM and outcome (succeeded, failed)",
      labelNames: ["namespace", "vmi", "outcome"],
      registers,
    });
    this.downtime = new Histogram({
      name: "kubevisor_vmi_migration_downtime_seconds",
      help: "Guest pause at the switch-over of each succeeded migration",
      labelNames: ["namespace", "vmi"],
      buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5],
      registers,
    });
    this.duration = new Histogram({
      name: "kubevisor_vmi_migration_duration_seconds",
      help: "Migration object created until it ended, succeeded or failed",
      labelNames: ["namespace", "vmi"],
      buckets: [1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800],
      registers,
    });
    const progress = (
      name: string,
      help: string,
      pick: (p: NonNullable<MigrationFacts["progress"]>) => number | undefined,
    ) =>
      new Gauge({
        name,
        help,
        labelNames: ["namespace", "vmi", "migration"],
        registers,
        collect() {
          this.reset();
          for (const f of migrations()) {
            const v = f.progress && pick(f.progress);
            if (v !== undefined) this.set(f.labels, v);
          }
        },
      });
    progress(
      "kubevisor_vmi_migration_data_processed_bytes",
      "The total Guest OS data processed and migrated to the new VM",
      (p) => p.processed,
    );
    progress(
      "kubevisor_vmi_migration_data_remaining_bytes",
      "The remaining guest OS data to be migrated to the new VM",
      (p) => p.remaining,
    );
    // KubeVirt's current name for what it first called ..._data_total_bytes.
    progress(
      "kubevisor_vmi_migration_data_bytes_total",
      "The total Guest OS data to be migrated to the new VM",
      (p) => p.total,
    );
    for (const phase of OPEN_MIGRATION_PHASES) {
      new Gauge({
        name: phaseGaugeName(phase),
        help: `Number of current ${phase} migrations`,
        registers,
        collect() {
          this.set(migrations().filter((f) => f.phase === phase).length);
        },
      });
    }
  }

  /**
   * A migration of this VM exists: both outcome series start at 0, so an alert's increase()
   * sees its first failure.
   */
  seen(namespace: string, vmi: string) {
    this.outcomes.inc({ namespace, vmi, outcome: "succeeded" }, 0);
    this.outcomes.inc({ namespace, vmi, outcome: "failed" }, 0);
  }
}
