import { join } from "node:path";

/**
 * The address and path plan of a real-node cluster. Pure data, so flag and config builders
 * can be unit-tested.
 *
 * Network: the whole real-node side (containerd, kubelets, kube-proxy, pods, bridges,
 * iptables, sysctls) lives in one network namespace the project creates and holds with a
 * process. Its only link is a veth pair to the host:
 *
 *   host  ── kvh-<cluster> 10.250.0.1/30 ═══ uplink 10.250.0.2/30 ── netns
 *             (apiserver binds here;               │ routes: 10.244.<i>.0/24 dev kvbr<i>
 *              route 10.244.0.0/16 via .2)         │ no default route: nothing leaves
 *
 * The host gets one route (pod CIDR via the veth, so the apiserver reaches pods and kubelets);
 * the namespace gets none beyond its links, so a packet to any other address is refused
 * inside it (ENETUNREACH) and never reaches the host's interfaces.
 */

export const TRANSIT_HOST_IP = "10.250.0.1";
export const TRANSIT_NS_IP = "10.250.0.2";
export const TRANSIT_PREFIX = 30;
/** All pod CIDRs; node i gets 10.244.i.0/24. */
export const CLUSTER_POD_CIDR = "10.244.0.0/16";
export const UPLINK = "uplink";
export const KUBELET_PORT = 10250;
export const KUBELET_HEALTHZ_PORT = 10248;
export const KUBE_PROXY_HEALTHZ = "127.0.0.1:10256";
export const KUBE_PROXY_METRICS = "127.0.0.1:10249";
/** Where Debian's containernetworking-plugins put bridge, host-local, portmap, loopback. */
export const CNI_BIN_DIR = "/usr/lib/cni";
/** Reference of the sandbox image every node imports and pins (never pulled). */
export const PAUSE_IMAGE = "kubevisor.local/pause:v1";
/** Hard-coded in the kubelet's device manager; each node binds its own dir over it. */
export const DEVICE_PLUGINS_DIR = "/var/lib/kubelet/device-plugins";
/** Sysctls the kubelet sets on the host (kernel-wide, not per network namespace). */
export const KUBELET_KERNEL_SYSCTLS = [
  "vm/overcommit_memory",
  "vm/panic_on_oom",
  "kernel/panic",
  "kernel/panic_on_oops",
  "kernel/keys/root_maxkeys",
  "kernel/keys/root_maxbytes",
] as const;

export const DEFAULT_REAL_NODE_NAMES = ["kubevisor-node-1", "kubevisor-node-2"] as const;

/** Linux interface names are at most 15 bytes. */
export function hostVethName(cluster: string): string {
  return `kvh-${cluster}`.slice(0, 15);
}

/** containerd limits the shim socket dir to 42 bytes, so it cannot live in the state dir. */
export const SHIM_SOCKET_BASE = "/run/kubevisor";
export function shimSocketDir(cluster: string, index: number): string {
  const dir = `${SHIM_SOCKET_BASE}/${cluster}/${index}`;
  if (dir.length > 42) throw new Error(`cluster name ${cluster} is too long for real nodes`);
  return dir;
}

export interface RealNodePlan {
  index: number;
  name: string;
  /** The bridge's address: node InternalIP, kubelet's listen address, pods' gateway. */
  ip: string;
  podCidr: string;
  bridge: string;
  /** Short on purpose: unix socket paths are limited to 108 bytes. */
  dir: string;
  containerdConfig: string;
  containerdRoot: string;
  containerdState: string;
  containerdSocket: string;
  shimSocketDir: string;
  cniConfDir: string;
  cniDataDir: string;
  kubeletRoot: string;
  kubeletConfig: string;
  kubeletKubeconfig: string;
  certDir: string;
  podLogsDir: string;
  devicePluginsDir: string;
  resolvConf: string;
  /** cgroup path (same under every v1 hierarchy) the node's pods go under. */
  cgroupRoot: string;
  script: string;
  log: string;
  pidFile: string;
}

export function realNodePlan(
  clusterDir: string,
  cluster: string,
  index: number,
  name: string,
): RealNodePlan {
  const dir = join(clusterDir, "rn", String(index));
  const ctd = join(dir, "ctd");
  return {
    index,
    name,
    ip: `10.244.${index}.1`,
    podCidr: `10.244.${index}.0/24`,
    bridge: `kvbr${index}`,
    dir,
    containerdConfig: join(ctd, "config.toml"),
    containerdRoot: join(ctd, "root"),
    containerdState: join(ctd, "state"),
    containerdSocket: join(ctd, "sock"),
    shimSocketDir: shimSocketDir(cluster, index),
    cniConfDir: join(dir, "cni", "net.d"),
    cniDataDir: join(dir, "cni", "data"),
    kubeletRoot: join(dir, "kubelet"),
    kubeletConfig: join(dir, "kubelet.yaml"),
    kubeletKubeconfig: join(dir, "kubelet.kubeconfig"),
    certDir: join(dir, "pki"),
    podLogsDir: join(dir, "pods"),
    devicePluginsDir: join(dir, "device-plugins"),
    resolvConf: join(dir, "resolv.conf"),
    cgroupRoot: `/kubevisor-${cluster}/${index}`,
    script: join(dir, "run.sh"),
    log: join(dir, "node.log"),
    pidFile: join(dir, "node.pid"),
  };
}

export function realClusterPlan(clusterDir: string, cluster: string, names: readonly string[]) {
  const dir = join(clusterDir, "rn");
  return {
    cluster,
    dir,
    hostVeth: hostVethName(cluster),
    /** The process holding the network namespace. */
    netnsPidFile: join(dir, "netns.pid"),
    netnsLog: join(dir, "netns.log"),
    /** The namespace's identity (`net:[inode]`), so down finds its processes without the holder. */
    netnsIdFile: join(dir, "netns.id"),
    /** Host facts saved at the first up and put back at down. */
    hostStateFile: join(dir, "host.json"),
    kubeProxyConfig: join(dir, "kube-proxy.yaml"),
    kubeProxyKubeconfig: join(dir, "kube-proxy.kubeconfig"),
    kubeProxyLog: join(dir, "kube-proxy.log"),
    kubeProxyPidFile: join(dir, "kube-proxy.pid"),
    cgroupParent: `/kubevisor-${cluster}`,
    nodes: names.map((n, i) => realNodePlan(clusterDir, cluster, i, n)),
  };
}
export type RealClusterPlan = ReturnType<typeof realClusterPlan>;
