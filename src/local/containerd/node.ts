import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { binDir, component } from "../build/targets.js";
import type { CertSpec } from "../certs.js";
import { readPem } from "../certs.js";
import { renderKubeconfig } from "../kubeconfig.js";
import type { ClusterLayout } from "../layout.js";
import { ownedPid, spawnDaemon } from "../process.js";
import {
  cniConfig,
  containerdConfig,
  kubeletArgs,
  kubeletConfig,
  kubeProxyConfig,
} from "./configs.js";
import { inNetns } from "./netns.js";
import { DEVICE_PLUGINS_DIR, type RealClusterPlan, type RealNodePlan } from "./plan.js";

/**
 * Files and processes of one real node: containerd and the kubelet share a mount namespace
 * of their own (slave of the host's: mounts they make — volumes, rootfs, pod netns — never
 * reach the host and vanish with them) inside the cluster's network namespace.
 */

export function nodeCertSpecs(plan: RealClusterPlan): CertSpec[] {
  return [
    ...plan.nodes.map(
      (n): CertSpec => ({
        // One certificate for both jobs: the kubelet's client identity (the Node authorizer
        // knows it by this CN/O) and its serving certificate (the apiserver verifies the IP).
        name: `node-${n.name}`,
        cn: `system:node:${n.name}`,
        o: "system:nodes",
        signer: "ca",
        server: true,
        client: true,
        ips: [n.ip],
      }),
    ),
    // RBAC's bootstrap binding system:node-proxier names this user.
    { name: "kube-proxy", cn: "system:kube-proxy", signer: "ca", server: false, client: true },
  ];
}

/**
 * Writes only what changed: kube-proxy exits when its config file is written to, even with
 * the same content, so a second `up` must leave a running node's files alone.
 */
function write(path: string, text: string, mode = 0o644): void {
  if (existsSync(path) && readFileSync(path, "utf8") === text) return;
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, text, { mode });
}

function kubeconfigFor(l: ClusterLayout, server: string, cert: string, user: string): string {
  return renderKubeconfig({
    name: "kubevisor",
    server,
    caPem: readPem(l.pki.caCert),
    certPem: readPem(l.pki.cert(cert)),
    keyPem: readPem(l.pki.key(cert)),
    user,
  });
}

/** The node's start script: run inside its own mount namespace (see startNode). */
export function nodeScript(n: RealNodePlan): string {
  const path = [
    binDir(component("containerd")),
    binDir(component("runc")),
    "/usr/sbin",
    "/usr/bin",
    "/sbin",
    "/bin",
  ];
  const kubelet = `${binDir(component("kubernetes-node"))}/kubelet`;
  const sh = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  return `#!/bin/sh
set -eu
# Our containerd-shim-runc-v2 and runc first: an older Debian shim must never be picked.
export PATH=${sh(path.join(":"))}
# The device-plugin socket dir is hard-coded in the kubelet; each node binds its own there.
mount --bind ${sh(n.devicePluginsDir)} ${sh(DEVICE_PLUGINS_DIR)}
# rshared, so volume mounts the kubelet makes under its root reach containerd's view.
mount --bind ${sh(n.kubeletRoot)} ${sh(n.kubeletRoot)}
mount --make-rshared ${sh(n.kubeletRoot)}
containerd --config ${sh(n.containerdConfig)} &
i=0
while [ ! -S ${sh(n.containerdSocket)} ]; do
  i=$((i+1)); [ $i -gt 300 ] && { echo "containerd did not create its socket" >&2; exit 1; }
  sleep 0.1
done
exec ${sh(kubelet)} ${kubeletArgs(n, n.kubeletConfig).map(sh).join(" ")}
`;
}

export function writeNodeFiles(l: ClusterLayout, server: string, n: RealNodePlan): void {
  for (const d of [
    n.containerdRoot,
    n.containerdState,
    n.shimSocketDir,
    n.cniDataDir,
    n.kubeletRoot,
    n.certDir,
    n.podLogsDir,
    n.devicePluginsDir,
  ]) {
    mkdirSync(d, { recursive: true });
  }
  write(n.containerdConfig, containerdConfig(n));
  write(`${n.cniConfDir}/10-kubevisor.conflist`, cniConfig(n));
  write(n.resolvConf, "# no DNS: nothing may leave the machine\n");
  write(
    n.kubeletConfig,
    kubeletConfig({
      node: n,
      caFile: l.pki.caCert,
      tlsCertFile: l.pki.cert(`node-${n.name}`),
      tlsKeyFile: l.pki.key(`node-${n.name}`),
    }),
  );
  write(
    n.kubeletKubeconfig,
    kubeconfigFor(l, server, `node-${n.name}`, `system:node:${n.name}`),
    0o600,
  );
  write(n.script, nodeScript(n), 0o755);
}

export function writeKubeProxyFiles(l: ClusterLayout, server: string, plan: RealClusterPlan): void {
  write(
    plan.kubeProxyKubeconfig,
    kubeconfigFor(l, server, "kube-proxy", "system:kube-proxy"),
    0o600,
  );
  const first = plan.nodes[0];
  if (!first) throw new Error("a real-node cluster needs at least one node");
  write(plan.kubeProxyConfig, kubeProxyConfig(plan.kubeProxyKubeconfig, first.name));
}

export function nodePid(n: RealNodePlan): number | undefined {
  return ownedPid(n.pidFile, n.dir);
}

export function startNode(holder: number, n: RealNodePlan): number {
  return (
    nodePid(n) ??
    spawnDaemon({
      bin: "nsenter",
      args: inNetns(holder, [
        "unshare",
        "--mount",
        "--propagation",
        "slave",
        "--",
        "/bin/sh",
        n.script,
      ]),
      logFile: n.log,
      pidFile: n.pidFile,
    })
  );
}

export function kubeProxyPid(plan: RealClusterPlan): number | undefined {
  return ownedPid(plan.kubeProxyPidFile, plan.dir);
}

/** One kube-proxy for the whole namespace: two would fight over the same iptables chains. */
export function startKubeProxy(holder: number, plan: RealClusterPlan): number {
  return (
    kubeProxyPid(plan) ??
    spawnDaemon({
      bin: "nsenter",
      args: inNetns(holder, [
        `${binDir(component("kubernetes-node"))}/kube-proxy`,
        `--config=${plan.kubeProxyConfig}`,
      ]),
      logFile: plan.kubeProxyLog,
      pidFile: plan.kubeProxyPidFile,
    })
  );
}
