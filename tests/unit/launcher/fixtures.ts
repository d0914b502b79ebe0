import type { VirtualMachineSpecInput } from "../../../src/api/virtualmachine.js";
import { VirtualMachineSpec } from "../../../src/api/virtualmachine.js";
import type { LaunchedVm } from "../../../src/launcher/spec.js";

export function launchedVm(spec: Partial<VirtualMachineSpecInput> = {}): LaunchedVm {
  return {
    name: "web",
    namespace: "prod",
    uid: "0b6b7c1e-uid",
    spec: VirtualMachineSpec.parse({
      memory: { size: "256Mi" },
      boot: { kernel: { image: "kubevisor/test-guest:latest", initrdPath: "/boot/initrd.img" } },
      ...spec,
    }),
  };
}

export function annotationJson(spec: unknown, metadata: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: "kubevisor.io/v1alpha1",
    kind: "VirtualMachine",
    metadata: { name: "web", namespace: "prod", uid: "0b6b7c1e-uid", ...metadata },
    spec,
  });
}
