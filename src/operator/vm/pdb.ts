import type { V1PodDisruptionBudget } from "@kubernetes/client-node";
import {
  COMPONENT_LAUNCHER,
  LABEL_COMPONENT,
  LABEL_VM,
  type VirtualMachine,
} from "../../api/index.js";
import { vmLabels, vmOwnerReference } from "./launcher-pod.js";
import { disruptionBudgetName, vmLabelValue } from "./naming.js";

export const COMPONENT_PDB = "disruption-budget";

/**
 * Whether the VM's eviction strategy asks for a PodDisruptionBudget over its launcher pods:
 * LiveMigrate always (a drain waits for the migration, or blocks when none is possible);
 * LiveMigrateIfPossible unless the migration controller found it cannot migrate (then an
 * eviction stops it, like None, instead of blocking the drain).
 */
export function wantsDisruptionBudget(vm: VirtualMachine): boolean {
  if (vm.spec.evictionStrategy === "LiveMigrate") return true;
  if (vm.spec.evictionStrategy === "None") return false;
  const migratable = vm.status?.conditions?.find((c) => c.type === "Migratable");
  return migratable?.status !== "False";
}

/**
 * minAvailable 1 over the VM's launcher pods: an eviction (a drain) of the only running
 * instance is refused, so the node waits until a migration has moved the guest. During a
 * migration the target pod turns Ready only once the guest runs there, and only then may
 * the source go.
 */
export function buildDisruptionBudget(vm: VirtualMachine): V1PodDisruptionBudget {
  const name = vm.metadata.name ?? "";
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: {
      name: disruptionBudgetName(name),
      namespace: vm.metadata.namespace,
      labels: vmLabels(vm, COMPONENT_PDB),
      ownerReferences: [vmOwnerReference(vm)],
    },
    spec: {
      minAvailable: 1,
      selector: {
        matchLabels: { [LABEL_VM]: vmLabelValue(name), [LABEL_COMPONENT]: COMPONENT_LAUNCHER },
      },
    },
  };
}
