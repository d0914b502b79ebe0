import { isIPv4 } from "node:net";
import {
  type Accelerator,
  type DiskConfig,
  type GuestConfig,
  GuestConfigError,
  type LaunchOptions,
  type MachineType,
} from "./config.js";
import { firmwareArgs } from "./firmware.js";

/** The user-mode network backend's id: HMP hostfwd_add/remove name it. */
export const NETDEV_ID = "net0";
/** The guest agent's virtio-serial port: QEMU's VSERPORT_CHANGE names it by this id. */
export const AGENT_PORT_ID = "agent0";
/** The port name qemu-ga looks for in the guest (/dev/virtio-ports/…). */
export const AGENT_PORT_NAME = "org.qemu.guest_agent.0";
/**
 * QEMU's own seccomp filter, on top of the pod's RuntimeDefault profile: a guest that
 * breaks out into QEMU still cannot use obsolete syscalls, gain privileges (setuid…),
 * start programs (fork/exec: a migration `exec:` URI is refused anyway) or change
 * scheduling and resource limits. Nothing QEMU does for us needs any of these.
 */
export const QEMU_SANDBOX =
  "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny";
/** sun_path holds 108 bytes including the terminating NUL. */
const MAX_SOCKET_PATH = 107;

/**
 * TCG's translation cache, MiB. QEMU's default is 1 GiB, touched as the guest runs new code:
 * a booting Debian grows QEMU past a pod's memory limit (measured on real nodes: OOM-killed at
 * 655 MiB resident for a 512 MiB guest). Bounded here and counted in the launcher pod's
 * memory (src/operator/vm/launcher-pod.ts); a full cache is flushed, not grown.
 */
export const TCG_TB_SIZE_MIB = 128;

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
function virtioDevice(machine: MachineType, kind: "blk" | "net" | "rng" | "serial"): string {
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
  validateBoot(c);
  for (const [i, d] of c.disks.entries()) {
    if (!d.path) throw new GuestConfigError(`disks[${i}].path`, "is required");
  }
  if (c.agent !== undefined) {
    const path = c.agent.socket;
    if (!path) throw new GuestConfigError("agent.socket", "is required");
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
      throw new GuestConfigError("agent.socket", `longer than ${MAX_SOCKET_PATH} bytes`);
    }
  }
  if (c.graphics !== undefined) {
    if (c.machine !== "q35")
      throw new GuestConfigError("graphics", "needs q35 (microvm has no PCI)");
    const path = c.graphics.vncSocket;
    if (!path) throw new GuestConfigError("graphics.vncSocket", "is required");
    if (Buffer.byteLength(path) > MAX_SOCKET_PATH) {
      throw new GuestConfigError("graphics.vncSocket", `longer than ${MAX_SOCKET_PATH} bytes`);
    }
    // -vnc takes key=value options: a comma would start a new option.
    if (path.includes(","))
      throw new GuestConfigError("graphics.vncSocket", "must not hold a comma");
  }
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

/** What boots the guest: a kernel, or firmware reading the disks. */
function validateBoot(c: GuestConfig): void {
  if (c.kernel) {
    if (!c.kernel.path) throw new GuestConfigError("kernel.path", "is required");
  } else if (c.machine === "microvm") {
    throw new GuestConfigError("kernel", "is required on microvm (it has no disk firmware)");
  } else if (c.disks.length === 0) {
    throw new GuestConfigError("kernel", "is required when there is no disk to boot from");
  }
  const fw = c.firmware;
  if (fw && c.machine === "microvm") {
    throw new GuestConfigError("firmware", "is not supported on microvm (it boots a kernel)");
  }
  if (fw?.type === "uefi") {
    if (!fw.varsPath) throw new GuestConfigError("firmware.varsPath", "is required for uefi");
    if (fw.codePath === "") throw new GuestConfigError("firmware.codePath", "must not be empty");
  }
  const indexes = new Set<number>();
  for (const [i, d] of c.disks.entries()) {
    if (d.bootIndex === undefined) continue;
    const field = `disks[${i}].bootIndex`;
    if (!Number.isInteger(d.bootIndex) || d.bootIndex < 0 || d.bootIndex > 1000) {
      throw new GuestConfigError(field, `must be an integer 0..1000, got ${d.bootIndex}`);
    }
    if (indexes.has(d.bootIndex)) throw new GuestConfigError(field, `${d.bootIndex} used twice`);
    indexes.add(d.bootIndex);
  }
}

/**
 * The complete QEMU argv (without the binary). Pure: the same inputs always give the same
 * command line, which is what lets a migration target be started identical to its source.
 */
export function buildQemuArgs(config: GuestConfig, launch: LaunchOptions): string[] {
  validateGuestConfig(config);
  const { machine } = config;
  const firmware = firmwareArgs(machine, config.firmware);
  const args = [
    // Nothing implicit: every device is one we asked for, so source and target match.
    "-nodefaults",
    "-no-user-config",
    "-sandbox",
    QEMU_SANDBOX,
    "-display",
    "none",
    "-name",
    `guest=${config.name}`,
    "-machine",
    [machine, ...firmware.machineOptions].join(","),
    "-accel",
    launch.accel === "tcg" ? `tcg,tb-size=${TCG_TB_SIZE_MIB}` : launch.accel,
    "-cpu",
    config.cpuModel ?? defaultCpuModel(launch.accel),
    "-smp",
    `${config.cores},sockets=1,cores=${config.cores},threads=1`,
    "-m",
    `${config.memoryMiB}M`,
    ...firmware.args,
  ];
  if (config.kernel) args.push(...kernelArgs(config.kernel, machine, launch));

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

  for (const [i, disk] of config.disks.entries()) args.push(...diskArgs(machine, disk, i));

  if (config.network) {
    const fwd = config.network.ports.map(
      (p) => `,hostfwd=${p.protocol}:${p.hostAddress}:${p.hostPort}-:${p.guestPort}`,
    );
    // restrict=on drops every packet the guest sends beyond slirp itself (to the host, to
    // the world); host forwards are exempt, so the declared ports still work.
    const restrict = config.network.restrictOutbound ? ",restrict=on" : "";
    args.push("-netdev", `user,id=${NETDEV_ID}${restrict}${fwd.join("")}`);
    // No option ROM: nobody boots from the network here, and iPXE only slows firmware down.
    const rom = machine === "q35" ? ",romfile=" : "";
    args.push("-device", `${virtioDevice(machine, "net")},netdev=net0,id=net0-dev${rom}`);
  }

  // Entropy from the host: a guest never stalls at boot waiting for its own (sshd, TLS).
  args.push(
    "-object",
    "rng-random,id=rng0,filename=/dev/urandom",
    "-device",
    `${virtioDevice(machine, "rng")},rng=rng0,id=rng0-dev`,
  );

  if (config.graphics) {
    // std VGA renders SeaBIOS/OVMF and the Linux text console (vgacon, bochs-drm) alike.
    // VNC on a unix socket only: never a network port; the launcher relays it over mTLS.
    args.push("-device", "VGA,id=video0", "-vnc", `unix:${config.graphics.vncSocket}`);
  }

  if (config.agent) {
    args.push(
      "-chardev",
      `socket,id=agent0-chr,path=${config.agent.socket},server=on,wait=off`,
      "-device",
      `${virtioDevice(machine, "serial")},id=vser0`,
      "-device",
      `virtserialport,bus=vser0.0,chardev=agent0-chr,name=${AGENT_PORT_NAME},id=${AGENT_PORT_ID}`,
    );
  }

  if (launch.exitOnReboot) args.push("-no-reboot");
  if (launch.startPaused) args.push("-S");
  if (launch.incoming) args.push("-incoming", "defer");
  return args;
}

function kernelArgs(
  kernel: NonNullable<GuestConfig["kernel"]>,
  machine: MachineType,
  launch: LaunchOptions,
): string[] {
  const args = ["-kernel", kernel.path];
  if (kernel.initrdPath) args.push("-initrd", kernel.initrdPath);
  let cmdline = kernelCmdline(kernel.cmdline);
  const calibrationless = machine === "microvm" && launch.accel === "tcg";
  if (calibrationless && launch.hostTscKhz && !cmdline.includes("tsc_early_khz=")) {
    cmdline += ` tsc_early_khz=${launch.hostTscKhz}`;
  }
  args.push("-append", cmdline);
  return args;
}

function diskArgs(machine: MachineType, disk: DiskConfig, index: number): string[] {
  const node = diskNodeName(index);
  // JSON syntax: host paths may contain commas, which the key=value syntax cannot carry.
  const blockdev = {
    driver: disk.format,
    "node-name": node,
    "read-only": disk.readOnly,
    file: {
      driver: disk.device ? "host_device" : "file",
      filename: disk.path,
      "node-name": `${node}-file`,
      "read-only": disk.readOnly,
    },
  };
  const boot = disk.bootIndex === undefined ? "" : `,bootindex=${disk.bootIndex}`;
  return [
    "-blockdev",
    JSON.stringify(blockdev),
    "-device",
    `${virtioDevice(machine, "blk")},drive=${node},id=${node}-dev,serial=${disk.name.slice(0, 20)}${boot}`,
  ];
}
