import type { LauncherPhase } from "../api/launcher.js";
import type { Logger } from "../util/log.js";
import type { LauncherOutcome } from "./exit.js";

/**
 * Where the launcher may go from each phase it holds. `Paused` is never held: it is how
 * `Running` is reported while QEMU has the vCPUs stopped (that is QEMU's state, not ours).
 * The three ends (Stopped, Migrated, Failed) lead nowhere: a launcher runs one guest once.
 */
const NEXT: Record<LauncherPhase, readonly LauncherPhase[]> = {
  // Failed: bad spec, disk or certificate.
  Preparing: ["Starting", "Stopping", "Failed"],
  // Stopped: the guest powered off the moment it came up.
  Starting: ["Running", "WaitingForMigration", "Stopping", "Stopped", "Failed"],
  // Failed: no migration came, or it failed; the guest never ran here.
  WaitingForMigration: ["Running", "Stopping", "Failed"],
  Running: ["Migrating", "Stopping", "Stopped", "Failed"],
  Paused: [],
  // Running: the migration failed or was cancelled and the guest stays here. Stopped: the
  // guest powered off mid-migration (QEMU gives the migration up).
  Migrating: ["Running", "Migrated", "Stopped", "Failed"],
  // Failed: the guest panicked or QEMU died while stopping.
  Stopping: ["Stopped", "Failed"],
  Stopped: [],
  Migrated: [],
  Failed: [],
};

/** Cloud Hypervisor's `VmState::valid_transition`, for the launcher: pure, total. */
export function validTransition(from: LauncherPhase, to: LauncherPhase): boolean {
  return NEXT[from].includes(to);
}

/** The launcher phase once the guest has ended here. */
export function endPhase(outcome: LauncherOutcome): LauncherPhase {
  switch (outcome.kind) {
    case "guestShutdown":
    case "stopped":
      return "Stopped";
    case "migrated":
      return "Migrated";
    default:
      return "Failed";
  }
}

/**
 * The one owner of the launcher's phase. The launcher, its guest and the migration code ask
 * it to move; a move the table does not allow is logged as an error and refused (the phase
 * stays), so a late or doubled event can never rewrite how the run ended.
 */
export class PhaseOwner {
  private current: LauncherPhase = "Preparing";
  private message: string | undefined;

  constructor(private readonly log: Logger) {}

  get phase(): LauncherPhase {
    return this.current;
  }

  /** Why the run ended, once it has (the outcome's message). */
  get endMessage(): string | undefined {
    return this.message;
  }

  get ended(): boolean {
    return NEXT[this.current].length === 0;
  }

  /** Move to `to`; false (and an error in the log) when the table forbids it. */
  transition(to: LauncherPhase, why?: string): boolean {
    const from = this.current;
    if (!validTransition(from, to)) {
      this.log.error({ from, to, why }, "invalid launcher phase transition refused");
      return false;
    }
    this.current = to;
    this.log.info({ from, to, ...(why ? { why } : {}) }, "launcher phase");
    return true;
  }

  /** The run ended with `outcome`: its end phase, unless the phase already is one. */
  end(outcome: LauncherOutcome): void {
    if (this.ended) return;
    const to = endPhase(outcome);
    // Ending from Running, Migrating or Starting straight to Failed etc. is in the table;
    // ending from Preparing or Starting with "stopped" is too.
    if (this.transition(to, outcome.kind)) {
      this.message = "message" in outcome ? outcome.message : undefined;
    }
  }
}
