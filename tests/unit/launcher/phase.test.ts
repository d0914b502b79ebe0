import { describe, expect, it } from "vitest";
import { LauncherPhase } from "../../../src/api/launcher.js";
import { PhaseOwner, validTransition } from "../../../src/launcher/phase.js";
import { logger } from "../../../src/util/log.js";

const phases = LauncherPhase.options;

/** Every allowed move, written out once more by hand: the table must match it exactly. */
const ALLOWED = new Set([
  "Preparing>Starting",
  "Preparing>Stopping",
  "Preparing>Failed",
  "Starting>Running",
  "Starting>WaitingForMigration",
  "Starting>Stopping",
  "Starting>Stopped",
  "Starting>Failed",
  "WaitingForMigration>Running",
  "WaitingForMigration>Stopping",
  "WaitingForMigration>Failed",
  "Running>Migrating",
  "Running>Stopping",
  "Running>Stopped",
  "Running>Failed",
  "Migrating>Running",
  "Migrating>Migrated",
  "Migrating>Stopped",
  "Migrating>Failed",
  "Stopping>Stopped",
  "Stopping>Failed",
]);

describe("validTransition", () => {
  it.each(phases.flatMap((from) => phases.map((to) => [from, to] as const)))(
    "%s -> %s",
    (from, to) => {
      expect(validTransition(from, to)).toBe(ALLOWED.has(`${from}>${to}`));
    },
  );

  it("never holds Paused and never leaves an end", () => {
    for (const p of phases) {
      expect(validTransition(p, "Paused")).toBe(false);
      expect(validTransition("Paused", p)).toBe(false);
      for (const end of ["Stopped", "Migrated", "Failed"] as const) {
        expect(validTransition(end, p)).toBe(false);
      }
    }
  });

  it("lets nothing ever come back to Preparing or Starting, or run a guest twice", () => {
    for (const p of phases) {
      expect(validTransition(p, "Preparing")).toBe(false);
      if (p !== "Preparing") expect(validTransition(p, "Starting")).toBe(false);
    }
    // Once the guest is sent away it cannot run here again.
    expect(validTransition("Migrated", "Running")).toBe(false);
  });
});

describe("PhaseOwner", () => {
  it("moves along the table, refuses the rest and keeps how the run ended", () => {
    const owner = new PhaseOwner(logger("test"));
    expect(owner.phase).toBe("Preparing");
    expect(owner.transition("Running")).toBe(false);
    expect(owner.phase).toBe("Preparing");
    expect(owner.transition("Starting")).toBe(true);
    expect(owner.transition("Running")).toBe(true);
    expect(owner.transition("Migrating")).toBe(true);
    owner.end({ kind: "migrated", message: "migration succeeded" });
    expect(owner.phase).toBe("Migrated");
    expect(owner.ended).toBe(true);
    // A late QEMU exit cannot rewrite the end.
    owner.end({ kind: "crashed", message: "QEMU exited" });
    expect(owner.transition("Running")).toBe(false);
    expect(owner.phase).toBe("Migrated");
    expect(owner.endMessage).toBe("migration succeeded");
  });
});
