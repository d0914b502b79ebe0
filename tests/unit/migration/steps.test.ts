import { describe, expect, it } from "vitest";
import { abortStep, runningStep } from "../../../src/operator/migration/steps.js";
import { pod, state } from "./fixtures.js";

const sourcePod = pod("web-launcher-1");
const targetPod = pod("web-target-abc", { migrationTarget: true, ready: false });

describe("runningStep: where a running migration stands", () => {
  it("starts the source when it was never asked, and follows progress", () => {
    expect(runningStep({ source: state("source", "None"), sourcePod, targetPod })).toEqual({
      kind: "start",
    });
    expect(
      runningStep({
        source: state("source", "Migrating"),
        target: state("target", "Listening"),
        sourcePod,
        targetPod,
      }).kind,
    ).toBe("progress");
  });

  it("succeeds only once the target runs the guest", () => {
    const source = state("source", "Succeeded");
    expect(
      runningStep({ source, target: state("target", "Listening"), sourcePod, targetPod }).kind,
    ).toBe("wait");
    expect(
      runningStep({ source, target: state("target", "Succeeded"), sourcePod, targetPod }).kind,
    ).toBe("succeed");
    // The target cannot be asked but its pod turned Ready: the guest runs there.
    expect(runningStep({ source, sourcePod, targetPod: { ...targetPod, ready: true } }).kind).toBe(
      "succeed",
    );
  });

  it("a source that exited Migrated (operator was away) still leads to success, not a restart", () => {
    const gone = pod("web-launcher-1", {
      stage: "Succeeded",
      exit: { code: 0, reason: "Migrated" },
    });
    expect(
      runningStep({ sourcePod: gone, target: state("target", "Succeeded"), targetPod }).kind,
    ).toBe("succeed");
    expect(runningStep({ sourcePod: gone, targetPod }).kind).toBe("wait");
  });

  it("cancels when the target died while the guest was on its way", () => {
    const dead = { ...targetPod, stage: "Failed" as const };
    expect(
      runningStep({ source: state("source", "Migrating"), sourcePod, targetPod: dead }),
    ).toMatchObject({
      kind: "cancel",
      reason: "TargetFailed",
    });
  });

  it("blames a dead target for the source's failure or our cancel", () => {
    const dead = { ...targetPod, stage: "Failed" as const };
    for (const phase of ["Failed", "Cancelled"] as const) {
      const step = runningStep({
        source: state("source", phase, { error: "broken pipe" }),
        sourcePod,
        targetPod: dead,
      });
      expect(step).toMatchObject({ kind: "fail", reason: "TargetFailed" });
      expect(step.kind === "fail" && step.message).toContain("broken pipe");
    }
  });

  it("fails when the source says so, keeping its error", () => {
    expect(
      runningStep({ source: state("source", "Failed", { error: "boom" }), sourcePod, targetPod }),
    ).toEqual({ kind: "fail", reason: "MigrationFailed", message: "boom" });
  });

  it("never guesses about an unreachable but live source", () => {
    expect(runningStep({ sourcePod, targetPod }).kind).toBe("wait");
  });

  it("a source that crashed takes the guest with it: fail (the VM restarts per runStrategy)", () => {
    const crashed = pod("web-launcher-1", {
      stage: "Failed",
      exit: { code: 1, reason: "GuestCrashed" },
    });
    expect(runningStep({ sourcePod: crashed, targetPod })).toMatchObject({
      kind: "fail",
      reason: "SourceFailed",
    });
  });
});

describe("abortStep: ending early without losing the guest", () => {
  it("cancels a migration in flight, and fails one never started", () => {
    expect(
      abortStep({ source: state("source", "Migrating"), sourcePod, targetPod }, "Deleted", "gone"),
    ).toEqual({ kind: "cancel", reason: "Deleted", message: "gone" });
    expect(
      abortStep({ source: state("source", "None"), sourcePod, targetPod }, "Deleted", "gone"),
    ).toEqual({
      kind: "fail",
      reason: "Deleted",
      message: "gone",
    });
  });

  it("too late to abort: the guest already runs on the target, so the migration succeeds", () => {
    expect(
      abortStep(
        {
          source: state("source", "Succeeded"),
          target: state("target", "Succeeded"),
          sourcePod,
          targetPod,
        },
        "Deleted",
        "gone",
      ).kind,
    ).toBe("succeed");
  });

  it("after a cancel the source's verdict ends it with the asked-for reason", () => {
    const step = abortStep(
      { source: state("source", "Cancelled"), sourcePod, targetPod },
      "CompletionTimeout",
      "not completed within 38 s",
    );
    expect(step).toMatchObject({ kind: "fail", reason: "CompletionTimeout" });
  });
});
