import type { V1Node } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { KVM_RESOURCE, VirtualMachine } from "../../../src/api/index.js";
import { buildTargetPod } from "../../../src/operator/migration/target-pod.js";
import { clusterOffersKvm, requestsKvm } from "../../../src/operator/vm/kvm.js";
import { buildLauncherPod, NO_RESOLVED_VOLUMES } from "../../../src/operator/vm/launcher-pod.js";

const node = (allocatable: Record<string, string>): V1Node => ({ status: { allocatable } });

function vm(acceleration: "Auto" | "KVM" | "Emulation"): VirtualMachine {
  return VirtualMachine.parse({
    apiVersion: "kubevisor.io/v1alpha1",
    kind: "VirtualMachine",
    metadata: { name: "web", namespace: "ns", uid: "uid-1" },
    spec: {
      memory: { size: "256Mi" },
      acceleration,
      boot: { kernel: { image: "kubevisor/test-guest:latest" } },
    },
  });
}

const config = { image: "kubevisor:dev" };
const kvmOf = (pod: ReturnType<typeof buildLauncherPod>) => {
  const r = pod.spec?.containers[0]?.resources;
  return [r?.requests?.[KVM_RESOURCE], r?.limits?.[KVM_RESOURCE]];
};

describe("the KVM device request", () => {
  it("sees KVM offered only where a node's allocatable has a device", () => {
    expect(clusterOffersKvm([])).toBe(false);
    expect(clusterOffersKvm([node({ cpu: "2" }), node({ [KVM_RESOURCE]: "0" })])).toBe(false);
    expect(clusterOffersKvm([node({ cpu: "2" }), node({ [KVM_RESOURCE]: "110" })])).toBe(true);
  });

  it("KVM always, Auto when offered, Emulation never", () => {
    expect(requestsKvm("KVM", false)).toBe(true);
    expect(requestsKvm("Auto", true)).toBe(true);
    expect(requestsKvm("Auto", false)).toBe(false);
    expect(requestsKvm("Auto", undefined)).toBe(false);
    expect(requestsKvm("Emulation", true)).toBe(false);
  });

  it("puts devices.kubevisor.io/kvm: 1 in the launcher's requests and limits", () => {
    const offered = { ...NO_RESOLVED_VOLUMES, kvmOffered: true };
    expect(kvmOf(buildLauncherPod(vm("KVM"), 1, config))).toEqual(["1", "1"]);
    expect(kvmOf(buildLauncherPod(vm("Auto"), 1, config, offered))).toEqual(["1", "1"]);
    expect(kvmOf(buildLauncherPod(vm("Auto"), 1, config))).toEqual([undefined, undefined]);
    expect(kvmOf(buildLauncherPod(vm("Emulation"), 1, config, offered))).toEqual([
      undefined,
      undefined,
    ]);
  });

  it("gives a migration target exactly the source's request", () => {
    const m = { name: "m", uid: "m-uid" };
    const withKvm = buildLauncherPod(vm("Auto"), 1, config, {
      ...NO_RESOLVED_VOLUMES,
      kvmOffered: true,
    });
    expect(kvmOf(buildTargetPod(vm("Auto"), m, withKvm, "a", config))).toEqual(["1", "1"]);
    const without = buildLauncherPod(vm("Auto"), 1, config);
    expect(kvmOf(buildTargetPod(vm("Auto"), m, without, "a", config))).toEqual([
      undefined,
      undefined,
    ]);
  });
});
