import { readFileSync, readlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { $ } from "dax-sh";
import { ownedPid, spawnDaemon } from "../process.js";
import {
  CLUSTER_POD_CIDR,
  type RealClusterPlan,
  TRANSIT_HOST_IP,
  TRANSIT_NS_IP,
  TRANSIT_PREFIX,
  UPLINK,
} from "./plan.js";

/**
 * The real-node cluster's network namespace: held open by one process (no `ip netns add`, which
 * would leave a /run/netns mount on the host), linked to the host by one veth pair. Everything
 * created inside disappears with the namespace when its last process ends.
 */

export function netnsOf(pid: number | "self"): string | undefined {
  try {
    return readlinkSync(`/proc/${pid}/ns/net`);
  } catch {
    return undefined;
  }
}

/** Arguments that run `cmd` inside the namespace held by `holder`. */
export function inNetns(holder: number, cmd: readonly string[]): string[] {
  return [`--net=/proc/${holder}/ns/net`, "--", ...cmd];
}

/** The namespace's `net:[inode]` as recorded at creation, if it was ever created. */
export function recordedNetns(plan: RealClusterPlan): string | undefined {
  try {
    return readFileSync(plan.netnsIdFile, "utf8").trim() || undefined;
  } catch {
    return undefined;
  }
}

export function holderPid(plan: RealClusterPlan): number | undefined {
  return ownedPid(plan.netnsPidFile, plan.dir);
}

async function nsRun(holder: number, cmd: string[]): Promise<void> {
  await $`nsenter ${inNetns(holder, cmd)}`.quiet();
}

async function linkExists(name: string, holder?: number): Promise<boolean> {
  const cmd = ["ip", "link", "show", "dev", name];
  const r =
    holder === undefined
      ? await $`${cmd}`.quiet().noThrow()
      : await $`nsenter ${inNetns(holder, cmd)}`.quiet().noThrow();
  return r.code === 0;
}

/**
 * Creates (or finds) the namespace, the veth pair, the node bridges and the host route. Returns
 * the holder's pid; `/proc/<pid>/ns/net` is the namespace.
 */
export async function ensureNetwork(plan: RealClusterPlan): Promise<number> {
  let holder = holderPid(plan);
  if (holder === undefined) {
    // flock's argument names our state dir, which is how ownedPid tells it from a reused pid.
    holder = spawnDaemon({
      bin: "unshare",
      args: ["--net", "--", "flock", join(plan.dir, "netns.lock"), "sleep", "infinity"],
      logFile: plan.netnsLog,
      pidFile: plan.netnsPidFile,
    });
    const own = netnsOf("self");
    for (let i = 0; netnsOf(holder) === own || netnsOf(holder) === undefined; i++) {
      if (i > 200) throw new Error("the network namespace holder did not start");
      await sleep(10);
    }
    writeFileSync(plan.netnsIdFile, `${netnsOf(holder)}\n`);
  }
  if (!(await linkExists(plan.hostVeth))) {
    await $`ip link add ${plan.hostVeth} type veth peer name ${UPLINK} netns ${String(holder)}`.quiet();
    await $`ip addr add ${`${TRANSIT_HOST_IP}/${TRANSIT_PREFIX}`} dev ${plan.hostVeth}`.quiet();
    await $`ip link set ${plan.hostVeth} up`.quiet();
    // The apiserver (on the host) dials kubelets and pods (aggregated API) by their IPs.
    await $`ip route add ${CLUSTER_POD_CIDR} via ${TRANSIT_NS_IP} dev ${plan.hostVeth}`.quiet();
    await nsRun(holder, ["ip", "link", "set", "lo", "up"]);
    await nsRun(holder, ["ip", "addr", "add", `${TRANSIT_NS_IP}/${TRANSIT_PREFIX}`, "dev", UPLINK]);
    await nsRun(holder, ["ip", "link", "set", UPLINK, "up"]);
    // Deliberately no default route in the namespace: nothing can be routed off the machine.
  }
  for (const n of plan.nodes) {
    if (await linkExists(n.bridge, holder)) continue;
    // Created here (not by the CNI plugin at the first pod) so the kubelet can bind its
    // node IP, the bridge's address, before any pod exists.
    await nsRun(holder, ["ip", "link", "add", n.bridge, "type", "bridge"]);
    await nsRun(holder, ["ip", "addr", "add", `${n.ip}/24`, "dev", n.bridge]);
    await nsRun(holder, ["ip", "link", "set", n.bridge, "up"]);
  }
  // Pods on one bridge reach the other bridge and the uplink through the namespace.
  await nsRun(holder, ["sysctl", "-q", "-w", "net.ipv4.ip_forward=1"]);
  return holder;
}
