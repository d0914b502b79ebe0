import { existsSync, readdirSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { logger } from "../../util/log.js";
import { DEFAULT_CLUSTER, defaultClusterDir } from "../layout.js";
import {
  groupMembers,
  isAlive,
  mainEntryArgs,
  pidWithArg,
  removeFile,
  spawnDaemon,
  stopGroup,
  tailFile,
} from "../process.js";
import { containerPid, killGroup } from "./container-process.js";
import { DEFAULT_NODE_NAMES, nodeLayout } from "./layout.js";

/**
 * Starting and stopping local nodes from the CLI and tests. Each node is its own detached
 * process (pid file and log under `<cluster>/nodes/<name>/`): a node can then be stopped or
 * killed alone, as a real machine fails alone, and one node's crash leaves the other running.
 */

const log = logger("local-nodes");

export interface NodesRef {
  /** Cluster name (default "default"); picks `stateDir('cluster', name)`. */
  cluster?: string;
  /** Explicit cluster state directory; overrides the name's default. */
  clusterDir?: string;
}

export interface StartNodesOptions extends NodesRef {
  /** Node names; default kubevisor-node-1 and kubevisor-node-2. */
  names?: string[];
  /** How long to wait for each node to be registered and Ready. Default 60 s. */
  timeoutMs?: number;
  /** Seconds pods get to end when a node stops. Default 15. */
  shutdownGraceSeconds?: number;
}

export interface LocalNodeInfo {
  name: string;
  pid?: number;
  running: boolean;
  /** Registered and heartbeating (its ready file exists). */
  ready: boolean;
  log: string;
}

export interface StartedNode extends LocalNodeInfo {
  /** It was already running; nothing was started. */
  reused: boolean;
}

function clusterDirOf(ref: NodesRef): string {
  return ref.clusterDir ?? defaultClusterDir(ref.cluster ?? DEFAULT_CLUSTER);
}

/** The node's own argument doubles as the marker that tells our process from a reused pid. */
function nodeArg(dir: string): string {
  return `--node-dir=${dir}`;
}

function nodePid(clusterDir: string, name: string): number | undefined {
  const l = nodeLayout(clusterDir, name);
  return pidWithArg(l.pidFile, (a) => a === nodeArg(l.dir));
}

/** Starts the nodes that are not running yet and waits until every one is Ready. */
export async function startLocalNodes(opts: StartNodesOptions = {}): Promise<StartedNode[]> {
  const clusterDir = clusterDirOf(opts);
  const names = opts.names ?? DEFAULT_NODE_NAMES;
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const started = names.map((name) => {
    const l = nodeLayout(clusterDir, name);
    const running = nodePid(clusterDir, name);
    if (running !== undefined) return { name, pid: running, reused: true };
    removeFile(l.readyFile);
    const pid = spawnDaemon({
      bin: process.execPath,
      args: [
        ...mainEntryArgs(import.meta.url),
        nodeArg(l.dir),
        `--shutdown-grace=${opts.shutdownGraceSeconds ?? 15}`,
      ],
      logFile: l.log,
      pidFile: l.pidFile,
    });
    log.info({ node: name, pid }, "local node started");
    return { name, pid, reused: false };
  });
  const deadline = Date.now() + timeoutMs;
  for (const n of started) {
    const l = nodeLayout(clusterDir, n.name);
    while (!existsSync(l.readyFile)) {
      if (!isAlive(n.pid)) {
        throw new Error(
          `local node ${n.name} exited while starting\n--- ${l.log} ---\n${tailFile(l.log)}`,
        );
      }
      if (Date.now() > deadline) {
        throw new Error(`local node ${n.name} not ready after ${timeoutMs / 1000}s; see ${l.log}`);
      }
      await sleep(100);
    }
  }
  return started.map((n) => ({
    ...n,
    running: true,
    ready: true,
    log: nodeLayout(clusterDir, n.name).log,
  }));
}

/** Names of the nodes that have state in this cluster. */
function knownNodes(clusterDir: string): string[] {
  const dir = `${clusterDir}/nodes`;
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

export interface StopNodesResult {
  stopped: string[];
  /** Of those, the ones that had to be killed (did not finish shutting down in time). */
  killed: string[];
}

/**
 * Stops nodes (default: all of the cluster): SIGTERM lets each end its pods gracefully and
 * mark them Failed and itself NotReady; SIGKILL after the grace period plus a margin. Any
 * container process still alive afterwards is killed, so nothing is left behind.
 */
export async function stopLocalNodes(
  opts: NodesRef & { names?: string[]; graceSeconds?: number } = {},
): Promise<StopNodesResult> {
  const clusterDir = clusterDirOf(opts);
  const names = opts.names ?? knownNodes(clusterDir);
  const result: StopNodesResult = { stopped: [], killed: [] };
  await Promise.all(
    names.map(async (name) => {
      const l = nodeLayout(clusterDir, name);
      const pid = nodePid(clusterDir, name);
      if (pid !== undefined) {
        // The node's own shutdown waits for pods up to its grace (15 s by default).
        if (await stopGroup(pid, ((opts.graceSeconds ?? 15) + 15) * 1000)) result.killed.push(name);
        result.stopped.push(name);
      }
      removeFile(l.pidFile);
      removeFile(l.readyFile);
      await killContainerLeftovers(clusterDir, name);
    }),
  );
  return result;
}

/** Container process groups of a node that outlived it (normally none: bwrap dies with it). */
async function killContainerLeftovers(clusterDir: string, name: string): Promise<void> {
  const l = nodeLayout(clusterDir, name);
  if (!existsSync(l.podsDir)) return;
  for (const uid of readdirSync(l.podsDir)) {
    const containers = `${l.podDir(uid)}/containers`;
    if (!existsSync(containers)) continue;
    for (const c of readdirSync(containers)) {
      const pgid = containerPid(l.containerPidFile(uid, c), l.podDir(uid));
      if (pgid !== undefined && groupMembers(pgid).length > 0) {
        log.warn({ node: name, uid, container: c, pgid }, "killing leftover container");
        await killGroup(pgid);
      }
    }
  }
}

export function localNodesStatus(ref: NodesRef = {}): LocalNodeInfo[] {
  const clusterDir = clusterDirOf(ref);
  return knownNodes(clusterDir).map((name) => {
    const l = nodeLayout(clusterDir, name);
    const pid = nodePid(clusterDir, name);
    return {
      name,
      pid,
      running: pid !== undefined,
      ready: pid !== undefined && existsSync(l.readyFile),
      log: l.log,
    };
  });
}
