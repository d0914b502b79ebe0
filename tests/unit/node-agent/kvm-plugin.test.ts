import { describe, expect, it } from "vitest";
import {
  advertisedDevices,
  allocate,
  nextAction,
  preferredAllocation,
  registerRequest,
  type WatchedFacts,
} from "../../../src/node-agent/kvm-plugin.js";
import { nodeAgentSettings } from "../../../src/node-agent/settings.js";

const facts = (f: Partial<WatchedFacts> = {}): WatchedFacts => ({
  kubeletSocket: "1:100",
  ownSocket: true,
  kvmPresent: true,
  ...f,
});

describe("KVM device plugin decisions", () => {
  it("registers the kubevisor KVM resource under the v1beta1 API", () => {
    expect(registerRequest()).toEqual({
      version: "v1beta1",
      endpoint: "kubevisor-kvm.sock",
      resource_name: "devices.kubevisor.io/kvm",
      options: { pre_start_required: false, get_preferred_allocation_available: false },
    });
  });

  it("advertises N shareable healthy slots only where /dev/kvm exists", () => {
    expect(advertisedDevices(true)).toHaveLength(110);
    expect(advertisedDevices(true, 2)).toEqual([
      { ID: "kvm-0", health: "Healthy" },
      { ID: "kvm-1", health: "Healthy" },
    ]);
    expect(advertisedDevices(false)).toEqual([]);
  });

  it("allocates the node's /dev/kvm read-write to every container asking", () => {
    const res = allocate({ container_requests: [{ devices_ids: ["kvm-3"] }, { devices_ids: [] }] });
    expect(res.container_responses).toEqual([
      { devices: [{ container_path: "/dev/kvm", host_path: "/dev/kvm", permissions: "rw" }] },
      { devices: [{ container_path: "/dev/kvm", host_path: "/dev/kvm", permissions: "rw" }] },
    ]);
  });

  it("prefers the must-include devices, then any available, up to the size", () => {
    const res = preferredAllocation({
      container_requests: [
        {
          available_deviceIDs: ["kvm-0", "kvm-1", "kvm-2"],
          must_include_deviceIDs: ["kvm-2"],
          allocation_size: 2,
        },
      ],
    });
    expect(res.container_responses).toEqual([{ deviceIDs: ["kvm-2", "kvm-0"] }]);
  });

  it("waits for a kubelet, registers with it, and again when it restarts", () => {
    expect(nextAction(undefined, facts({ kubeletSocket: undefined }))).toBe("wait");
    expect(nextAction(undefined, facts())).toBe("register");
    expect(nextAction(facts({ kubeletSocket: undefined }), facts())).toBe("register");
    expect(nextAction(facts(), facts())).toBe("none");
    // A new kubelet.sock (other inode) or our socket wiped: the kubelet forgot us.
    expect(nextAction(facts(), facts({ kubeletSocket: "1:101" }))).toBe("register");
    expect(nextAction(facts(), facts({ ownSocket: false }))).toBe("register");
    expect(nextAction(facts(), facts({ kubeletSocket: undefined }))).toBe("wait");
  });

  it("tells the kubelet when /dev/kvm appears or goes", () => {
    expect(nextAction(facts(), facts({ kvmPresent: false }))).toBe("update");
    expect(nextAction(facts({ kvmPresent: false }), facts())).toBe("update");
  });
});

describe("node agent settings", () => {
  it("defaults to the kubelet's device-plugin directory and /dev/kvm", () => {
    expect(nodeAgentSettings({})).toEqual({
      pluginDir: "/var/lib/kubelet/device-plugins",
      kvmCheckPath: "/dev/kvm",
      kvmHostPath: "/dev/kvm",
      devices: 110,
      pollMs: 1000,
    });
  });

  it("refuses a bad device count, naming the variable", () => {
    expect(() => nodeAgentSettings({ KUBEVISOR_KVM_DEVICES: "0" })).toThrow(
      /KUBEVISOR_KVM_DEVICES/,
    );
    expect(() => nodeAgentSettings({ KUBEVISOR_KVM_DEVICES: "x" })).toThrow(
      /KUBEVISOR_KVM_DEVICES/,
    );
  });
});
