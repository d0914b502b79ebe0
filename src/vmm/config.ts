/**
 * What the VMM runs: a fully resolved guest, with every disk already a host file and every
 * port already given its host address. The launcher maps a VirtualMachine spec to this after
 * preparing disks; nothing here knows about Kubernetes.
 */
export type MachineType = "q35" | "microvm";
export type Accelerator = "kvm" | "tcg";

export interface DiskConfig {
  /** Shown to the guest as the virtio-blk serial (truncated to 20 bytes by QEMU). */
  name: string;
  path: string;
  format: "raw" | "qcow2";
  readOnly: boolean;
  /** Firmware boot order (QEMU `bootindex`, lowest first); unset disks come after. */
  bootIndex?: number;
  /** `path` is a block device (a PVC in block mode), not a file: QEMU's host_device driver. */
  device?: boolean;
}

/**
 * What boots a guest that has no `kernel`: SeaBIOS, or OVMF with the VM's own writable
 * copy of a vars template (`prepareUefiVars`). Secure Boot needs the secboot code build
 * and vars with keys enrolled (`OVMF_VARS_4M.ms.fd`); `codePath` defaults by `secureBoot`.
 */
export type FirmwareConfig =
  | { type: "bios" }
  | { type: "uefi"; secureBoot: boolean; codePath?: string; varsPath: string };

export interface NetworkConfig {
  /** Host ports forwarded to the guest; the only way in. */
  ports: PortForward[];
  /**
   * Confine the guest: no packet leaves through the host (QEMU user-mode `restrict=on`),
   * neither to the host itself nor beyond; forwarded ports still work. Tests and benches
   * set it; the product default lets guests reach out.
   */
  restrictOutbound?: boolean;
}

export interface PortForward {
  protocol: "tcp" | "udp";
  /** Host address QEMU listens on; a migration target must use one the source does not. */
  hostAddress: string;
  hostPort: number;
  guestPort: number;
}

export interface GuestConfig {
  name: string;
  machine: MachineType;
  cores: number;
  memoryMiB: number;
  /** Direct kernel boot. Absent: the firmware boots the disks (by `bootIndex`). */
  kernel?: { path: string; initrdPath?: string; cmdline?: string };
  /** Default SeaBIOS (q35). Not for microvm, which always boots a kernel directly. */
  firmware?: FirmwareConfig;
  disks: DiskConfig[];
  /** Present: one virtio NIC on QEMU user-mode networking. Absent: no NIC at all. */
  network?: NetworkConfig;
  /**
   * Present: a virtio-serial port `org.qemu.guest_agent.0` on a unix socket QEMU listens on
   * (one client at a time: use `Vm.agent`, which connects to it).
   */
  agent?: { socket: string };
  /** Overrides the per-accelerator default CPU model. */
  cpuModel?: string;
  /**
   * Present: a standard VGA adapter (q35 only: it is a PCI device), its screen served as VNC
   * on this unix socket and nowhere else. Absent: no display device at all.
   */
  graphics?: { vncSocket: string };
}

/** How this particular QEMU process is started; not part of the guest's identity. */
export interface LaunchOptions {
  accel: Accelerator;
  qmpSocket: string;
  serialSocket: string;
  /** Start with vCPUs stopped (-S), so nothing the guest prints is lost before we attach. */
  startPaused: boolean;
  /** Wait for an incoming migration (-incoming defer) instead of booting. */
  incoming: boolean;
  /** Turn a guest reboot into a QEMU exit (-no-reboot): used where a reboot means failure. */
  exitOnReboot: boolean;
  /**
   * Host TSC rate (kHz). A microvm has no HPET or PM timer, so under TCG the guest kernel
   * must calibrate its TSC against the PIT, which fails on a busy host and leaves the boot
   * stalled; given this rate the kernel skips calibration (tsc_early_khz).
   */
  hostTscKhz?: number;
}

export class GuestConfigError extends Error {
  constructor(
    readonly field: string,
    message: string,
  ) {
    super(`${field}: ${message}`);
    this.name = "GuestConfigError";
  }
}
