import { readFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { logger } from "../../util/log.js";
import {
  isAlive,
  mainEntryArgs,
  pidWithArg,
  removeFile,
  scanProcesses,
  spawnDaemon,
  stopGroup,
  tailFile,
} from "../process.js";

/**
 * Starting and stopping the local endpoints controller, one more detached process of the
 * control plane (see `startControlPlane`): pid file, log and ready file beside the other
 * components'. Its own argument names the cluster directory, which tells our process from a
 * recycled pid and lets a /proc scan find one whose pid file was lost.
 */

const log = logger("local-endpoints-lifecycle");

export function endpointsPaths(clusterDir: string) {
  return {
    pidFile: join(clusterDir, "run", "local-endpoints.pid"),
    /** Holds the pid once the controller's caches have synced. */
    readyFile: join(clusterDir, "run", "local-endpoints.ready"),
    log: join(clusterDir, "logs", "local-endpoints.log"),
  };
}

const marker = (clusterDir: string) => `--endpoints-cluster-dir=${clusterDir}`;

export function localEndpointsPid(clusterDir: string): number | undefined {
  return pidWithArg(endpointsPaths(clusterDir).pidFile, (a) => a === marker(clusterDir));
}

function isReady(clusterDir: string, pid: number): boolean {
  try {
    return Number(readFileSync(endpointsPaths(clusterDir).readyFile, "utf8").trim()) === pid;
  } catch {
    return false;
  }
}

/** Every live controller process of this cluster, by its argument (pid file or not). */
function findControllers(clusterDir: string): number[] {
  return scanProcesses((args) => args.includes(marker(clusterDir)));
}

export interface StartEndpointsOptions {
  /** Give up (and stop it) if it is not ready by then (epoch ms). Default 60 s from now. */
  deadline?: number;
  signal?: AbortSignal;
}

/**
 * Starts the controller unless it already runs, and waits until its caches have synced.
 * Resolves with its pid and whether it was running already.
 */
export async function startLocalEndpoints(
  clusterDir: string,
  opts: StartEndpointsOptions = {},
): Promise<{ pid: number; reused: boolean }> {
  const p = endpointsPaths(clusterDir);
  const running = localEndpointsPid(clusterDir);
  let pid: number;
  if (running !== undefined) {
    pid = running;
  } else {
    await stopLocalEndpoints(clusterDir); // a stray whose pid file was lost
    pid = spawnDaemon({
      bin: process.execPath,
      args: [...mainEntryArgs(import.meta.url), marker(clusterDir)],
      logFile: p.log,
      pidFile: p.pidFile,
    });
    log.info({ pid, clusterDir }, "local endpoints controller started");
  }
  const deadline = opts.deadline ?? Date.now() + 60_000;
  while (!isReady(clusterDir, pid)) {
    const tail = () => tailFile(p.log, 20);
    if (!isAlive(pid)) {
      throw new Error(
        `local endpoints controller exited while starting\n--- ${p.log} ---\n${tail()}`,
      );
    }
    if (opts.signal?.aborted || Date.now() > deadline) {
      await stopLocalEndpoints(clusterDir);
      throw new Error(
        opts.signal?.aborted
          ? "interrupted while the local endpoints controller was starting"
          : `local endpoints controller not ready in time\n--- ${p.log} ---\n${tail()}`,
      );
    }
    await sleep(100);
  }
  return { pid, reused: running !== undefined };
}

/** Stops the controller (and any stray of this cluster); resolves true if one was running. */
export async function stopLocalEndpoints(clusterDir: string): Promise<boolean> {
  const p = endpointsPaths(clusterDir);
  const targets = new Set(findControllers(clusterDir));
  const pid = localEndpointsPid(clusterDir);
  if (pid !== undefined) targets.add(pid);
  await Promise.all([...targets].map((t) => stopGroup(t, 5_000)));
  removeFile(p.pidFile);
  removeFile(p.readyFile);
  if (targets.size > 0)
    log.info({ clusterDir, pids: [...targets] }, "local endpoints controller stopped");
  return targets.size > 0;
}
