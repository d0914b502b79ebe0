import { z } from "zod";
import { GROUP } from "./common.js";

/**
 * The contract between the operator and the launcher pods it creates: labels, the files
 * mounted into the pod, the port, and the shape of the launcher API's answers. Both sides
 * import this module; neither imports the other.
 */
export const LABEL_VM = `${GROUP}/vm`;
export const LABEL_COMPONENT = `${GROUP}/component`;
export const LABEL_MANAGED_BY = "app.kubernetes.io/managed-by";
export const COMPONENT_LAUNCHER = "launcher";

/** Pod annotation carrying the VM (name, namespace, uid, spec) the pod runs, as JSON. */
export const ANNOTATION_VM_SPEC = `${GROUP}/vm-spec`;
/** Pod annotation saying whether the pod is a migration target ("true") or a normal launch. */
export const ANNOTATION_MIGRATION_TARGET = `${GROUP}/migration-target`;

export const LAUNCHER_PORT = 8443;
/**
 * Plain-HTTP port serving only GET /healthz and GET /readyz on the pod IP: kubelet probes
 * cannot present the client certificate the mutual-TLS API on LAUNCHER_PORT demands.
 */
export const LAUNCHER_PROBE_PORT = 8444;
export const LAUNCHER_CONTAINER = "launcher";
export const LAUNCHER_SPEC_DIR = "/var/run/kubevisor/vm";
export const LAUNCHER_SPEC_FILE = "vm.json";
export const LAUNCHER_TLS_DIR = "/var/run/kubevisor/tls";
export const LAUNCHER_DISKS_DIR = "/var/run/kubevisor/disks";
/** Where a container-disk image's files appear inside the launcher pod: one dir per image. */
export const LAUNCHER_IMAGES_DIR = "/var/run/kubevisor/images";

/** TLS server name the launcher certificate carries; pod IPs are not known when it is issued. */
export function launcherServerName(namespace: string, vmName: string): string {
  return `${vmName}.${namespace}.launcher.${GROUP}`;
}

/** Why a launcher process ended, written to the container's termination message. */
export const LauncherExitReason = z.enum([
  "GuestShutdown",
  "GuestStopped",
  "GuestCrashed",
  "BootFailed",
  "Migrated",
  "ConfigError",
]);
export type LauncherExitReason = z.infer<typeof LauncherExitReason>;

/** Exit codes of the launcher process: the pod phase follows from them. */
export const LAUNCHER_EXIT = { ok: 0, guestFailed: 1, configError: 2 } as const;

export const LauncherPhase = z.enum([
  "Preparing",
  "Starting",
  "Running",
  "Paused",
  "WaitingForMigration",
  "Migrating",
  "Migrated",
  "Stopping",
  "Stopped",
  "Failed",
]);
export type LauncherPhase = z.infer<typeof LauncherPhase>;

export const LauncherStatus = z.object({
  phase: LauncherPhase,
  acceleration: z.enum(["KVM", "TCG"]).optional(),
  accelerationReason: z.string().optional(),
  qemuStatus: z.string().optional().describe("QEMU's own run state from query-status"),
  startedAt: z.string().optional(),
  bootTimeMs: z.number().nonnegative().optional(),
  message: z.string().optional(),
});
export type LauncherStatus = z.infer<typeof LauncherStatus>;
