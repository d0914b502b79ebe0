import {
  closeSync,
  constants,
  mkdirSync,
  openSync,
  readFileSync,
  renameSync,
  writeFileSync,
} from "node:fs";
import { hostname, release } from "node:os";
import { dirname } from "node:path";
import { cacheDir } from "../util/paths.js";
import type { Accelerator } from "./config.js";
import { GUEST_BOOT_MARKER, type GuestImage, guestImage, testGuestKernel } from "./guest-image.js";
import { DEFAULT_QEMU_BINARY } from "./process.js";
import { Vm } from "./vm.js";

/** The spec's `acceleration` field. */
export type AccelerationRequest = "Auto" | "KVM" | "Emulation";

export interface KvmDeviceCheck {
  ok: boolean;
  reason: string;
}

export interface KvmProbeResult {
  usable: boolean;
  reason: string;
  /** How long the test guest took to reach its boot marker under KVM, when it did. */
  bootMs?: number;
  probedAtMs: number;
  hostKey: string;
}

export interface AccelChoice {
  accel: Accelerator;
  /** One sentence for status and logs: why this accelerator. */
  reason: string;
  probe?: KvmProbeResult;
}

export class AccelError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "AccelError";
  }
}

/** /dev/kvm can be opened read-write (necessary, far from sufficient: see probeKvm). */
export function checkKvmDevice(path = "/dev/kvm"): KvmDeviceCheck {
  try {
    closeSync(openSync(path, constants.O_RDWR));
    return { ok: true, reason: `${path} is accessible` };
  } catch (err) {
    return { ok: false, reason: `${path}: ${(err as NodeJS.ErrnoException).code ?? err}` };
  }
}

/** Pure decision from the facts gathered; throws only for an unsatisfiable `KVM`. */
export function decideAccel(
  request: AccelerationRequest,
  device: KvmDeviceCheck,
  probe: KvmProbeResult | undefined,
): AccelChoice {
  if (request === "Emulation") return { accel: "tcg", reason: "Emulation requested" };
  if (!device.ok) {
    if (request === "KVM") throw new AccelError(`KVM requested but unavailable: ${device.reason}`);
    return { accel: "tcg", reason: `KVM unavailable (${device.reason})` };
  }
  if (!probe) throw new Error("decideAccel: a KVM probe result is required when /dev/kvm opens");
  if (probe.usable) {
    return { accel: "kvm", reason: `KVM probe booted a guest in ${probe.bootMs} ms`, probe };
  }
  if (request === "KVM") {
    throw new AccelError(`KVM requested but cannot run guests here: ${probe.reason}`);
  }
  return { accel: "tcg", reason: `KVM present but unusable (${probe.reason})`, probe };
}

/** A probe result applies to the same host, kernel and QEMU, for a limited time. */
export function probeIsFresh(
  cached: KvmProbeResult | undefined,
  hostKey: string,
  nowMs: number,
  ttlMs: number,
): cached is KvmProbeResult {
  return !!cached && cached.hostKey === hostKey && nowMs - cached.probedAtMs < ttlMs;
}

export function hostKey(qemuBinary: string): string {
  return `${hostname()} ${release()} ${qemuBinary}`;
}

export interface ProbeOptions {
  image?: GuestImage;
  /**
   * A sane KVM boots the test guest in well under a second; TCG takes about 2.5 s. Past
   * this deadline KVM is no faster than emulation, so it is not worth its risks.
   */
  deadlineMs?: number;
  qemuBinary?: string;
}

/**
 * Boot the test guest under KVM with a deadline. Opening /dev/kvm proves little: on hosts
 * with nested software virtualisation KVM accepts a VM, then crawls or stalls in the guest.
 */
export async function probeKvm(opts: ProbeOptions = {}): Promise<KvmProbeResult> {
  const qemuBinary = opts.qemuBinary ?? DEFAULT_QEMU_BINARY;
  const base = { probedAtMs: Date.now(), hostKey: hostKey(qemuBinary) };
  const deadlineMs = opts.deadlineMs ?? 5_000;
  try {
    const image = opts.image ?? guestImage();
    const vm = await Vm.start({
      accel: "kvm",
      qemuBinary,
      bootTimeoutMs: deadlineMs,
      exitOnReboot: true,
      readiness: { kind: "marker", marker: GUEST_BOOT_MARKER },
      config: {
        name: "kvm-probe",
        machine: "q35",
        cores: 1,
        memoryMiB: 128,
        kernel: testGuestKernel("q35", image),
        disks: [],
      },
    });
    const bootMs = vm.bootMs ?? deadlineMs;
    await vm.kill();
    return { ...base, usable: true, reason: `test guest booted in ${bootMs} ms`, bootMs };
  } catch (err) {
    const msg = (err as Error).message.split("\n")[0] ?? String(err);
    const reason = msg.startsWith("guest not ready")
      ? `test guest did not boot within ${deadlineMs} ms`
      : msg;
    return { ...base, usable: false, reason };
  }
}

export interface ChooseOptions {
  qemuBinary?: string;
  devicePath?: string;
  /** Where the per-host probe result is cached. */
  cacheFile?: string;
  /** Default 6 h: long enough that launchers rarely pay the probe, short enough to notice. */
  ttlMs?: number;
  probe?: () => Promise<KvmProbeResult>;
}

/**
 * Resolve the spec's acceleration to an accelerator and a reason. The KVM probe runs at most
 * once per host per TTL (cached in the cache directory) and is bounded by its deadline.
 */
export async function chooseAccelerator(
  request: AccelerationRequest,
  opts: ChooseOptions = {},
): Promise<AccelChoice> {
  if (request === "Emulation") return decideAccel(request, { ok: false, reason: "" }, undefined);
  const device = checkKvmDevice(opts.devicePath);
  if (!device.ok) return decideAccel(request, device, undefined);
  const qemuBinary = opts.qemuBinary ?? DEFAULT_QEMU_BINARY;
  const file = opts.cacheFile ?? cacheDir("accel", "kvm-probe.json");
  const key = hostKey(qemuBinary);
  let probe = readCache(file);
  if (!probeIsFresh(probe, key, Date.now(), opts.ttlMs ?? 6 * 3600_000)) {
    probe = await (opts.probe ?? (() => probeKvm({ qemuBinary })))();
    // Only an optimisation: in a pod the cache dir may be on the read-only root filesystem.
    try {
      writeCache(file, probe);
    } catch {}
  }
  return decideAccel(request, device, probe);
}

function readCache(file: string): KvmProbeResult | undefined {
  try {
    return JSON.parse(readFileSync(file, "utf8")) as KvmProbeResult;
  } catch {
    return undefined;
  }
}

/** Atomic replace: concurrent launchers may probe at once; each reader sees a whole file. */
function writeCache(file: string, result: KvmProbeResult): void {
  mkdirSync(dirname(file), { recursive: true });
  const tmp = `${file}.${process.pid}`;
  writeFileSync(tmp, `${JSON.stringify(result)}\n`);
  renameSync(tmp, file);
}
