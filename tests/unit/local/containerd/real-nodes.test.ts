import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  cniConfig,
  containerdConfig,
  kubeletArgs,
  kubeletConfig,
  kubeProxyConfig,
} from "../../../../src/local/containerd/configs.js";
import { imageConfig, index, manifest, sha256 } from "../../../../src/local/containerd/oci.js";
import {
  DEFAULT_REAL_NODE_NAMES,
  hostVethName,
  realClusterPlan,
  shimSocketDir,
  TRANSIT_HOST_IP,
} from "../../../../src/local/containerd/plan.js";
import { apiserverArgs, type Ports } from "../../../../src/local/flags.js";
import { clusterLayout } from "../../../../src/local/layout.js";
import { parseRuntime } from "../../../../src/local/runtime.js";
import { ClusterState } from "../../../../src/local/state.js";

const plan = realClusterPlan("/state/c", "real", DEFAULT_REAL_NODE_NAMES);
const [n0, n1] = plan.nodes;
if (!n0 || !n1) throw new Error("two nodes expected");

describe("real-node plan", () => {
  it("gives each node its own address, CIDR, bridge, dirs, sockets and cgroup", () => {
    expect([n0.ip, n1.ip]).toEqual(["10.244.0.1", "10.244.1.1"]);
    expect([n0.podCidr, n1.podCidr]).toEqual(["10.244.0.0/24", "10.244.1.0/24"]);
    const keys = [
      "bridge",
      "containerdRoot",
      "containerdSocket",
      "shimSocketDir",
      "kubeletRoot",
      "certDir",
      "podLogsDir",
      "devicePluginsDir",
      "cgroupRoot",
      "cniDataDir",
    ] as const;
    for (const key of keys) expect(n0[key]).not.toBe(n1[key]);
  });

  it("keeps names within kernel and containerd limits", () => {
    expect(hostVethName("a-very-long-cluster-name").length).toBeLessThanOrEqual(15);
    expect(() => shimSocketDir("x".repeat(40), 0)).toThrow(/too long/);
    expect(shimSocketDir("real", 1)).toBe("/run/kubevisor/real/1");
  });
});

describe("real-node configs", () => {
  it("containerd: per-node paths, NRI off, OOM restriction, pinned local pause", () => {
    const c = containerdConfig(n0);
    expect(c).toContain(`address = "${n0.containerdSocket}"`);
    expect(c).toContain(`socket_dir = "${n0.shimSocketDir}"`);
    expect(c).toContain('disabled_plugins = ["io.containerd.nri.v1.nri"]');
    expect(c).toContain("restrict_oom_score_adj = true");
    expect(c).toContain("netns_mounts_under_state_dir = true");
    expect(c).toContain("device_ownership_from_security_context = true");
    expect(c).toMatch(/sandbox = "kubevisor\.local\/pause:v1"/);
  });

  it("CNI: the node's bridge and CIDR, no masquerade", () => {
    const c = JSON.parse(cniConfig(n1));
    expect(c.plugins[0]).toMatchObject({ type: "bridge", bridge: "kvbr1", ipMasq: false });
    expect(c.plugins[0].ipam.ranges[0][0]).toEqual({
      subnet: "10.244.1.0/24",
      gateway: "10.244.1.1",
    });
  });

  it("kubelet: binds only its node IP, webhook authn/authz, no anonymous, no host DNS", () => {
    const c = parse(
      kubeletConfig({ node: n0, caFile: "/ca", tlsCertFile: "/c", tlsKeyFile: "/k" }),
    );
    expect(c).toMatchObject({
      address: "10.244.0.1",
      healthzBindAddress: "10.244.0.1",
      readOnlyPort: 0,
      authentication: { anonymous: { enabled: false }, webhook: { enabled: true } },
      authorization: { mode: "Webhook" },
      failCgroupV1: false,
      cgroupDriver: "cgroupfs",
      cgroupRoot: n0.cgroupRoot,
      podLogsDir: n0.podLogsDir,
      resolvConf: n0.resolvConf,
    });
    expect(kubeletArgs(n0, "/cfg")).toContain(`--root-dir=${n0.kubeletRoot}`);
    expect(kubeletArgs(n0, "/cfg")).toContain(`--cert-dir=${n0.certDir}`);
  });

  it("kube-proxy: iptables, leaves host-wide conntrack settings alone", () => {
    const c = parse(kubeProxyConfig("/kc", n0.name));
    expect(c.mode).toBe("iptables");
    expect(c.conntrack).toMatchObject({ maxPerCore: 0, min: 0 });
  });

  it("apiserver for real nodes: veth address, InternalIP only, kubelet client cert and CA", () => {
    const ports: Ports = {
      etcdClient: 1,
      etcdPeer: 2,
      apiserver: 3,
      controllerManager: 4,
      scheduler: 5,
    };
    const l = clusterLayout("/state/c");
    const args = apiserverArgs(l, ports, { address: TRANSIT_HOST_IP, realNodes: true });
    expect(args).toContain(`--bind-address=${TRANSIT_HOST_IP}`);
    expect(args).toContain(`--advertise-address=${TRANSIT_HOST_IP}`);
    expect(args).toContain("--kubelet-preferred-address-types=InternalIP");
    expect(args).toContain(`--kubelet-certificate-authority=${l.pki.caCert}`);
    const loop = apiserverArgs(l, ports);
    expect(loop).toContain("--bind-address=127.0.0.1");
    expect(loop.some((a) => a.startsWith("--kubelet-"))).toBe(false);
  });
});

describe("OCI archive parts", () => {
  it("names the image for ctr import and chains digests", () => {
    const layer = { mediaType: "l", digest: sha256("layer"), size: 5 };
    const cfg = imageConfig(layer.digest, { entrypoint: ["/pause"] });
    expect(JSON.parse(cfg).rootfs.diff_ids).toEqual([layer.digest]);
    const m = manifest({ mediaType: "c", digest: sha256(cfg), size: cfg.length }, layer);
    const idx = JSON.parse(index({ mediaType: "m", digest: sha256(m), size: m.length }, "a/b:v1"));
    expect(idx.manifests[0].annotations["io.containerd.image.name"]).toBe("a/b:v1");
    expect(idx.manifests[0].annotations["org.opencontainers.image.ref.name"]).toBe("v1");
  });
});

describe("--runtime", () => {
  it("defaults to local and refuses unknown values naming the flag", () => {
    expect(parseRuntime(undefined)).toBe("local");
    expect(parseRuntime("containerd")).toBe("containerd");
    expect(() => parseRuntime("docker")).toThrow(/--runtime must be one of local, containerd/);
  });
});

describe("cluster state", () => {
  it("reads a state file written before runtimes existed as a stand-in cluster on loopback", () => {
    const old = {
      name: "default",
      ports: { etcdClient: 1, etcdPeer: 2, apiserver: 3, controllerManager: 4, scheduler: 5 },
      kubernetesVersion: "v1.36.3",
      etcdVersion: "v3.6.16",
      createdAt: "2026-11-29T00:00:00Z",
    };
    expect(ClusterState.parse(old)).toMatchObject({
      runtime: "local",
      apiserverAddress: "127.0.0.1",
    });
  });
});
