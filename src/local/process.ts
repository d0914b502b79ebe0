import { spawn } from "node:child_process";
import {
  closeSync,
  mkdirSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { dirname } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { fileURLToPath, pathToFileURL } from "node:url";

/** Is a process with this pid alive (and ours to signal)? Zombies count as alive. */
export function isAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** `/proc/<pid>/stat` → state letter and process group; the comm field may contain spaces. */
export function parseStat(stat: string): { state: string; pgrp: number } | undefined {
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  const pgrp = Number(rest[2]);
  return rest[0] && Number.isInteger(pgrp) ? { state: rest[0], pgrp } : undefined;
}

/**
 * Pids still running in process group `pgid`. Zombies are left out: once orphaned they are
 * reaped by init, which in some containers never happens, and they hold nothing anyway.
 */
export function groupMembers(pgid: number): number[] {
  const members: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    let stat: string;
    try {
      stat = readFileSync(`/proc/${entry}/stat`, "utf8");
    } catch {
      continue; // exited while we looked
    }
    const s = parseStat(stat);
    if (s && s.pgrp === pgid && s.state !== "Z" && s.state !== "X") members.push(Number(entry));
  }
  return members;
}

export function groupAlive(pgid: number): boolean {
  return groupMembers(pgid).length > 0;
}

/** The command line of a live process, or undefined if it is gone. */
export function cmdline(pid: number): string[] | undefined {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").filter(Boolean);
  } catch {
    return undefined;
  }
}

export function readPidFile(path: string): number | undefined {
  try {
    const pid = Number(readFileSync(path, "utf8").trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Does this command line belong to a process started for the cluster in `dir`? */
export function mentionsDir(args: readonly string[], dir: string): boolean {
  const prefix = `${dir.replace(/\/+$/, "")}/`;
  return args.some((a) => a.includes(prefix));
}

/**
 * The pid in `pidFile` if that process is still the one we started: alive and its command
 * line mentions the cluster's state directory `dir` (every component's flags do). A pid the
 * kernel has since given to an unrelated process is stale.
 */
export function ownedPid(pidFile: string, dir: string): number | undefined {
  return pidWithArg(pidFile, (a) => mentionsDir([a], dir));
}

/** The pid in `pidFile` if it still runs a command with a matching argument (not a recycled pid). */
export function pidWithArg(pidFile: string, test: (arg: string) => boolean): number | undefined {
  const pid = readPidFile(pidFile);
  return pid !== undefined && cmdline(pid)?.some(test) ? pid : undefined;
}

/**
 * Live processes running `bin` for the cluster in `dir`, found by scanning /proc: the safety
 * net for processes whose pid file was lost (deleted state, a crash between spawn and write).
 */
export function findProcesses(bin: string, dir: string): number[] {
  return scanProcesses((args) => args[0] === bin && mentionsDir(args, dir));
}

/** Live processes whose command line satisfies `match`, found by scanning /proc. */
export function scanProcesses(match: (args: string[]) => boolean): number[] {
  const found: number[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    const args = cmdline(Number(entry));
    if (args && match(args)) found.push(Number(entry));
  }
  return found;
}

export interface DaemonSpec {
  bin: string;
  args: string[];
  logFile: string;
  pidFile: string;
}

/**
 * Starts a process that outlives us: its own session and process group (so stopping it can
 * signal the whole group), output appended to a log file, pid written to a pid file.
 */
export function spawnDaemon(spec: DaemonSpec): number {
  mkdirSync(dirname(spec.logFile), { recursive: true });
  mkdirSync(dirname(spec.pidFile), { recursive: true });
  const fd = openSync(spec.logFile, "a");
  try {
    writeFileSync(fd, `\n--- ${new Date().toISOString()} ${spec.bin} ${spec.args.join(" ")}\n`);
    const child = spawn(spec.bin, spec.args, {
      detached: true,
      stdio: ["ignore", fd, fd],
    });
    if (child.pid === undefined) throw new Error(`could not start ${spec.bin}`);
    child.unref();
    writeFileSync(spec.pidFile, `${child.pid}\n`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/**
 * Stops a process group: SIGTERM, then SIGKILL after `graceMs`, then waits until no member
 * is left. Resolves true if it had to kill.
 */
export async function stopGroup(pgid: number, graceMs = 10_000): Promise<boolean> {
  const signal = (s: NodeJS.Signals) => {
    try {
      process.kill(-pgid, s);
    } catch {
      // Already gone.
    }
  };
  const waitGone = async (ms: number) => {
    const deadline = Date.now() + ms;
    while (groupAlive(pgid)) {
      if (Date.now() > deadline) return false;
      await sleep(50);
    }
    return true;
  };
  signal("SIGTERM");
  if (await waitGone(graceMs)) return false;
  signal("SIGKILL");
  if (!(await waitGone(5_000))) {
    throw new Error(`process group ${pgid} survived SIGKILL`);
  }
  return true;
}

/** The last `lines` lines of a (daemon's) log file, for error messages. */
export function tailFile(path: string, lines = 25): string {
  try {
    return readFileSync(path, "utf8").trimEnd().split("\n").slice(-lines).join("\n");
  } catch {
    return "(no log)";
  }
}

/**
 * Node arguments that run the `main` module beside the module at `here` (its
 * `import.meta.url`): compiled JS directly, or the TypeScript source through tsx.
 */
export function mainEntryArgs(here: string): string[] {
  if (here.endsWith(".js")) return [fileURLToPath(new URL("./main.js", here))];
  const tsx = pathToFileURL(createRequire(here).resolve("tsx")).href;
  return ["--import", tsx, fileURLToPath(new URL("./main.ts", here))];
}

export function removeFile(path: string): void {
  rmSync(path, { force: true });
}
