import { afterEach } from "vitest";
import { chooseAccelerator } from "../../../src/vmm/accel.js";
import type { Accelerator, GuestConfig, MachineType } from "../../../src/vmm/config.js";
import {
  GUEST_BOOT_MARKER,
  GUEST_COUNTER_RE,
  testGuestKernel,
} from "../../../src/vmm/guest-image.js";
import { Vm, type VmOptions } from "../../../src/vmm/vm.js";

/** Every test runs under TCG; under KVM too where the host's probe says KVM boots guests. */
export async function acceleratorsUnderTest(): Promise<Accelerator[]> {
  const choice = await chooseAccelerator("Auto");
  console.log(
    `[vmm tests] accelerators: tcg${choice.accel === "kvm" ? ", kvm" : ""} (Auto → ${choice.accel}: ${choice.reason})`,
  );
  return choice.accel === "kvm" ? ["tcg", "kvm"] : ["tcg"];
}

export function testGuest(overrides: Partial<GuestConfig> = {}): GuestConfig {
  const machine: MachineType = overrides.machine ?? "q35";
  return {
    name: "vmm-test",
    machine,
    cores: 1,
    memoryMiB: 256,
    kernel: testGuestKernel(machine),
    disks: [],
    ...overrides,
  };
}

const running = new Set<Vm>();

/** Boot the test guest to its marker; the VM is killed after the test whatever happens. */
export async function bootTestGuest(
  accel: Accelerator,
  opts: Partial<VmOptions> & { config?: GuestConfig } = {},
): Promise<Vm> {
  const vm = await Vm.start({
    accel,
    readiness: { kind: "marker", marker: GUEST_BOOT_MARKER },
    bootTimeoutMs: 30_000,
    exitOnReboot: true,
    config: testGuest(),
    ...opts,
  });
  track(vm);
  return vm;
}

export function track(vm: Vm): Vm {
  running.add(vm);
  return vm;
}

afterEach(async () => {
  await Promise.all([...running].map((vm) => vm.kill()));
  running.clear();
});

export interface CounterSample {
  n: number;
  uptime: number;
  atMs: number;
}

/** Collects the guest's counter lines (with host arrival times) from one or more consoles. */
export class CounterLog {
  readonly samples: CounterSample[] = [];

  listen(vm: Vm, replay = false): void {
    vm.console.attachLines(
      (line, atMs) => {
        const m = GUEST_COUNTER_RE.exec(line);
        if (m) this.samples.push({ n: Number(m[1]), uptime: Number(m[2]), atMs });
      },
      { replay },
    );
  }

  get last(): CounterSample | undefined {
    return this.samples.at(-1);
  }

  /** Consecutive samples whose counter did not advance by exactly one. */
  breaks(): [CounterSample, CounterSample][] {
    return this.samples.slice(1).flatMap((s, i) => {
      const prev = this.samples[i] as CounterSample;
      return s.n === prev.n + 1 ? [] : [[prev, s] as [CounterSample, CounterSample]];
    });
  }

  /** Largest host-side gap between consecutive lines among those arriving in [fromMs, toMs]. */
  maxGapMs(fromMs = 0, toMs = Number.POSITIVE_INFINITY): number {
    let max = 0;
    for (let i = 1; i < this.samples.length; i++) {
      const a = this.samples[i - 1] as CounterSample;
      const b = this.samples[i] as CounterSample;
      if (b.atMs >= fromMs && a.atMs <= toMs) max = Math.max(max, b.atMs - a.atMs);
    }
    return max;
  }

  /**
   * Largest stretch the guest did not run, per consecutive pair: host-side gap minus guest
   * uptime progress. The guest's clock stands still while it is paused (or in flight during
   * a migration) but runs on while its vCPU thread merely waits for a busy host CPU, so this
   * isolates the pause from host load, which also slows the guest while RAM is copied.
   */
  maxStallMs(): number {
    let max = 0;
    for (let i = 1; i < this.samples.length; i++) {
      const a = this.samples[i - 1] as CounterSample;
      const b = this.samples[i] as CounterSample;
      max = Math.max(max, b.atMs - a.atMs - (b.uptime - a.uptime) * 1000);
    }
    return max;
  }

  async waitForMore(count: number, timeoutMs = 10_000): Promise<void> {
    const target = this.samples.length + count;
    const deadline = Date.now() + timeoutMs;
    while (this.samples.length < target) {
      if (Date.now() > deadline) throw new Error(`counter stalled at ${this.last?.n}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }
}

/** A port nobody listens on at `host` right now: the launcher's own helper. */
export { freePort } from "../../../src/launcher/migration/net.js";
