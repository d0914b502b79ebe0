import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { cacheDir } from "../util/paths.js";
import type { GuestConfig, MachineType } from "./config.js";

/**
 * The project's test guest: a Debian kernel plus a busybox initramfs (built by
 * `npm run guest`, see scripts/build-guest.ts). Its console protocol is shared here so the
 * build script, the accelerator probe, tests and benchmarks agree on it.
 */
export const GUEST_BOOT_MARKER = "KUBEVISOR-GUEST-BOOTED";
/** Printed by the guest's background counter: `kubevisor-counter <n> <guest uptime s>`. */
export const GUEST_COUNTER_PREFIX = "kubevisor-counter";
export const GUEST_COUNTER_RE = /kubevisor-counter (\d+) (\d+\.\d+)/;
/** Printed by the guest right before it powers off on an ACPI power-button press. */
export const GUEST_POWEROFF_MARKER = "KUBEVISOR-GUEST-POWEROFF";
/** Kernel command line the test guest is meant to boot with (console on the first UART). */
export const GUEST_CMDLINE = "console=ttyS0 panic=-1 quiet";

/** What `guestImage()` resolves: a container-disk-style directory and its files. */
export interface GuestImage {
  dir: string;
  /** bzImage, usable by every machine type. */
  kernel: string;
  /** The same kernel unpacked to its PVH-capable ELF; boots ~0.5 s faster under TCG. */
  vmlinux: string;
  initrd: string;
  kernelVersion: string;
}

/** Directory holding the current test-guest image (`KUBEVISOR_GUEST_DIR` overrides). */
export function guestImageDir(): string {
  return process.env.KUBEVISOR_GUEST_DIR ?? cacheDir("guest", "current");
}

/** Resolve the test guest's files, failing with instructions when it has not been built. */
export function guestImage(dir: string = guestImageDir()): GuestImage {
  const manifestPath = join(dir, "manifest.json");
  if (!existsSync(manifestPath)) {
    throw new Error(`test guest not found in ${dir}: run \`npm run guest\` first`);
  }
  const manifest = JSON.parse(readFileSync(manifestPath, "utf8")) as { kernelVersion: string };
  return {
    dir,
    kernel: join(dir, "boot", "vmlinuz"),
    vmlinux: join(dir, "boot", "vmlinux"),
    initrd: join(dir, "boot", "initrd.img"),
    kernelVersion: manifest.kernelVersion,
  };
}

/** How `machine` boots the test guest: q35 the PVH ELF (faster under TCG), microvm the bzImage. */
export function testGuestKernel(
  machine: MachineType,
  image: GuestImage = guestImage(),
): GuestConfig["kernel"] {
  return {
    path: machine === "q35" ? image.vmlinux : image.kernel,
    initrdPath: image.initrd,
    cmdline: GUEST_CMDLINE,
  };
}
