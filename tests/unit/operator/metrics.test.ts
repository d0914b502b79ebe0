import { describe, expect, it } from "vitest";
import { OperatorMetrics, vmFacts } from "../../../src/operator/metrics.js";
import {
  MigrationMetrics,
  migrationFacts,
  phaseGaugeName,
} from "../../../src/operator/migration/metrics.js";

const migratable = (status: "True" | "False") => ({
  type: "Migratable",
  status,
  reason: status === "True" ? "Migratable" : "DisksNotShared",
  lastTransitionTime: "2026-01-01T00:00:00Z",
});

describe("VM facts for the operator's gauges", () => {
  it("a LiveMigrate VM that cannot migrate is non-evictable; other strategies are not", () => {
    const vm = (evictionStrategy: string | undefined, status: "True" | "False") => ({
      metadata: { namespace: "ns", name: "a" },
      spec: evictionStrategy ? { evictionStrategy } : {},
      status: { phase: "Running", nodeName: "n1", conditions: [migratable(status)] },
    });
    expect(vmFacts(vm("LiveMigrate", "False")).nonEvictable).toBe(true);
    // The default strategy is LiveMigrate.
    expect(vmFacts(vm(undefined, "False")).nonEvictable).toBe(true);
    expect(vmFacts(vm("LiveMigrate", "True")).nonEvictable).toBe(false);
    expect(vmFacts(vm("LiveMigrateIfPossible", "False")).nonEvictable).toBe(false);
    expect(vmFacts(vm("None", "False")).nonEvictable).toBe(false);
  });

  it("a VM without status is Pending on no node", () => {
    expect(vmFacts({ metadata: { namespace: "ns", name: "b" }, spec: {} })).toEqual({
      namespace: "ns",
      name: "b",
      phase: "Pending",
      node: "",
      nonEvictable: false,
    });
  });

  it("a status the schema refuses does not break the scrape", () => {
    expect(vmFacts({ metadata: { name: "c" }, status: { phase: 42 } }).phase).toBe("Pending");
  });
});

describe("operator registry", () => {
  it("exports kubevisor_info, per-VM info with phase and node, and the non-evictable gauge", async () => {
    const m = new OperatorMetrics(
      () => [
        { namespace: "ns", name: "a", phase: "Running", node: "n1", nonEvictable: true },
        { namespace: "ns", name: "b", phase: "Pending", node: "", nonEvictable: false },
      ],
      "1.2.3",
    );
    const text = await m.registry.metrics();
    expect(text).toContain('kubevisor_info{version="1.2.3"} 1');
    expect(text).toContain(
      'kubevisor_vmi_info{namespace="ns",name="a",phase="Running",node="n1"} 1',
    );
    expect(text).toContain('kubevisor_vmi_info{namespace="ns",name="b",phase="Pending",node=""} 1');
    expect(text).toContain('kubevisor_vmi_non_evictable{namespace="ns",name="a",node="n1"} 1');
    expect(text).toContain('kubevisor_vmi_non_evictable{namespace="ns",name="b",node=""} 0');
  });
});

describe("migration metrics", () => {
  it("names phase gauges as KubeVirt does", () => {
    expect(phaseGaugeName("Pending")).toBe("kubevisor_vmi_migrations_in_pending_phase");
    expect(phaseGaugeName("TargetReady")).toBe("kubevisor_vmi_migrations_in_target_ready_phase");
  });

  it("reads progress only while a migration runs, labelled with its VM", async () => {
    const running = {
      metadata: { namespace: "ns", name: "m1" },
      spec: { vmName: "vm1" },
      status: {
        phase: "Running",
        progress: { dataTotalBytes: 100, dataProcessedBytes: 40, dataRemainingBytes: 60 },
      },
    };
    const ended = {
      metadata: { namespace: "ns", name: "m0" },
      spec: { vmName: "vm1" },
      status: { phase: "Succeeded", progress: { dataTotalBytes: 100 } },
    };
    expect(migrationFacts(ended).progress).toBeUndefined();
    const m = new OperatorMetrics(() => [], "0");
    const mm = new MigrationMetrics(m.registry, () => [running, ended].map(migrationFacts));
    mm.seen("ns", "vm1");
    const text = await m.registry.metrics();
    const labels = '{namespace="ns",vmi="vm1",migration="m1"}';
    expect(text).toContain(`kubevisor_vmi_migration_data_processed_bytes${labels} 40`);
    expect(text).toContain(`kubevisor_vmi_migration_data_remaining_bytes${labels} 60`);
    expect(text).toContain(`kubevisor_vmi_migration_data_bytes_total${labels} 100`);
    expect(text).not.toContain('migration="m0"');
    expect(text).toContain("kubevisor_vmi_migrations_in_running_phase 1");
    expect(text).toContain("kubevisor_vmi_migrations_in_pending_phase 0");
    // Both outcomes exist at 0 before the first end, so increase() sees the first failure.
    expect(text).toContain(
      'kubevisor_vmi_migrations_total{namespace="ns",vmi="vm1",outcome="failed"} 0',
    );
  });
});
