import { describe, expect, it } from "vitest";
import { StartGate } from "../../../src/launcher/start-gate.js";

describe("launcher start gate", () => {
  it("waits until opened, reports waiting meanwhile, and opens once", async () => {
    const gate = new StartGate();
    expect(gate.waiting).toBe(false);
    const result = gate.wait(60_000);
    expect(gate.waiting).toBe(true);
    expect(gate.open()).toBe(true);
    expect(await result).toBe("opened");
    expect(gate.waiting).toBe(false);
    // A repeated POST /start is idempotent: it never starts a second guest.
    expect(gate.open()).toBe(false);
    expect(await gate.wait(60_000)).toBe("opened");
  });

  it("gives up after its wait when nobody opens it", async () => {
    const gate = new StartGate();
    expect(await gate.wait(1)).toBe("timedOut");
    expect(gate.waiting).toBe(false);
    expect(gate.isOpen).toBe(false);
  });
});
