import { describe, expect, it } from "vitest";
import {
  restartBackoffMs,
  seedRecord,
  shouldRestart,
} from "../../../../src/local/node/pod-worker.js";
import { container } from "./fixtures.js";

describe("restartBackoffMs", () => {
  it("restarts at once, then backs off 10 s doubling up to 5 min", () => {
    expect([0, 1, 2, 3, 6, 20].map(restartBackoffMs)).toEqual([
      0, 10_000, 20_000, 40_000, 300_000, 300_000,
    ]);
  });
});

describe("shouldRestart", () => {
  it.each([
    ["Always", false, 0, true],
    ["Always", true, 0, false],
    ["Always", true, 1, true],
    ["OnFailure", false, 0, false],
    ["OnFailure", false, 1, true],
    ["Never", false, 1, false],
  ])("%s init=%s exit=%d → %s", (policy, init, code, out) =>
    expect(shouldRestart(policy, init, code)).toBe(out),
  );
});

describe("seedRecord", () => {
  it("starts a new container waiting", () => {
    expect(seedRecord(container(), "ContainerCreating")).toMatchObject({
      restartCount: 0,
      state: { kind: "waiting", reason: "ContainerCreating" },
    });
  });

  it("reports a container a previous node process ran as terminated, keeping its restarts", () => {
    const r = seedRecord(container(), "ContainerCreating", {
      name: "c",
      image: "i",
      imageID: "",
      ready: true,
      restartCount: 4,
      state: { running: { startedAt: new Date("2026-01-01T00:00:00Z") } },
    });
    expect(r).toMatchObject({
      restartCount: 4,
      state: {
        kind: "terminated",
        exitCode: 137,
        reason: "ContainerStatusUnknown",
        startedAt: "2026-01-01T00:00:00Z",
      },
    });
  });
});
