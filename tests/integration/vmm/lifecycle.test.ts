import { readdirSync, readFileSync } from "node:fs";
import { setTimeout as sleep } from "node:timers/promises";
import { describe, expect, it } from "vitest";
import type { GuestConfig } from "../../../src/vmm/config.js";
import { GUEST_BOOT_MARKER, GUEST_POWEROFF_MARKER } from "../../../src/vmm/guest-image.js";
import { BootTimeoutError, QemuExitedError, Vm } from "../../../src/vmm/vm.js";
import { acceleratorsUnderTest, bootTestGuest, CounterLog, testGuest, track } from "./helpers.js";

const accels = await acceleratorsUnderTest();

describe.each(accels)("VM lifecycle under %s", (accel) => {
  it("boots to the marker, runs console commands, pauses, resumes and shuts down", async () => {
    const vm = await bootTestGuest(accel);
    console.log(`[vmm tests] ${accel} q35 boot to marker: ${vm.bootMs} ms`);
    expect(vm.accel).toBe(accel);

    // A client attaching late still gets the boot output from the replay buffer.
    const late: Buffer[] = [];
    const attachment = vm.console.attach((c) => late.push(c));
    expect(Buffer.concat(late).toString("latin1")).toContain(GUEST_BOOT_MARKER);

    // Typed input reaches the guest shell; the answer (not the echo) comes back.
    const answer = vm.console.waitFor(/hello-3/, { timeoutMs: 10_000 });
    vm.console.write("echo hello-$((1+2))\n");
    await answer;
    attachment.detach();

    const counter = new CounterLog();
    counter.listen(vm);
    await counter.waitForMore(3);
    await vm.pause();
    expect(await vm.runState()).toBe("paused");
    await sleep(100); // let a line already in flight arrive
    const atPause = counter.samples.length;
    await sleep(700);
    expect(counter.samples.length).toBe(atPause); // a paused guest prints nothing
    await vm.resume();
    expect(await vm.runState()).toBe("running");
    await counter.waitForMore(3);
    expect(counter.breaks()).toEqual([]);

    const poweroff = vm.console.waitFor(GUEST_POWEROFF_MARKER, { timeoutMs: 15_000 });
    const status = await vm.shutdown({ timeoutMs: 15_000 });
    await poweroff;
    expect(status).toMatchObject({ code: 0, reason: "guest-shutdown" });
  });

  it("reports QEMU killed from outside, with how it died", async () => {
    const vm = await bootTestGuest(accel);
    const exit = new Promise((resolve) => vm.once("exit", resolve));
    process.kill(vm.pid, "SIGKILL");
    expect(await exit).toMatchObject({ reason: "unexpected", signal: "SIGKILL" });
    await expect(vm.pause()).rejects.toThrow(/closed/);
  });

  it("boots microvm", async () => {
    // Deadline and retry all the same: a stalled boot must never hang the suite.
    const vm = await bootTestGuest(accel, {
      config: testGuest({ machine: "microvm" }),
      bootTimeoutMs: 10_000,
      bootAttempts: 3,
    });
    console.log(`[vmm tests] ${accel} microvm boot to marker: ${vm.bootMs} ms`);
    const answer = vm.console.waitFor(/microvm-6/, { timeoutMs: 10_000 });
    vm.console.write("echo microvm-$((2*3))\n");
    await answer;
  });
});

describe("failures", () => {
  it.each([
    [{ cpuModel: "no-such-cpu" }, /unable to find CPU model 'no-such-cpu'/],
    [
      { kernel: { path: "/nonexistent/vmlinuz" } },
      /could not open kernel file '\/nonexistent\/vmlinuz'/,
    ],
    [
      { disks: [{ name: "d", path: "/nonexistent.img", format: "raw", readOnly: false }] },
      /nonexistent\.img/,
    ],
  ] as const)("surfaces QEMU's own message for a spec it refuses: %j", async (patch, message) => {
    const err = await Vm.start({
      accel: "tcg",
      config: testGuest(patch as Partial<GuestConfig>),
      bootTimeoutMs: 10_000,
    }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(QemuExitedError);
    expect((err as QemuExitedError).message).toMatch(message);
    expect((err as QemuExitedError).status.reason).toBe("unexpected");
  });

  it("gives up on a boot that misses its deadline and leaves no QEMU behind", async () => {
    const name = `deadline-${process.pid}`;
    const err = await Vm.start({
      accel: "tcg",
      config: testGuest({ name }),
      readiness: { kind: "marker", marker: GUEST_BOOT_MARKER },
      bootTimeoutMs: 400,
    })
      .then((vm) => track(vm))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BootTimeoutError);
    expect(qemuProcessesNamed(name)).toEqual([]);
  });
});

/** PIDs of live QEMU processes started for the guest called `name`. */
function qemuProcessesNamed(name: string): number[] {
  return readdirSync("/proc")
    .filter((d) => /^\d+$/.test(d))
    .filter((pid) => {
      try {
        return readFileSync(`/proc/${pid}/cmdline`, "utf8").includes(`guest=${name}\0`);
      } catch {
        return false;
      }
    })
    .map(Number);
}
