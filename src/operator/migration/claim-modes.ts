import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import type { VirtualMachine } from "../../api/index.js";
import { isNotFound, type KubeClient } from "../../kube/client.js";
import { type Migratability, migratability } from "./migratable.js";

const pvcPath = (ns: string, name: string) =>
  `/api/v1/namespaces/${ns}/persistentvolumeclaims/${name}`;

/**
 * Whether `vm` can migrate, its claims read live (an access mode decides whether two nodes
 * may open a disk): the edge around the pure `migratability`. Only the claims the VM names
 * are read, so a VM without claims costs no request.
 */
export async function readMigratability(
  client: KubeClient,
  vm: VirtualMachine,
): Promise<Migratability> {
  const ns = vm.metadata.namespace ?? "";
  const modes = new Map<string, string[] | undefined>();
  for (const disk of vm.spec.disks) {
    const claim = disk.persistentVolumeClaim?.claimName;
    if (!claim || modes.has(claim)) continue;
    const pvc = await client.get<V1PersistentVolumeClaim>(pvcPath(ns, claim)).catch((err) => {
      if (isNotFound(err)) return undefined;
      throw err;
    });
    modes.set(claim, pvc ? (pvc.status?.accessModes ?? pvc.spec?.accessModes ?? []) : undefined);
  }
  return migratability(vm, (claim) => modes.get(claim));
}
