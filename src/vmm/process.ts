import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { ByteRing } from "./ring.js";

export const DEFAULT_QEMU_BINARY = "qemu-system-x86_64";
const STDERR_KEEP = 64 * 1024;

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
  /** The tail of what QEMU wrote to stderr (and stdout): its own account of any failure. */
  stderr: string;
}

/**
 * A QEMU process in its own process group, so a kill reaches anything it spawned, and with
 * a parent-death signal (setpriv, util-linux), so QEMU cannot outlive the process that
 * started it even when that process is killed without a chance to clean up.
 */
export class QemuProcess {
  readonly child: ChildProcess;
  readonly pid: number;
  readonly exited: Promise<ProcessExit>;
  private exitValue: ProcessExit | undefined;

  constructor(binary: string, args: string[]) {
    const output = new ByteRing(STDERR_KEEP);
    this.child = spawn("setpriv", ["--pdeathsig", "KILL", "--", binary, ...args], {
      detached: true,
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.child.stdout?.on("data", (c: Buffer) => output.push(c));
    this.child.stderr?.on("data", (c: Buffer) => output.push(c));
    this.exited = new Promise((resolve) => {
      // `close` (not `exit`) so the stderr tail is complete when we report it.
      this.child.once("close", (code, signal) => {
        this.exitValue = { code, signal, stderr: output.contents().toString("utf8").trim() };
        resolve(this.exitValue);
      });
      this.child.once("error", (err) => {
        this.exitValue = { code: null, signal: null, stderr: `spawn failed: ${err.message}` };
        resolve(this.exitValue);
      });
    });
    this.pid = this.child.pid ?? -1;
  }

  get hasExited(): boolean {
    return this.exitValue !== undefined;
  }

  /** SIGKILL the whole process group; resolves when the process is gone. */
  async kill(): Promise<ProcessExit> {
    if (!this.hasExited && this.pid > 0) {
      try {
        process.kill(-this.pid, "SIGKILL");
      } catch {
        // Already gone between the check and the kill.
      }
    }
    return this.exited;
  }
}

/** The host CPU's nominal rate in kHz (what TCG's guest TSC ticks at), if the host says. */
export function hostTscKhz(cpuinfo = "/proc/cpuinfo"): number | undefined {
  try {
    const mhz = /^cpu MHz\s*:\s*([\d.]+)/m.exec(readFileSync(cpuinfo, "utf8"))?.[1];
    return mhz ? Math.round(Number(mhz) * 1000) : undefined;
  } catch {
    return undefined;
  }
}
