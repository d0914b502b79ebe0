import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { AccelError, chooseAccelerator, type KvmProbeResult } from "../../../src/vmm/accel.js";

const dir = mkdtempSync(join(tmpdir(), "kv-accel-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A stand-in for /dev/kvm that opens read-write, as on these machines. */
const device = join(dir, "kvm");
writeFileSync(device, "");

const unusable: KvmProbeResult = {
  usable: false,
  reason: "test guest did not boot within 5000 ms",
  probedAtMs: Date.now(),
  hostKey: "h",
};

describe("chooseAccelerator where /dev/kvm opens but cannot run a guest", () => {
  // A read-only root filesystem (launcher pods): the probe cache cannot be written.
  const opts = {
    devicePath: device,
    // Its "directory" is a file: no write can succeed (like EROFS on a read-only root).
    cacheFile: join(device, "kvm-probe.json"),
    probe: async () => unusable,
  };

  it("Auto falls back to emulation with the probe's reason", async () => {
    const choice = await chooseAccelerator("Auto", opts);
    expect(choice.accel).toBe("tcg");
    expect(choice.reason).toBe("KVM present but unusable (test guest did not boot within 5000 ms)");
  });

  it("KVM fails, naming the probe's reason", async () => {
    const err = await chooseAccelerator("KVM", opts).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AccelError);
    expect((err as Error).message).toBe(
      "KVM requested but cannot run guests here: test guest did not boot within 5000 ms",
    );
  });
});
