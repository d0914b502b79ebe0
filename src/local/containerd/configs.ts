import { stringify } from "yaml";
import {
  CLUSTER_POD_CIDR,
  CNI_BIN_DIR,
  KUBE_PROXY_HEALTHZ,
  KUBE_PROXY_METRICS,
  KUBELET_HEALTHZ_PORT,
  KUBELET_PORT,
  PAUSE_IMAGE,
  type RealNodePlan,
} from "./plan.js";

/**
 * Configuration files of one real node, rendered from its plan. Pure; ./node.ts writes them.
 * Each setting that differs from the default is here because two nodes share one host (the
 * clashes are listed in shared/notes/real-nodes.md) or because nothing may leave the machine.
 */

/** TOML string literal: JSON's escaping is a valid TOML basic string. */
const q = (s: string) => JSON.stringify(s);

export function containerdConfig(n: RealNodePlan): string {
  return `version = 4
root = ${q(n.containerdRoot)}
state = ${q(n.containerdState)}
# NRI's socket is host-global: two containerds would fight over it.
disabled_plugins = ["io.containerd.nri.v1.nri"]

# Every socket under the node's own dir; the defaults are host-global (/run/containerd).
[plugins."io.containerd.server.v1.grpc"]
  address = ${q(n.containerdSocket)}

[plugins."io.containerd.server.v1.ttrpc"]
  address = ${q(`${n.containerdSocket}.ttrpc`)}

[plugins."io.containerd.server.v1.debug"]
  address = ""

[plugins."io.containerd.server.v1.metrics"]
  address = ""

[plugins."io.containerd.nri.v1.nri"]
  disable = true

# Shim sockets default to the host-global /run/containerd/s.
[plugins."io.containerd.shim.v1.manager"]
  socket_dir = ${q(n.shimSocketDir)}

[plugins."io.containerd.grpc.v1.cri"]
  disable_tcp_service = true
  # exec/attach/port-forward streams: loopback of the nodes' namespace, a free port.
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  # No registry here: images are imported, never pulled.
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = ${q(PAUSE_IMAGE)}

[plugins."io.containerd.cri.v1.runtime"]
  # Root here lacks CAP_SYS_RESOURCE: lowering a sandbox's oom_score_adj fails every pod.
  restrict_oom_score_adj = true
  # Pod network namespaces under this node's state dir, not the host's /var/run/netns.
  netns_mounts_under_state_dir = true
  # Devices a device plugin hands out (/dev/kvm) become the pod user's, so non-root opens them.
  device_ownership_from_security_context = true
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = [${q(CNI_BIN_DIR)}]
    conf_dir = ${q(n.cniConfDir)}
    max_conf_num = 1
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        SystemdCgroup = false
        Root = ${q(`${n.containerdState}/runc`)}
`;
}

/** bridge + host-local + portmap; containerd adds loopback itself. No ipMasq: nothing goes out. */
export function cniConfig(n: RealNodePlan): string {
  return `${JSON.stringify(
    {
      cniVersion: "1.0.0",
      name: "kubevisor",
      plugins: [
        {
          type: "bridge",
          bridge: n.bridge,
          isGateway: true,
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: "host-local",
            ranges: [[{ subnet: n.podCidr, gateway: n.ip }]],
            routes: [{ dst: "0.0.0.0/0" }],
            dataDir: n.cniDataDir,
          },
        },
        { type: "portmap", capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  )}\n`;
}

export interface KubeletConfigInput {
  node: RealNodePlan;
  caFile: string;
  /** Serving certificate signed by the cluster CA, so the apiserver can verify the kubelet. */
  tlsCertFile: string;
  tlsKeyFile: string;
}

export function kubeletConfig(k: KubeletConfigInput): string {
  const n = k.node;
  return stringify({
    apiVersion: "kubelet.config.k8s.io/v1beta1",
    kind: "KubeletConfiguration",
    address: n.ip,
    port: KUBELET_PORT,
    readOnlyPort: 0,
    healthzBindAddress: n.ip,
    healthzPort: KUBELET_HEALTHZ_PORT,
    tlsCertFile: k.tlsCertFile,
    tlsPrivateKeyFile: k.tlsKeyFile,
    authentication: {
      anonymous: { enabled: false },
      webhook: { enabled: true },
      x509: { clientCAFile: k.caFile },
    },
    authorization: { mode: "Webhook" },
    containerRuntimeEndpoint: `unix://${n.containerdSocket}`,
    // cgroup v1 here; 1.36 refuses it unless told.
    failCgroupV1: false,
    cgroupDriver: "cgroupfs",
    cgroupRoot: n.cgroupRoot,
    cgroupsPerQOS: true,
    enforceNodeAllocatable: ["pods"],
    podLogsDir: n.podLogsDir,
    // No DNS server in the cluster and no lookups leaving the machine.
    resolvConf: n.resolvConf,
    clusterDomain: "cluster.local",
    failSwapOn: false,
    // Imported images cannot be pulled again: never garbage-collect them, never evict for disk.
    imageGCHighThresholdPercent: 100,
    imageGCLowThresholdPercent: 99,
    evictionHard: {
      "memory.available": "1Mi",
      "nodefs.available": "1%",
      "imagefs.available": "1%",
      "nodefs.inodesFree": "1%",
    },
    serializeImagePulls: false,
    shutdownGracePeriod: "0s",
    maxPods: 110,
    // Lowering its own score needs CAP_SYS_RESOURCE, which root here lacks.
    oomScoreAdj: 0,
  });
}

export function kubeletArgs(n: RealNodePlan, configPath: string): string[] {
  return [
    `--config=${configPath}`,
    `--kubeconfig=${n.kubeletKubeconfig}`,
    `--root-dir=${n.kubeletRoot}`,
    `--cert-dir=${n.certDir}`,
    `--hostname-override=${n.name}`,
    `--node-ip=${n.ip}`,
    "--v=1",
  ];
}

export function kubeProxyConfig(kubeconfig: string, hostname: string): string {
  return stringify({
    apiVersion: "kubeproxy.config.k8s.io/v1alpha1",
    kind: "KubeProxyConfiguration",
    mode: "iptables",
    clientConnection: { kubeconfig },
    hostnameOverride: hostname,
    clusterCIDR: CLUSTER_POD_CIDR,
    bindAddress: "127.0.0.1",
    healthzBindAddress: KUBE_PROXY_HEALTHZ,
    metricsBindAddress: KUBE_PROXY_METRICS,
    // 0 = leave the kernel's conntrack settings alone (some are host-wide).
    conntrack: {
      maxPerCore: 0,
      min: 0,
      tcpEstablishedTimeout: "0s",
      tcpCloseWaitTimeout: "0s",
    },
    oomScoreAdj: 0,
  });
}
