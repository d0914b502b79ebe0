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
  /** Firmware boot priority (1 = first); absent: firmware does not boot from this disk. */
  bootIndex?: number;
  /** `path` is a block device, not a file. */
  device?: boolean;
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
  kernel: { path: string; initrdPath?: string; cmdline?: string };
  disks: DiskConfig[];
  /** Present: one virtio NIC on QEMU user-mode networking. Absent: no NIC at all. */
  network?: { ports: PortForward[] };
  /** Overrides the per-accelerator default CPU model. */
  cpuModel?: string;
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
