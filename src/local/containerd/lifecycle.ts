import { existsSync, mkdirSync, readdirSync, rmdirSync, rmSync } from "node:fs";
import { basename } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { $ } from "dax-sh";
import { logger } from "../../util/log.js";
import { ensureBinaries } from "../build/build.js";
import { REAL_NODE_COMPONENTS } from "../build/targets.js";
import { ensurePki } from "../certs.js";
import { clusterLayout } from "../layout.js";
import { removeFile, tailFile } from "../process.js";
import { formatDuration, type Progress, silentProgress } from "../progress.js";
import {
  ensureCgroup,
  killClusterProcesses,
  removeCgroup,
  restoreHostState,
  saveHostState,
} from "./host.js";
import { importArchive, pauseArchive } from "./images.js";
import { ensureNetwork, holderPid } from "./netns.js";
import {
  nodeCertSpecs,
  nodePid,
  startKubeProxy,
  startNode,
  writeKubeProxyFiles,
  writeNodeFiles,
} from "./node.js";
import {
  DEFAULT_REAL_NODE_NAMES,
  type RealClusterPlan,
  realClusterPlan,
  SHIM_SOCKET_BASE,
  TRANSIT_HOST_IP,
} from "./plan.js";

/**
 * Real nodes of a local cluster: `prepareRealNetwork` before the control plane starts (the
 * apiserver binds the veth's host address), `startRealNodes` after, `stopRealNodes` at down.
 */

const log = logger("real-nodes");

export interface RealNodesRef {
  cluster: string;
  clusterDir: string;
}

export function planFor(ref: RealNodesRef): RealClusterPlan {
  return realClusterPlan(ref.clusterDir, ref.cluster, DEFAULT_REAL_NODE_NAMES);
}

/** The apiserver address real nodes need (the host end of the cluster's veth). */
export const REAL_NODES_NETWORK = { address: TRANSIT_HOST_IP, realNodes: true } as const;

/** Builds the node binaries if missing, saves host facts, creates the network namespace. */
export async function prepareRealNetwork(ref: RealNodesRef, progress: Progress): Promise<void> {
  if (process.getuid?.() !== 0) {
    throw new Error(
      "--runtime containerd needs root (a network namespace, cgroups and mounts); " +
        "use the default --runtime local otherwise",
    );
  }
  await ensureBinaries({ components: REAL_NODE_COMPONENTS, progress });
  const plan = planFor(ref);
  const other = otherRealCluster(ref);
  if (other) {
    throw new Error(
      `real nodes of cluster ${other} are running; one real-node cluster at a time ` +
        `(they share ${TRANSIT_HOST_IP}): kubevisor local down --name ${other}`,
    );
  }
  saveHostState(plan);
  await ensureNetwork(plan);
}

/** Another cluster's host veth (`kvh-*`) with our transit address: one real cluster at a time. */
function otherRealCluster(ref: RealNodesRef): string | undefined {
  const mine = planFor(ref).hostVeth;
  const links = readdirSync("/sys/class/net").filter((l) => l.startsWith("kvh-") && l !== mine);
  return links[0]?.slice("kvh-".length);
}

export interface StartRealNodesOptions extends RealNodesRef {
  progress?: Progress;
  timeoutMs?: number;
  /** Extra archives to import into every node (e.g. the product image). */
  archives?: readonly string[];
}

export async function startRealNodes(opts: StartRealNodesOptions): Promise<string[]> {
  const progress = opts.progress ?? silentProgress;
  const plan = planFor(opts);
  const l = clusterLayout(opts.clusterDir);
  const holder = holderPid(plan);
  if (holder === undefined) throw new Error("the real nodes' network namespace is not up");
  const server = `https://${TRANSIT_HOST_IP}:${await apiserverPort(l.kubeconfig)}`;
  await ensurePki(l, { apiserverIps: [TRANSIT_HOST_IP], extra: nodeCertSpecs(plan) });
  const pause = await pauseArchive(plan.dir);
  const started = Date.now();
  progress.step(`starting real nodes ${plan.nodes.map((n) => n.name).join(", ")}`);
  for (const n of plan.nodes) {
    ensureCgroup(n.cgroupRoot);
    mkdirSync(n.shimSocketDir, { recursive: true });
    writeNodeFiles(l, server, n);
    startNode(holder, n);
  }
  writeKubeProxyFiles(l, server, plan);
  startKubeProxy(holder, plan);
  // Nodes import side by side: the product image (~700 MB) takes ~20 s per node.
  await Promise.all(
    plan.nodes.map(async (n) => {
      await waitFor(
        `${n.name}: containerd socket`,
        opts.timeoutMs,
        () => existsSync(n.containerdSocket),
        n.log,
      );
      await importArchive(n, pause);
      for (const a of opts.archives ?? []) {
        progress.update(`${n.name}: importing ${basename(a)}`);
        await importArchive(n, a);
      }
      if (nodePid(n) === undefined) throw new Error(`node ${n.name} exited:\n${tailFile(n.log)}`);
    }),
  );
  await waitNodesReady(l.kubeconfig, plan, progress, opts.timeoutMs ?? 180_000);
  progress.done(`real nodes Ready in ${formatDuration(Date.now() - started)}`);
  return plan.nodes.map((n) => n.name);
}

async function apiserverPort(kubeconfig: string): Promise<string> {
  const server =
    await $`kubectl config view --minify -o ${"jsonpath={.clusters[0].cluster.server}"}`
      .env({ KUBECONFIG: kubeconfig })
      .text();
  const port = /:(\d+)$/.exec(server.trim())?.[1];
  if (!port) throw new Error(`no apiserver port in ${kubeconfig}: ${server}`);
  return port;
}

async function waitFor(what: string, timeoutMs = 60_000, ok: () => boolean, logFile?: string) {
  const deadline = Date.now() + timeoutMs;
  while (!ok()) {
    if (Date.now() > deadline) {
      throw new Error(
        `${what}: not ready after ${formatDuration(timeoutMs)}${logFile ? `\n${tailFile(logFile)}` : ""}`,
      );
    }
    await sleep(100);
  }
}

async function waitNodesReady(
  kubeconfig: string,
  plan: RealClusterPlan,
  progress: Progress,
  timeoutMs: number,
) {
  const deadline = Date.now() + timeoutMs;
  const jsonpath = `{range .items[*]}{.metadata.name}={.status.conditions[?(@.type=="Ready")].status}{"\\n"}{end}`;
  for (;;) {
    const out = await $`kubectl get nodes -o ${`jsonpath=${jsonpath}`}`
      .env({ KUBECONFIG: kubeconfig })
      .noThrow()
      .text();
    const ready = new Set(
      out
        .split("\n")
        .filter((l) => l.endsWith("=True"))
        .map((l) => l.split("=")[0]),
    );
    const waiting = plan.nodes.filter((n) => !ready.has(n.name));
    if (waiting.length === 0) return;
    for (const n of waiting) {
      if (nodePid(n) === undefined) throw new Error(`node ${n.name} exited:\n${tailFile(n.log)}`);
    }
    if (Date.now() > deadline) {
      const n = waiting[0];
      throw new Error(
        `nodes not Ready: ${waiting.map((w) => w.name).join(", ")}${n ? `\n${tailFile(n.log)}` : ""}`,
      );
    }
    progress.update(`waiting for ${waiting.map((w) => w.name).join(", ")} to be Ready`);
    await sleep(500);
  }
}

export interface StopRealNodesResult {
  /** Processes ended (daemons, shims, pods, the namespace holder). */
  processes: number;
  /** cgroup directories that could not be removed (should be none). */
  cgroupsLeft: string[];
}

/** Ends every process of the real nodes and puts the host back as it was before the first up. */
export async function stopRealNodes(ref: RealNodesRef): Promise<StopRealNodesResult> {
  const plan = planFor(ref);
  if (!existsSync(plan.dir)) return { processes: 0, cgroupsLeft: [] };
  const processes = await killClusterProcesses(plan, holderPid(plan));
  // The veth ends with the namespace; a leftover (holder killed by hand) is removed here.
  if (existsSync(`/sys/class/net/${plan.hostVeth}`))
    await $`ip link del ${plan.hostVeth}`.quiet().noThrow();
  const cgroupsLeft = removeCgroup(plan.cgroupParent);
  rmSync(`${SHIM_SOCKET_BASE}/${ref.cluster}`, { recursive: true, force: true });
  try {
    rmdirSync(SHIM_SOCKET_BASE);
  } catch {
    // another cluster's sockets are there
  }
  restoreHostState(plan);
  removeFile(plan.hostStateFile);
  for (const f of [
    plan.netnsPidFile,
    plan.netnsIdFile,
    plan.kubeProxyPidFile,
    ...plan.nodes.map((n) => n.pidFile),
  ])
    removeFile(f);
  log.info({ cluster: ref.cluster, processes, cgroupsLeft }, "real nodes stopped");
  return { processes, cgroupsLeft };
}
