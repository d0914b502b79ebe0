import { spawn } from "node:child_process";
import { closeSync, mkdirSync, openSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { groupAlive, groupMembers, pidWithArg } from "../process.js";

/**
 * One container run: a bwrap process in its own process group, output appended to the
 * container's log file. The group id is written to a pid file so a node that restarts after
 * a crash can find and kill what it left behind.
 */

export interface Exit {
  /** As a container runtime reports it: 128 + signal number when killed by a signal. */
  exitCode: number;
  signal?: number;
}

const SIGNALS: Partial<Record<NodeJS.Signals, number>> = {
  SIGKILL: 9,
  SIGTERM: 15,
  SIGINT: 2,
  SIGHUP: 1,
};

export class ContainerProcess {
  readonly exited: Promise<Exit>;
  private done = false;

  private constructor(
    readonly pid: number,
    exited: Promise<Exit>,
  ) {
    this.exited = exited.finally(() => {
      this.done = true;
    });
  }

  static start(args: string[], logFile: string, pidFile: string): ContainerProcess {
    mkdirSync(dirname(logFile), { recursive: true });
    mkdirSync(dirname(pidFile), { recursive: true });
    const fd = openSync(logFile, "a");
    try {
      const child = spawn("bwrap", args, { detached: true, stdio: ["ignore", fd, fd] });
      const exited = new Promise<Exit>((resolve) => {
        child.on("error", (err) => {
          writeFileSync(logFile, `kubevisor: cannot start bwrap: ${err.message}\n`, { flag: "a" });
          resolve({ exitCode: 128 });
        });
        child.on("exit", (code, signal) => {
          const n = signal ? (SIGNALS[signal] ?? 9) : undefined;
          resolve(n === undefined ? { exitCode: code ?? 0 } : { exitCode: 128 + n, signal: n });
        });
      });
      if (child.pid === undefined) return new ContainerProcess(-1, exited);
      writeFileSync(pidFile, `${child.pid}\n`);
      return new ContainerProcess(child.pid, exited);
    } finally {
      closeSync(fd);
    }
  }

  get running(): boolean {
    return !this.done;
  }

  /**
   * SIGTERM to every process of the container. bwrap itself is spared: it would die of it
   * and, being the sandbox's parent, take the command down with SIGKILL before it could
   * clean up. Then SIGKILL to the whole group once `graceMs` is over.
   */
  async terminate(graceMs: number): Promise<Exit> {
    if (this.pid > 0 && this.running) {
      for (const pid of groupMembers(this.pid)) {
        if (pid !== this.pid) signal(pid, "SIGTERM");
      }
      const timeout = sleep(graceMs).then(() => undefined);
      if ((await Promise.race([this.exited, timeout])) === undefined) this.kill();
    }
    return await this.exited;
  }

  kill(): void {
    if (this.pid > 0) signal(-this.pid, "SIGKILL");
  }
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // Already gone.
  }
}

/** Kills a process group left by an earlier node process and waits until it is gone. */
export async function killGroup(pgid: number): Promise<void> {
  signal(-pgid, "SIGKILL");
  for (let i = 0; i < 100 && groupAlive(pgid); i++) await sleep(50);
}

/** Runs a command to completion in a throwaway sandbox (exec probes and hooks). */
export function runToCompletion(
  args: string[],
  timeoutMs: number,
): Promise<{ exitCode: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn("bwrap", args, { detached: true, stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    const collect = (b: Buffer) => {
      if (output.length < 10_000) output += b.toString();
    };
    child.stdout?.on("data", collect);
    child.stderr?.on("data", collect);
    const timer = setTimeout(() => {
      output += `\ncommand timed out after ${timeoutMs}ms`;
      if (child.pid) signal(-child.pid, "SIGKILL");
    }, timeoutMs);
    child.on("error", (err) => {
      clearTimeout(timer);
      resolve({ exitCode: 128, output: err.message });
    });
    child.on("close", (code, sig) => {
      clearTimeout(timer);
      resolve({ exitCode: sig ? 137 : (code ?? 0), output });
    });
  });
}

/** A container's bwrap pid, if it is still alive: its binds name the pod's directory. */
export function containerPid(pidFile: string, podDir: string): number | undefined {
  return pidWithArg(pidFile, (a) => a.startsWith(`${podDir}/`));
}
