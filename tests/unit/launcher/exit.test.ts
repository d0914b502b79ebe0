import { describe, expect, it } from "vitest";
import {
  gracefulShutdownMs,
  launcherExit,
  outcomeOfQemuEnd,
  type QemuEnd,
} from "../../../src/launcher/exit.js";

const end = (over: Partial<QemuEnd>): QemuEnd => ({
  reason: "unexpected",
  code: null,
  signal: null,
  stderr: "",
  stopRequested: false,
  panicked: false,
  ...over,
});

describe("launcherExit", () => {
  it("maps each outcome to its exit code and reason", () => {
    expect(launcherExit({ kind: "guestShutdown" })).toEqual({
      code: 0,
      reason: "GuestShutdown",
      message: "the guest powered off",
    });
    expect(launcherExit({ kind: "stopped", message: "m" })).toMatchObject({
      code: 0,
      reason: "GuestStopped",
    });
    expect(launcherExit({ kind: "crashed", message: "m" })).toMatchObject({
      code: 1,
      reason: "GuestCrashed",
    });
    expect(launcherExit({ kind: "bootFailed", message: "m" })).toMatchObject({
      code: 1,
      reason: "BootFailed",
    });
    expect(launcherExit({ kind: "configError", message: "m" })).toMatchObject({
      code: 2,
      reason: "ConfigError",
    });
    // A source whose guest moved away ended well; a target whose guest never came did not.
    expect(launcherExit({ kind: "migrated", message: "m" })).toMatchObject({
      code: 0,
      reason: "Migrated",
    });
    expect(launcherExit({ kind: "migrationFailed", message: "m" })).toMatchObject({
      code: 1,
      reason: "MigrationFailed",
    });
  });
});

describe("outcomeOfQemuEnd", () => {
  it("a guest that powers off by itself shut down", () => {
    expect(outcomeOfQemuEnd(end({ reason: "guest-shutdown", code: 0 }))).toEqual({
      kind: "guestShutdown",
    });
  });

  it("anything ending after a stop request is a stop, graceful or not", () => {
    expect(
      outcomeOfQemuEnd(end({ reason: "guest-shutdown", stopRequested: true, stopRequest: "acpi" })),
    ).toMatchObject({
      kind: "stopped",
      message: "the guest shut down on request (ACPI power button)",
    });
    expect(
      outcomeOfQemuEnd(
        end({ reason: "guest-shutdown", stopRequested: true, stopRequest: "agent" }),
      ),
    ).toMatchObject({
      kind: "stopped",
      message: "the guest shut down on request through its agent",
    });
    expect(outcomeOfQemuEnd(end({ reason: "killed", stopRequested: true }))).toMatchObject({
      kind: "stopped",
      message: expect.stringMatching(/did not shut down in time/),
    });
  });

  it("QEMU dying on its own is a crash, with its last words", () => {
    expect(outcomeOfQemuEnd(end({ signal: "SIGKILL", stderr: "a\nb\nc\nd" }))).toEqual({
      kind: "crashed",
      message: "QEMU exited unexpectedly (signal SIGKILL): b c d",
    });
    expect(outcomeOfQemuEnd(end({ code: 1 }))).toMatchObject({
      message: "QEMU exited unexpectedly (code 1)",
    });
  });

  it("a panic is a crash even when it ended in a shutdown", () => {
    expect(outcomeOfQemuEnd(end({ reason: "killed", panicked: true }))).toMatchObject({
      kind: "crashed",
    });
    expect(
      outcomeOfQemuEnd(end({ reason: "guest-shutdown", shutdownReason: "guest-panic" })),
    ).toMatchObject({ kind: "crashed" });
  });
});

describe("gracefulShutdownMs", () => {
  it("leaves a margin for the hard stop inside the grace period", () => {
    expect(gracefulShutdownMs(30)).toBe(25_000);
    expect(gracefulShutdownMs(10)).toBe(8_000);
    expect(gracefulShutdownMs(2)).toBe(1_000);
    expect(gracefulShutdownMs(0)).toBe(0);
  });
});
