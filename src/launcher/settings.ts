import { isIP } from "node:net";
import { join } from "node:path";
import {
  GUEST_OUTBOUND_ENV,
  GuestOutbound,
  LAUNCHER_AWAIT_START_ENV,
  LAUNCHER_CLOUDINIT_DIR,
  LAUNCHER_DISKS_DIR,
  LAUNCHER_IMAGES_DIR,
  LAUNCHER_MIGRATION_TARGET_FILE,
  LAUNCHER_PORT,
  LAUNCHER_PROBE_PORT,
  LAUNCHER_PVC_DEVICES_DIR,
  LAUNCHER_PVCS_DIR,
  LAUNCHER_SPEC_DIR,
  LAUNCHER_SPEC_FILE,
  LAUNCHER_TLS_DIR,
} from "../api/launcher.js";

/**
 * Everything the launcher takes from its environment. In a pod these are the mounted paths
 * of src/api/launcher.ts and POD_IP from the downward API; the KUBEVISOR_* overrides exist
 * so tests and local nodes can run the same process against host directories.
 */
export interface LauncherSettings {
  podIP: string;
  port: number;
  probePort: number;
  specFile: string;
  migrationTargetFile: string;
  tlsDir: string;
  disksDir: string;
  imagesDir: string;
  pvcsDir: string;
  pvcDevicesDir: string;
  cloudInitDir: string;
  /** QEMU's sockets (QMP, serial console, guest agent): private to the launcher. */
  runDir: string;
  /**
   * Whether the guest may open connections beyond the pod (`allow`, the product's default)
   * or only answer on its forwarded ports (`deny`: tests, and nodes that must not be reached
   * from a guest). From the chart through the operator.
   */
  guestOutbound: GuestOutbound;
  terminationLog: string;
  /** Overrides the spec's terminationGracePeriodSeconds (the pod's own grace period). */
  graceSeconds?: number;
  qemuBinary?: string;
  /** Boot deadline: QEMU start until the guest counts as up. */
  bootTimeoutMs: number;
  /**
   * A line the guest prints once booted (the test guest's marker). Unset: the guest counts
   * as up as soon as QEMU runs its vCPUs, since an arbitrary guest prints nothing we know.
   */
  bootMarker?: string;
  /** A migration target gives up when no migration starts within this long. */
  migrationWaitMs: number;
  /**
   * Set by the operator on the pods it creates (LAUNCHER_AWAIT_START_ENV): wait for POST
   * /start before touching disks or starting QEMU. Off for a launcher run by hand.
   */
  awaitStart: boolean;
  /** How long to wait for POST /start before ending with NeverStarted (frees the pod's volumes). */
  startWaitMs: number;
}

/** Generous: a TCG boot of a full distribution on a busy node takes minutes. */
const DEFAULT_BOOT_TIMEOUT_S = 300;
/** Long enough for an operator to restart and pick the migration up again. */
const DEFAULT_MIGRATION_WAIT_S = 300;
/** Longer than an operator restart plus a leader hand-over; a stray pod frees its volumes after it. */
const DEFAULT_START_WAIT_S = 600;

export class SettingsError extends Error {
  override name = "SettingsError";
}

export function settingsFromEnv(env: NodeJS.ProcessEnv): LauncherSettings {
  const podIP = env.POD_IP;
  if (!podIP || !isIP(podIP)) {
    throw new SettingsError(`POD_IP must be the pod's IP address (downward API), got "${podIP}"`);
  }
  const specDir = env.KUBEVISOR_SPEC_DIR ?? LAUNCHER_SPEC_DIR;
  const disksDir = env.KUBEVISOR_DISKS_DIR ?? LAUNCHER_DISKS_DIR;
  const settings: LauncherSettings = {
    podIP,
    port: intFromEnv(env, "KUBEVISOR_LAUNCHER_PORT", LAUNCHER_PORT),
    probePort: intFromEnv(env, "KUBEVISOR_LAUNCHER_PROBE_PORT", LAUNCHER_PROBE_PORT),
    specFile: join(specDir, LAUNCHER_SPEC_FILE),
    migrationTargetFile: join(specDir, LAUNCHER_MIGRATION_TARGET_FILE),
    tlsDir: env.KUBEVISOR_TLS_DIR ?? LAUNCHER_TLS_DIR,
    disksDir,
    imagesDir: env.KUBEVISOR_IMAGES_DIR ?? LAUNCHER_IMAGES_DIR,
    pvcsDir: env.KUBEVISOR_PVCS_DIR ?? LAUNCHER_PVCS_DIR,
    pvcDevicesDir: env.KUBEVISOR_PVC_DEVICES_DIR ?? LAUNCHER_PVC_DEVICES_DIR,
    cloudInitDir: env.KUBEVISOR_CLOUDINIT_DIR ?? LAUNCHER_CLOUDINIT_DIR,
    // The disks dir is the pod's one writable emptyDir; the sockets go in a dir of their own.
    runDir: env.KUBEVISOR_RUN_DIR ?? join(disksDir, "run"),
    guestOutbound: guestOutboundFromEnv(env),
    terminationLog: terminationLogPath(env),
    bootTimeoutMs: intFromEnv(env, "KUBEVISOR_BOOT_TIMEOUT_SECONDS", DEFAULT_BOOT_TIMEOUT_S) * 1000,
    migrationWaitMs:
      intFromEnv(env, "KUBEVISOR_MIGRATION_WAIT_SECONDS", DEFAULT_MIGRATION_WAIT_S) * 1000,
    awaitStart: env[LAUNCHER_AWAIT_START_ENV] === "true",
    startWaitMs: intFromEnv(env, "KUBEVISOR_START_WAIT_SECONDS", DEFAULT_START_WAIT_S) * 1000,
  };
  if (env.KUBEVISOR_BOOT_MARKER) settings.bootMarker = env.KUBEVISOR_BOOT_MARKER;
  if (env.KUBEVISOR_GRACE_SECONDS !== undefined) {
    settings.graceSeconds = intFromEnv(env, "KUBEVISOR_GRACE_SECONDS", 0);
  }
  if (env.KUBEVISOR_QEMU_BINARY) settings.qemuBinary = env.KUBEVISOR_QEMU_BINARY;
  return settings;
}

/** The operator's setting, in the contract's own names (src/api/launcher.ts). */
function guestOutboundFromEnv(env: NodeJS.ProcessEnv): GuestOutbound {
  const raw = env[GUEST_OUTBOUND_ENV];
  if (raw === undefined || raw === "") return "allow";
  const parsed = GuestOutbound.safeParse(raw);
  if (!parsed.success) {
    throw new SettingsError(
      `${GUEST_OUTBOUND_ENV} must be one of ${GuestOutbound.options.join(", ")}, got "${raw}"`,
    );
  }
  return parsed.data;
}

/** Readable even when the rest of the settings are not, so a ConfigError can be reported. */
export function terminationLogPath(env: NodeJS.ProcessEnv): string {
  return env.KUBEVISOR_TERMINATION_LOG ?? "/dev/termination-log";
}

function intFromEnv(env: NodeJS.ProcessEnv, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    throw new SettingsError(`${name} must be a whole number (0-65535), got "${raw}"`);
  }
  return value;
}
