import type { V1Pod } from "@kubernetes/client-node";
import { LABEL_VM } from "../../api/index.js";

/**
 * Launcher pods grouped by the VM they belong to, kept up to date from the pod informer,
 * so a reconcile finds a VM's pods without scanning every pod of the namespace. A pod
 * belongs to the VM its controller owner reference names, else (an orphan) to its label.
 */
export class PodIndex {
  private readonly byVm = new Map<string, Map<string, V1Pod>>();
  private readonly vmOfPod = new Map<string, string>();

  static vmNameOf(pod: V1Pod): string | undefined {
    const owner = pod.metadata?.ownerReferences?.find(
      (o) => o.controller && o.kind === "VirtualMachine",
    );
    return owner?.name ?? pod.metadata?.labels?.[LABEL_VM];
  }

  /** Call with every pod the informer adds or updates. */
  upsert(pod: V1Pod) {
    const podKey = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    const vm = PodIndex.vmNameOf(pod);
    if (vm === undefined) return;
    const vmKey = `${pod.metadata?.namespace}/${vm}`;
    const previous = this.vmOfPod.get(podKey);
    if (previous && previous !== vmKey) this.byVm.get(previous)?.delete(podKey);
    this.vmOfPod.set(podKey, vmKey);
    const pods = this.byVm.get(vmKey) ?? new Map<string, V1Pod>();
    this.byVm.set(vmKey, pods);
    pods.set(podKey, pod);
  }

  remove(pod: V1Pod) {
    const podKey = `${pod.metadata?.namespace}/${pod.metadata?.name}`;
    const vmKey = this.vmOfPod.get(podKey);
    if (!vmKey) return;
    this.vmOfPod.delete(podKey);
    const pods = this.byVm.get(vmKey);
    pods?.delete(podKey);
    if (pods?.size === 0) this.byVm.delete(vmKey);
  }

  podsOf(namespace: string, vmName: string): V1Pod[] {
    return [...(this.byVm.get(`${namespace}/${vmName}`)?.values() ?? [])];
  }
}
