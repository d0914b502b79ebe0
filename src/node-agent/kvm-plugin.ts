import { KVM_RESOURCE } from "../api/launcher.js";
import type {
  AllocateRequest,
  AllocateResponse,
  Device,
  DevicePluginOptions,
  PreferredAllocationRequest,
  PreferredAllocationResponse,
  RegisterRequest,
} from "./api.js";
import { API_VERSION } from "./api.js";

/**
 * The pure half of the KVM device plugin: what to advertise and what to hand out.
 *
 * /dev/kvm is shareable: every VM on the node opens the same device. The kubelet counts
 * devices, so the plugin advertises `count` identical slots (like KubeVirt's 110, the
 * kubelet's default pod limit), each one the same /dev/kvm.
 */
export const DEFAULT_KVM_DEVICES = 110;
export const KVM_DEVICE_PATH = "/dev/kvm";
export const PLUGIN_SOCKET = "kubevisor-kvm.sock";

export const PLUGIN_OPTIONS: DevicePluginOptions = {
  pre_start_required: false,
  get_preferred_allocation_available: false,
};

export function registerRequest(endpoint = PLUGIN_SOCKET): RegisterRequest {
  return {
    version: API_VERSION,
    endpoint,
    resource_name: KVM_RESOURCE,
    options: PLUGIN_OPTIONS,
  };
}

/** No /dev/kvm on the node: nothing to advertise, so no KVM pod is scheduled here. */
export function advertisedDevices(kvmPresent: boolean, count = DEFAULT_KVM_DEVICES): Device[] {
  if (!kvmPresent) return [];
  return Array.from({ length: count }, (_, i) => ({ ID: `kvm-${i}`, health: "Healthy" }));
}

/**
 * Every container that got a slot gets the node's /dev/kvm read-write; containerd makes it
 * owned by the pod's user (`device_ownership_from_security_context`), so a non-root,
 * unprivileged launcher can open it.
 */
export function allocate(req: AllocateRequest, hostPath = KVM_DEVICE_PATH): AllocateResponse {
  return {
    container_responses: req.container_requests.map(() => ({
      devices: [{ container_path: KVM_DEVICE_PATH, host_path: hostPath, permissions: "rw" }],
    })),
  };
}

/** All slots are the same device: any of them will do (the kubelet's own choice stands). */
export function preferredAllocation(req: PreferredAllocationRequest): PreferredAllocationResponse {
  return {
    container_responses: req.container_requests.map((c) => {
      const chosen = [...c.must_include_deviceIDs];
      for (const id of c.available_deviceIDs) {
        if (chosen.length >= c.allocation_size) break;
        if (!chosen.includes(id)) chosen.push(id);
      }
      return { deviceIDs: chosen };
    }),
  };
}

/** What the agent watches; a change in either means a restart of the plugin or an update. */
export interface WatchedFacts {
  /** Identity of kubelet.sock (device and inode), undefined while it does not exist. */
  kubeletSocket: string | undefined;
  /** Whether our own socket is still in the directory (a kubelet restart wipes it). */
  ownSocket: boolean;
  kvmPresent: boolean;
}

/**
 * - `wait`: no kubelet to register with.
 * - `register`: (re)start serving on a fresh socket, then register with the kubelet.
 * - `update`: tell open ListAndWatch streams the new device list.
 */
export type AgentAction = "none" | "wait" | "register" | "update";

/**
 * Pure transition from what the agent saw last to what it sees now. A new kubelet.sock
 * (another inode), or our socket gone, means the kubelet restarted and forgot us.
 */
export function nextAction(prev: WatchedFacts | undefined, now: WatchedFacts): AgentAction {
  if (now.kubeletSocket === undefined) return "wait";
  if (!prev || prev.kubeletSocket === undefined) return "register";
  if (prev.kubeletSocket !== now.kubeletSocket || !now.ownSocket) return "register";
  if (prev.kvmPresent !== now.kvmPresent) return "update";
  return "none";
}
