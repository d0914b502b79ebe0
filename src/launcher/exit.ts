import { LAUNCHER_EXIT, type LauncherExitReason } from "../api/launcher.js";

/** How the launcher's run ended, before it is turned into an exit code and message. */
export type LauncherOutcome =
  | { kind: "configError"; message: string }
  | { kind: "bootFailed"; message: string }
  /** The guest powered itself off. */
  | { kind: "guestShutdown"; message?: string }
  /** We were asked to stop (SIGTERM) and the guest is gone, gracefully or not. */
  | { kind: "stopped"; message: string }
  /** QEMU died, was killed, or the guest panicked or reset where that means failure. */
  | { kind: "crashed"; message: string }
  /** Source: the guest now runs on the migration target; this process's part is over. */
  | { kind: "migrated"; message: string }
  /** Target: the guest never arrived or the migration failed; nothing ran here. */
  | { kind: "migrationFailed"; message: string }
  /** Never told to start (POST /start) within the wait: nothing was prepared or run. */
  | { kind: "neverStarted"; message: string };

export interface LauncherExit {
  code: number;
  reason: LauncherExitReason;
  message: string;
}

/** Exit code and reason per outcome; the message is the outcome's own. */
const EXIT_OF: Record<LauncherOutcome["kind"], Omit<LauncherExit, "message">> = {
  configError: { code: LAUNCHER_EXIT.configError, reason: "ConfigError" },
  bootFailed: { code: LAUNCHER_EXIT.guestFailed, reason: "BootFailed" },
  guestShutdown: { code: LAUNCHER_EXIT.ok, reason: "GuestShutdown" },
  stopped: { code: LAUNCHER_EXIT.ok, reason: "GuestStopped" },
  crashed: { code: LAUNCHER_EXIT.guestFailed, reason: "GuestCrashed" },
  migrated: { code: LAUNCHER_EXIT.ok, reason: "Migrated" },
  migrationFailed: { code: LAUNCHER_EXIT.guestFailed, reason: "MigrationFailed" },
  neverStarted: { code: LAUNCHER_EXIT.guestFailed, reason: "NeverStarted" },
};

export function launcherExit(outcome: LauncherOutcome): LauncherExit {
  // Only guestShutdown may come without a message.
  return { ...EXIT_OF[outcome.kind], message: outcome.message ?? "the guest powered off" };
}

/** Time left for the guest's ACPI shutdown: the grace period less a margin for the hard stop. */
export function gracefulShutdownMs(graceSeconds: number): number {
  const graceMs = graceSeconds * 1000;
  const margin = Math.min(5000, Math.max(1000, graceMs * 0.2));
  return Math.max(0, graceMs - margin);
}

/** What the launcher knows when QEMU has gone: the VMM's account and what we had asked for. */
export interface QemuEnd {
  reason: "guest-shutdown" | "host-shutdown" | "killed" | "unexpected";
  shutdownReason?: string | undefined;
  code: number | null;
  signal: NodeJS.Signals | null;
  stderr: string;
  /** How the VMM last asked the guest (or QEMU) to stop. */
  stopRequest?: "agent" | "acpi" | "quit" | undefined;
  /** We were stopping the guest because the pod is terminating. */
  stopRequested: boolean;
  /** We killed QEMU because the guest panicked. */
  panicked: boolean;
}

/** Map how QEMU ended to the launcher's outcome. */
export function outcomeOfQemuEnd(end: QemuEnd): LauncherOutcome {
  if (end.panicked) return { kind: "crashed", message: "the guest kernel panicked" };
  if (end.stopRequested) {
    return {
      kind: "stopped",
      message:
        end.reason === "guest-shutdown"
          ? `the guest shut down on request ${end.stopRequest === "agent" ? "through its agent" : "(ACPI power button)"}`
          : "the guest did not shut down in time and was stopped",
    };
  }
  if (end.reason === "guest-shutdown") {
    return end.shutdownReason === "guest-panic"
      ? { kind: "crashed", message: "the guest kernel panicked" }
      : { kind: "guestShutdown" };
  }
  const how = end.signal ? `signal ${end.signal}` : `code ${end.code}`;
  const stderr = end.stderr ? `: ${end.stderr.split("\n").slice(-3).join(" ")}` : "";
  return { kind: "crashed", message: `QEMU exited unexpectedly (${how})${stderr}` };
}
