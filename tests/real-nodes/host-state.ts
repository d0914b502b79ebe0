import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { $ } from "dax-sh";
import { readSysctl } from "../../src/local/containerd/host.js";
import { KUBELET_KERNEL_SYSCTLS } from "../../src/local/containerd/plan.js";

/**
 * What real nodes could leave behind on the host, captured before `up` and after `down`.
 * Processes and mounts are narrowed to ours (other work runs on this machine at the same
 * time); links, routes, iptables and sysctls are compared whole.
 */
export interface HostSnapshot {
  processes: string[];
  mounts: string[];
  links: string[];
  routes: string;
  iptables: string;
  sysctls: Record<string, string>;
  cgroups: string[];
  dirs: string[];
}

const OURS = /kubelet|containerd|kube-proxy|\/rn\/\d|kubevisor\/|kvh-|kvbr/;

export async function snapshotHost(clusterDir: string): Promise<HostSnapshot> {
  const processes: string[] = [];
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cmd = readFileSync(`/proc/${e}/cmdline`, "utf8").split("\0").join(" ");
      if (
        cmd.includes(clusterDir) ||
        /\b(kubelet|containerd|containerd-shim-runc-v2|kube-proxy)\b/.test(cmd)
      ) {
        processes.push(cmd.trim());
      }
    } catch {
      // exited
    }
  }
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter(
      (l) => l.includes(clusterDir) || /\/var\/lib\/kubelet|\/run\/kubevisor|\/run\/netns/.test(l),
    )
    .map((l) => l.split(" ").slice(4).join(" "));
  const links = (await $`ip -o link show`.text())
    .split("\n")
    .filter(Boolean)
    .map((l) => l.split(":")[1]?.trim() ?? "")
    .sort();
  const cgroups: string[] = [];
  for (const h of readdirSync("/sys/fs/cgroup")) {
    const d = join("/sys/fs/cgroup", h);
    if (!existsSync(d)) continue;
    for (const e of readdirSync(d)) if (e.startsWith("kubevisor-")) cgroups.push(join(d, e));
  }
  return {
    processes: processes.filter((p) => OURS.test(p)).sort(),
    mounts,
    links,
    routes: await $`ip route show`.text(),
    iptables: (await $`iptables-save`.text()).replace(/^#.*$/gm, ""),
    sysctls: Object.fromEntries(
      [...KUBELET_KERNEL_SYSCTLS, "net/ipv4/ip_forward"].map((k) => [k, readSysctl(k)]),
    ),
    cgroups: cgroups.sort(),
    dirs: ["/var/lib/kubelet", "/run/kubevisor", "/run/containerd", "/run/netns"].filter((d) =>
      existsSync(d),
    ),
  };
}
