import { KVM_RESOURCE } from "../../api/launcher.js";

/**
 * The Node object a local node registers and the status it heartbeats. Pure: the host's
 * facts are gathered by the agent. `spec` is never written after creation: cordoning
 * (spec.unschedulable) belongs to `kubectl cordon/drain`.
 */

export interface HostFacts {
  cpus: number;
  memoryBytes: number;
  ephemeralStorageBytes: number;
  kvm: boolean;
  kernelVersion: string;
  osImage: string;
  machineID: string;
  bootID: string;
  kubeletVersion: string;
  arch: string;
}

/** Pods a node admits; the scheduler sees zero capacity without it. The kubelet's default. */
export const MAX_PODS = 110;
/** How many pods may share /dev/kvm; KubeVirt advertises the same figure. */
export const KVM_CAPACITY = 1000;

export function goArch(nodeArch: string): string {
  return nodeArch === "x64" ? "amd64" : nodeArch === "ia32" ? "386" : nodeArch;
}

export function nodeLabels(name: string, f: Pick<HostFacts, "arch">): Record<string, string> {
  return {
    "kubernetes.io/hostname": name,
    "kubernetes.io/os": "linux",
    "kubernetes.io/arch": f.arch,
    "beta.kubernetes.io/os": "linux",
    "beta.kubernetes.io/arch": f.arch,
  };
}

export function nodeResources(f: HostFacts): Record<string, string> {
  return {
    cpu: String(f.cpus),
    memory: `${Math.floor(f.memoryBytes / 1024)}Ki`,
    pods: String(MAX_PODS),
    "ephemeral-storage": `${Math.floor(f.ephemeralStorageBytes / 1024)}Ki`,
    [KVM_RESOURCE]: String(f.kvm ? KVM_CAPACITY : 0),
  };
}

function conditions(now: string, ready: boolean, since: string) {
  const pressure = (type: string, reason: string, message: string) => ({
    type,
    status: "False",
    reason,
    message,
    lastHeartbeatTime: now,
    lastTransitionTime: since,
  });
  return [
    pressure(
      "MemoryPressure",
      "KubeletHasSufficientMemory",
      "kubelet has sufficient memory available",
    ),
    pressure("DiskPressure", "KubeletHasNoDiskPressure", "kubelet has no disk pressure"),
    pressure("PIDPressure", "KubeletHasSufficientPID", "kubelet has sufficient PID available"),
    {
      type: "Ready",
      status: ready ? "True" : "False",
      reason: ready ? "KubeletReady" : "KubeletNotReady",
      message: ready
        ? "kubevisor local node is posting ready status"
        : "kubevisor local node stopped",
      lastHeartbeatTime: now,
      lastTransitionTime: since,
    },
  ];
}

/** `status` of the Node (for a strategic-merge patch: conditions and addresses merge by type). */
export function nodeStatus(
  name: string,
  f: HostFacts,
  opts: { now: string; ready: boolean; since: string },
) {
  const resources = nodeResources(f);
  return {
    capacity: resources,
    // Nothing is reserved for system daemons: the whole host is offered (to every local node).
    allocatable: resources,
    conditions: conditions(opts.now, opts.ready, opts.since),
    addresses: [
      { type: "InternalIP", address: "127.0.0.1" },
      { type: "Hostname", address: name },
    ],
    daemonEndpoints: { kubeletEndpoint: { Port: 0 } },
    nodeInfo: {
      machineID: f.machineID,
      systemUUID: f.machineID,
      bootID: f.bootID,
      kernelVersion: f.kernelVersion,
      osImage: f.osImage,
      containerRuntimeVersion: "kubevisor-local://bubblewrap",
      kubeletVersion: f.kubeletVersion,
      kubeProxyVersion: "",
      operatingSystem: "linux",
      architecture: f.arch,
    },
  };
}

export function nodeObject(name: string, f: HostFacts) {
  return {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name, labels: nodeLabels(name, f) },
    spec: {},
  };
}
