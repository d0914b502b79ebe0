import { isIPv4 } from "node:net";
import {
  type Accelerator,
  type GuestConfig,
  GuestConfigError,
  type LaunchOptions,
  type MachineType,
} from "./config.js";

/**
 * Default CPU models. KVM: the host's CPU for speed (both migration ends run on the same
 * kind of node). TCG: `max`, everything TCG can emulate, identical on every host.
 */
export function defaultCpuModel(accel: Accelerator): string {
  return accel === "kvm" ? "host" : "max";
}

/** Block node name of the i-th disk: what QMP block commands (mirroring) address. */
export function diskNodeName(index: number): string {
  return `disk${index}`;
}

/** The console must be on the UART we attach to; keep the user's own console= if given. */
export function kernelCmdline(cmdline: string | undefined): string {
  const user = (cmdline ?? "").trim();
  return /(^|\s)console=/.test(user) ? user : `console=ttyS0 ${user}`.trim();
}

/**
 * virtio transport per machine: q35 has PCI; microvm has only virtio-mmio, which its ACPI
 * tables describe to the guest.
 */
function virtioDevice(machine: MachineType, kind: "blk" | "net"): string {
  return machine === "q35" ? `virtio-${kind}-pci` : `virtio-${kind}-device`;
}

export function validateGuestConfig(c: GuestConfig): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]*$/.test(c.name)) {
    throw new GuestConfigError("name", `"${c.name}" must be alphanumeric with . _ -`);
  }
  if (!Number.isInteger(c.cores) || c.cores < 1 || c.cores > 255) {
    throw new GuestConfigError("cores", `must be an integer 1..255, got ${c.cores}`);
  }
  if (!Number.isInteger(c.memoryMiB) || c.memoryMiB < 16) {
    throw new GuestConfigError("memoryMiB", `must be an integer ≥ 16, got ${c.memoryMiB}`);
  }
  if (!c.kernel.path) throw new GuestConfigError("kernel.path", "is required");
  const seen = new Set<string>();
  for (const [i, p] of (c.network?.ports ?? []).entries()) {
    const field = `network.ports[${i}]`;
    if (!isIPv4(p.hostAddress)) throw new GuestConfigError(field, "hostAddress must be IPv4");
    for (const port of [p.hostPort, p.guestPort]) {
      if (!Number.isInteger(port) || port < 1 || port > 65535) {
        throw new GuestConfigError(field, `port ${port} out of range`);
      }
    }
    const key = `${p.protocol}:${p.hostAddress}:${p.hostPort}`;
    if (seen.has(key)) throw new GuestConfigError(field, `${key} forwarded twice`);
    seen.add(key);
  }
}

/**
 * The complete QEMU argv (without the binary). Pure: the same inputs always give the same
 * command line, which is what lets a migration target be started identical to its source.
 */
export function buildQemuArgs(config: GuestConfig, launch: LaunchOptions): string[] {
  validateGuestConfig(config);
  const { machine } = config;
  const args = [
    // Nothing implicit: every device is one we asked for, so source and target match.
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-name",
    `guest=${config.name}`,
    "-machine",
    machine,
    "-accel",
    launch.accel,
    "-cpu",
    config.cpuModel ?? defaultCpuModel(launch.accel),
    "-smp",
    `${config.cores},sockets=1,cores=${config.cores},threads=1`,
    "-m",
    `${config.memoryMiB}M`,
    "-kernel",
    config.kernel.path,
  ];
  if (config.kernel.initrdPath) args.push("-initrd", config.kernel.initrdPath);
  let cmdline = kernelCmdline(config.kernel.cmdline);
  const calibrationless = machine === "microvm" && launch.accel === "tcg";
  if (calibrationless && launch.hostTscKhz && !cmdline.includes("tsc_early_khz=")) {
    cmdline += ` tsc_early_khz=${launch.hostTscKhz}`;
  }
  args.push("-append", cmdline);

  args.push(
    "-chardev",
    `socket,id=serial0,path=${launch.serialSocket},server=on,wait=off`,
    "-serial",
    "chardev:serial0",
    "-chardev",
    `socket,id=qmp,path=${launch.qmpSocket},server=on,wait=off`,
    "-mon",
    "chardev=qmp,mode=control",
  );

  for (const [i, disk] of config.disks.entries()) {
    const node = diskNodeName(i);
    // JSON syntax: host paths may contain commas, which the key=value syntax cannot carry.
    const blockdev = {
      driver: disk.format,
      "node-name": node,
      "read-only": disk.readOnly,
      file: {
        driver: "file",
        filename: disk.path,
        "node-name": `${node}-file`,
        "read-only": disk.readOnly,
      },
    };
    args.push("-blockdev", JSON.stringify(blockdev));
    args.push(
      "-device",
      `${virtioDevice(machine, "blk")},drive=${node},id=${node}-dev,serial=${disk.name.slice(0, 20)}`,
    );
  }

  if (config.network) {
    const fwd = config.network.ports.map(
      (p) => `,hostfwd=${p.protocol}:${p.hostAddress}:${p.hostPort}-:${p.guestPort}`,
    );
    args.push("-netdev", `user,id=net0${fwd.join("")}`);
    // No option ROM: we boot the kernel directly, so iPXE would only slow firmware down.
    const rom = machine === "q35" ? ",romfile=" : "";
    args.push("-device", `${virtioDevice(machine, "net")},netdev=net0,id=net0-dev${rom}`);
  }

  if (launch.exitOnReboot) args.push("-no-reboot");
  if (launch.startPaused) args.push("-S");
  if (launch.incoming) args.push("-incoming", "defer");
  return args;
}
