import { GROUP, type VirtualMachine, type VirtualMachineMigration } from "../../api/index.js";
import { boundedName, shortHash } from "../vm/naming.js";

/** Label on migrations the operator created to empty a node: the node's name. */
export const LABEL_EVACUATION = `${GROUP}/evacuation`;

export interface EvacuationPlan {
  /** Migrations to create, by deterministic name (a retried pass meets AlreadyExists). */
  create: { vm: VirtualMachine; name: string }[];
  /** VMs that keep the node from draining, and why. */
  blocked: { vm: VirtualMachine; message: string }[];
}

/** Name of the `attempt`-th evacuation of launcher pod `pod` of VM `vmName`. */
export function evacuationName(vmName: string, pod: string, attempt: number): string {
  return boundedName(vmName, `-evacuation-${shortHash(pod, 5)}-${attempt}`);
}

const ENDED = new Set(["Succeeded", "Failed"]);

/**
 * What a cordoned node's VMs need (pure). LiveMigrate VMs, and LiveMigrateIfPossible ones
 * that can migrate, get a migration each (the limits then pace them); a LiveMigrate VM
 * that cannot migrate blocks the drain (its disruption budget refuses the eviction) and
 * says so; VMs with evictionStrategy None, or LiveMigrateIfPossible that cannot migrate,
 * are left to the eviction, which stops them, and to their runStrategy, which starts them
 * elsewhere.
 */
export function planEvacuation(
  node: string,
  vms: readonly VirtualMachine[],
  migrations: readonly VirtualMachineMigration[],
  migratable: (vm: VirtualMachine) => { migratable: boolean; message: string },
  maxAttempts: number,
): EvacuationPlan {
  const plan: EvacuationPlan = { create: [], blocked: [] };
  for (const vm of vms) {
    const pod = vm.status?.launcherPod;
    const name = vm.metadata.name ?? "";
    if (vm.status?.nodeName !== node || !pod) continue;
    if (vm.status.phase !== "Running" && vm.status.phase !== "Migrating") continue;
    if (vm.spec.evictionStrategy === "None") continue;
    const mine = migrations.filter((m) => m.spec.vmName === name);
    if (mine.some((m) => !ENDED.has(m.status?.phase ?? "Pending"))) continue;
    const verdict = migratable(vm);
    if (!verdict.migratable) {
      if (vm.spec.evictionStrategy === "LiveMigrate") {
        plan.blocked.push({ vm, message: `cannot live-migrate: ${verdict.message}` });
      }
      continue;
    }
    const tried = mine.filter((m) =>
      Array.from({ length: maxAttempts }, (_, i) => evacuationName(name, pod, i + 1)).includes(
        m.metadata.name ?? "",
      ),
    );
    if (tried.length >= maxAttempts) {
      plan.blocked.push({
        vm,
        message: `${tried.length} evacuation attempts failed; last: ${tried.at(-1)?.status?.message ?? "?"}`,
      });
      continue;
    }
    plan.create.push({ vm, name: evacuationName(name, pod, tried.length + 1) });
  }
  return plan;
}

/** The migration object an evacuation creates. */
export function evacuationMigration(vm: VirtualMachine, name: string, node: string) {
  return {
    apiVersion: vm.apiVersion,
    kind: "VirtualMachineMigration",
    metadata: {
      name,
      namespace: vm.metadata.namespace,
      labels: { [LABEL_EVACUATION]: boundedName(node, "") },
    },
    spec: { vmName: vm.metadata.name ?? "" },
  };
}
