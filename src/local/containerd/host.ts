import {
  copyFileSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmdirSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { $ } from "dax-sh";
import { z } from "zod";
import { mentionsDir, scanProcesses } from "../process.js";
import { inNetns, netnsOf, recordedNetns } from "./netns.js";
import {
  DEVICE_PLUGINS_DIR,
  KUBELET_KERNEL_SYSCTLS,
  type RealClusterPlan,
  TRANSIT_NS_IP,
  UPLINK,
} from "./plan.js";

/**
 * What real nodes change on the host outside their network namespace, and how `local down`
 * puts it back: kernel-wide sysctls the kubelet sets, cgroup directories, the device-plugin
 * mount point, and every process (daemons, shims, pods).
 */

const CGROUP_ROOT = "/sys/fs/cgroup";

export const HostState = z.object({
  sysctls: z.record(z.string(), z.string()),
  /** Directories on the host we created (deepest last) and remove again at down. */
  createdDirs: z.array(z.string()),
});
export type HostState = z.infer<typeof HostState>;

export function readSysctl(key: string): string {
  return readFileSync(join("/proc/sys", key), "utf8").trim();
}

/** Saved once, at the first up after a clean host, so repeated ups keep the true originals. */
export function saveHostState(plan: RealClusterPlan): HostState {
  if (existsSync(plan.hostStateFile)) {
    return HostState.parse(JSON.parse(readFileSync(plan.hostStateFile, "utf8")));
  }
  const created: string[] = [];
  let dir = "";
  for (const part of DEVICE_PLUGINS_DIR.split("/").filter(Boolean)) {
    dir += `/${part}`;
    if (!existsSync(dir)) created.push(dir);
  }
  const state: HostState = {
    sysctls: Object.fromEntries(KUBELET_KERNEL_SYSCTLS.map((k) => [k, readSysctl(k)])),
    createdDirs: created,
  };
  mkdirSync(plan.dir, { recursive: true });
  writeFileSync(plan.hostStateFile, `${JSON.stringify(state, null, 2)}\n`);
  mkdirSync(DEVICE_PLUGINS_DIR, { recursive: true });
  return state;
}

export function restoreHostState(plan: RealClusterPlan): void {
  if (!existsSync(plan.hostStateFile)) return;
  const state = HostState.parse(JSON.parse(readFileSync(plan.hostStateFile, "utf8")));
  for (const [k, v] of Object.entries(state.sysctls)) {
    if (readSysctl(k) !== v) writeFileSync(join("/proc/sys", k), v);
  }
  for (const dir of [...state.createdDirs].reverse()) {
    try {
      rmdirSync(dir);
    } catch {
      // Not empty: someone else put something there since; leave it.
    }
  }
}

/** cgroup v1 hierarchies (one directory per mounted controller set) plus the unified one. */
export function cgroupHierarchies(): string[] {
  return readdirSync(CGROUP_ROOT)
    .map((d) => join(CGROUP_ROOT, d))
    .filter((d) => existsSync(join(d, "cgroup.procs")));
}

/**
 * Creates `<hierarchy><path>` on every hierarchy. cpuset children start with no CPUs and
 * no memory nodes; each level copies its parent's, or no process could join.
 */
export function ensureCgroup(path: string): void {
  for (const h of cgroupHierarchies()) {
    let dir = h;
    for (const part of path.split("/").filter(Boolean)) {
      const parent = dir;
      dir = join(dir, part);
      if (!existsSync(dir)) mkdirSync(dir);
      for (const f of ["cpuset.cpus", "cpuset.mems"]) {
        const mine = join(dir, f);
        if (existsSync(mine) && readFileSync(mine, "utf8").trim() === "") {
          copyFileSync(join(parent, f), mine);
        }
      }
    }
  }
}

/** Removes `<hierarchy><path>` and everything below, deepest first, on every hierarchy. */
export function removeCgroup(path: string): string[] {
  const left: string[] = [];
  const rm = (dir: string) => {
    for (const e of readdirSync(dir)) {
      const sub = join(dir, e);
      if (statSync(sub).isDirectory()) rm(sub);
    }
    try {
      rmdirSync(dir);
    } catch {
      left.push(dir);
    }
  };
  for (const h of cgroupHierarchies()) {
    const dir = join(h, path);
    if (existsSync(dir)) rm(dir);
  }
  return left;
}

/** Pids whose cgroup (any hierarchy) is under `path`. */
function pidsInCgroup(path: string): number[] {
  const found: number[] = [];
  const prefix = `${path}/`;
  for (const e of readdirSync("/proc")) {
    if (!/^\d+$/.test(e)) continue;
    try {
      const cg = readFileSync(`/proc/${e}/cgroup`, "utf8");
      if (cg.split("\n").some((l) => `${l.split(":")[2] ?? ""}/`.startsWith(prefix))) {
        found.push(Number(e));
      }
    } catch {
      // exited
    }
  }
  return found;
}

async function isOurNetns(ns: string): Promise<boolean> {
  const pid = pidsInNetns(ns)[0];
  if (pid === undefined) return false;
  const r = await $`nsenter ${inNetns(pid, ["ip", "-o", "addr", "show", "dev", UPLINK])}`
    .quiet()
    .noThrow()
    .stdout("piped");
  return r.code === 0 && r.stdout.includes(` ${TRANSIT_NS_IP}/`);
}

function pidsInNetns(ns: string): number[] {
  return readdirSync("/proc")
    .filter((e) => /^\d+$/.test(e))
    .map(Number)
    .filter((pid) => pid !== process.pid && netnsOf(pid) === ns);
}

/**
 * Every process of the cluster's nodes: in its network namespace (daemons, shims, the holder)
 * or in its cgroups (containers, which have network namespaces of their own). Pods first
 * (SIGTERM, then SIGKILL after `graceMs`), then the rest; the holder last, which ends the
 * namespace and with it the veth, the bridges, the iptables rules and its sysctls.
 */
export async function killClusterProcesses(
  plan: RealClusterPlan,
  holder: number | undefined,
  graceMs = 5_000,
): Promise<number> {
  // Recorded at creation: still names the namespace if the holder died and something else
  // (its `sleep` child, a daemon) keeps it alive. An inode can be reused once a namespace is
  // gone, so a recorded one counts only if it still has our uplink address.
  const recorded = recordedNetns(plan);
  const ns =
    holder !== undefined
      ? netnsOf(holder)
      : recorded && (await isOurNetns(recorded))
        ? recorded
        : undefined;
  const find = () => {
    const s = new Set(pidsInCgroup(plan.cgroupParent));
    if (ns) for (const p of pidsInNetns(ns)) s.add(p);
    // Daemons and shims name the state dir in their arguments: found even if the holder
    // (and with it the way to name the namespace) is already gone.
    for (const p of scanProcesses((args) => mentionsDir(args, plan.dir))) s.add(p);
    s.delete(process.pid);
    if (holder !== undefined) s.delete(holder);
    return [...s];
  };
  const signal = (pids: number[], sig: NodeJS.Signals) => {
    for (const p of pids) {
      try {
        process.kill(p, sig);
      } catch {
        // gone
      }
    }
  };
  const first = find();
  let total = first.length;
  signal(first, "SIGTERM");
  const deadline = Date.now() + graceMs;
  while (find().length > 0 && Date.now() < deadline) await sleep(100);
  for (let i = 0; ; i++) {
    const left = find();
    if (left.length === 0) break;
    if (i > 100) throw new Error(`processes of the real nodes survived SIGKILL: ${left}`);
    signal(left, "SIGKILL");
    await sleep(100);
  }
  if (holder !== undefined) {
    signal([holder], "SIGKILL");
    for (let i = 0; netnsOf(holder) !== undefined; i++) {
      if (i > 100) throw new Error(`network namespace holder ${holder} survived SIGKILL`);
      await sleep(50);
    }
    total++;
  }
  return total;
}
