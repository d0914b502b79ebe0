/**
 * Debian's own qemu-ga run on this host with `-m unix-listen`, listening on a unix socket as
 * QEMU's chardev would for a guest: for tests of the agent client and its poller. Every
 * command that could change this host is disabled for the run (-b).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

/** Everything that changes the host: never run here, whatever a test does. */
export const BLOCKED = [
  "guest-shutdown",
  "guest-suspend-disk",
  "guest-suspend-ram",
  "guest-suspend-hybrid",
  "guest-exec",
  "guest-file-open",
  "guest-set-time",
  "guest-set-user-password",
  "guest-set-vcpus",
  "guest-set-memory-blocks",
  "guest-fsfreeze-freeze",
  "guest-fsfreeze-freeze-list",
  "guest-fstrim",
  "guest-ssh-add-authorized-keys",
  "guest-ssh-remove-authorized-keys",
];

export interface HostAgent {
  dir: string;
  socket: string;
  proc: ChildProcess;
  /** Ends the agent (a SIGSTOPped one too) and removes `dir`. */
  stop(): Promise<void>;
}

/** qemu-ga listening on `<dir>/qga.sock` (its state and pid file in `dir`, a fresh one by default). */
export function startHostAgent(dir = mkdtempSync(join(tmpdir(), "kv-qga-"))): HostAgent {
  const socket = join(dir, "qga.sock");
  const proc = spawn(
    "qemu-ga",
    [
      "-m",
      "unix-listen",
      "-p",
      socket,
      "-t",
      dir,
      "-f",
      join(dir, "qga.pid"),
      "-b",
      BLOCKED.join(","),
    ],
    { stdio: "ignore" },
  );
  return {
    dir,
    socket,
    proc,
    async stop() {
      if (proc.exitCode === null && proc.signalCode === null) {
        const gone = new Promise((r) => proc.once("exit", r));
        proc.kill("SIGCONT");
        proc.kill("SIGTERM");
        // qemu-ga can sit in a blocking call that SIGTERM does not end: bounded, then SIGKILL.
        const timer = setTimeout(() => proc.kill("SIGKILL"), 3_000);
        await gone;
        clearTimeout(timer);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
