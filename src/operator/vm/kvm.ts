import type { V1Node } from "@kubernetes/client-node";
import { KVM_RESOURCE, type VirtualMachineSpec } from "../../api/index.js";

/**
 * Whether any node offers the KVM device (the node agent's device plugin advertises
 * KVM_RESOURCE in its allocatable), from the nodes the operator already watches.
 */
export function clusterOffersKvm(nodes: readonly V1Node[]): boolean {
  return nodes.some((n) => Number(n.status?.allocatable?.[KVM_RESOURCE] ?? 0) > 0);
}

/**
 * Whether a launcher pod requests `devices.kubevisor.io/kvm: 1`:
 *
 * | acceleration | request |
 * | --- | --- |
 * | `KVM` | always: it must land where the device is (Pending otherwise, saying why) |
 * | `Auto` | when some node offers it: the kubelet hands /dev/kvm only to pods that ask |
 * | `Emulation` | never |
 *
 * `Auto` without any KVM node in the cluster requests nothing, so it schedules anywhere and
 * runs emulated; with some, it is placed on KVM nodes and the launcher's probe still falls
 * back to emulation (with the reason in status) where KVM cannot run a guest.
 */
export function requestsKvm(
  acceleration: VirtualMachineSpec["acceleration"],
  kvmOffered: boolean | undefined,
): boolean {
  if (acceleration === "KVM") return true;
  if (acceleration === "Auto") return kvmOffered === true;
  return false;
}
