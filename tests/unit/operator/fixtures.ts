/** A VM, its launch status and its launcher pods, as the VM decide tests build them. */
import {
  VirtualMachine,
  type VirtualMachineSpecInput,
  type VirtualMachineStatus,
} from "../../../src/api/index.js";
import { VM_FINALIZER } from "../../../src/operator/vm/decide.js";
import type { ObservedPod } from "../../../src/operator/vm/observe.js";

export const NOW = new Date("2026-01-01T12:00:00Z");
export const ago = (ms: number) => new Date(NOW.getTime() - ms).toISOString();

export interface VmOptions {
  spec?: Partial<VirtualMachineSpecInput>;
  status?: VirtualMachineStatus;
  annotations?: Record<string, string>;
  finalizers?: string[];
  generation?: number;
  deleting?: boolean;
}

export function vm(o: VmOptions = {}): VirtualMachine {
  return VirtualMachine.parse({
    apiVersion: "kubevisor.io/v1alpha1",
    kind: "VirtualMachine",
    metadata: {
      name: "web",
      namespace: "ns",
      uid: "uid-1",
      generation: o.generation ?? 1,
      finalizers: o.finalizers ?? [VM_FINALIZER],
      ...(o.annotations ? { annotations: o.annotations } : {}),
      ...(o.deleting ? { deletionTimestamp: ago(1000) } : {}),
    },
    // A direct-boot kernel: since the API refuses a VM with nothing to boot.
    spec: { memory: { size: "256Mi" }, boot: { kernel: { image: "k" } }, ...o.spec },
    ...(o.status ? { status: o.status } : {}),
  });
}

/** Status of a VM whose launch n is under way (claimed long ago). */
export function launched(n: number, extra: VirtualMachineStatus = {}): VirtualMachineStatus {
  return {
    launchCount: n,
    launcherPod: `web-launcher-${n}`,
    launcherPodUID: `pod-uid-${n}`,
    launchClaimedAt: ago(3_600_000),
    phase: "Running",
    ...extra,
  };
}

export function pod(n: number, o: Partial<ObservedPod> = {}): ObservedPod {
  return {
    name: `web-launcher-${n}`,
    uid: `pod-uid-${n}`,
    launch: n,
    migrationTarget: false,
    stage: "Running",
    terminating: false,
    ready: true,
    nodeName: "node-a",
    podIP: "127.0.0.5",
    ...o,
  };
}
