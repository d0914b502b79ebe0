import { describe, expect, it } from "vitest";
import { LAUNCHER_RETRY_MS } from "../../../src/operator/vm/decide.js";
import { launcherAnswerFreshMs } from "../../../src/operator/vm/launcher-freshness.js";

const POLL = 30_000;

describe("launcherAnswerFreshMs: how long a launcher's /status answer is reused", () => {
  it("asks soon when nothing usable came back", () => {
    expect(launcherAnswerFreshMs(undefined, POLL)).toBe(LAUNCHER_RETRY_MS);
    expect(launcherAnswerFreshMs({ launcherFault: { fault: "unreachable" } }, POLL)).toBe(
      LAUNCHER_RETRY_MS,
    );
  });

  it("asks a launcher that answered wrongly at the poll pace", () => {
    expect(launcherAnswerFreshMs({ launcherFault: { fault: "misbehaving" } }, POLL)).toBe(POLL / 2);
  });

  it("asks again soon while the launcher is on its way (accelerator not chosen yet)", () => {
    // Real nodes with /dev/kvm: the launcher answers `Starting` while its KVM probe runs.
    for (const phase of ["Preparing", "Starting"] as const) {
      expect(launcherAnswerFreshMs({ launcher: { phase, awaitingStart: false } }, POLL)).toBe(
        LAUNCHER_RETRY_MS,
      );
    }
  });

  it("reuses a settled launcher's answer for half a poll", () => {
    for (const phase of ["Running", "Paused", "Migrating", "Stopped", "Failed"] as const) {
      expect(launcherAnswerFreshMs({ launcher: { phase, acceleration: "TCG" } }, POLL)).toBe(
        POLL / 2,
      );
    }
  });
});
