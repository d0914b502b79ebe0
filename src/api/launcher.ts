import { z } from "zod";
import { GROUP } from "./common.js";
import { AcceleratorInUse, GuestInterface, GuestOSInfo } from "./virtualmachine.js";

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

/** Extended resource for /dev/kvm: requested by KVM launcher pods, offered by nodes. */
export const KVM_RESOURCE = `devices.${GROUP}/kvm`;

export const LAUNCHER_PORT = 8443;
/**
 * Plain-HTTP port serving only GET /healthz and GET /readyz on the pod IP: kubelet probes
 * cannot present the client certificate the mutual-TLS API on LAUNCHER_PORT demands.
 */
export const LAUNCHER_PROBE_PORT = 8444;
export const LAUNCHER_CONTAINER = "launcher";
/**
 * Env var the operator sets to "true" on every launcher pod it creates: the launcher then
 * prepares nothing and starts no QEMU until the operator calls POST /start, which it does
 * only for the pod whose UID it recorded in status. A pod whose UID was never recorded
 * (its creator died between create and record, or its create landed after the claim moved
 * on) therefore never runs a guest, whatever the clocks say.
 */
export const LAUNCHER_AWAIT_START_ENV = "KUBEVISOR_AWAIT_START";

/**
 * The user and group launcher pods run as: the image's `USER 65532:65532` (Dockerfile), set
 * again in the pod so Pod Security `restricted` can verify non-root, and as fsGroup so the
 * kubelet makes Secret volumes group-readable to it.
 */
export const LAUNCHER_UID = 65532;
export const LAUNCHER_GID = 65532;
/** Private scratch space (Node.js and QEMU temp files): the root filesystem is read-only. */
export const LAUNCHER_TMP_DIR = "/tmp";
export const LAUNCHER_SPEC_DIR = "/var/run/kubevisor/vm";
export const LAUNCHER_SPEC_FILE = "vm.json";
export const LAUNCHER_TLS_DIR = "/var/run/kubevisor/tls";
export const LAUNCHER_DISKS_DIR = "/var/run/kubevisor/disks";
/** Where a container-disk image's files appear inside the launcher pod: one dir per image. */
export const LAUNCHER_IMAGES_DIR = "/var/run/kubevisor/images";

/**
 * The subject CN of the one client the launcher API admits: the operator's client
 * certificate (the aggregated API server presents one with the same name). Launchers pin it
 * on top of the CA check: their own serving certificates come from the same CA.
 */
export const LAUNCHER_CLIENT_CN = "kubevisor-operator";

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
  /** A migration target whose guest never arrived (or failed to): nothing ran here. */
  "MigrationFailed",
  "ConfigError",
  /** The operator never told this launcher to start (POST /start) within its wait: no guest ran. */
  "NeverStarted",
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
  acceleration: AcceleratorInUse.optional(),
  accelerationReason: z.string().optional(),
  qemuStatus: z.string().optional().describe("QEMU's own run state from query-status"),
  startedAt: z.string().optional(),
  bootTimeMs: z.number().nonnegative().optional(),
  message: z.string().optional(),
  awaitingStart: z
    .boolean()
    .optional()
    .describe("True while the launcher waits for the operator's POST /start (nothing runs yet)"),
  guest: z
    .object({
      agentConnected: z.boolean(),
      osInfo: GuestOSInfo.optional(),
      interfaces: z.array(GuestInterface).max(64).optional(),
    })
    .optional()
    .describe("What the guest agent reports; absent before the launcher first polled it"),
});
export type LauncherStatus = z.infer<typeof LauncherStatus>;

/**
 * Where each persistentVolumeClaim disk's claim is mounted: `${LAUNCHER_PVCS_DIR}/<disk name>`
 * (the disk name, unique in the spec, not the claim name). The guest's disk is the file
 * LAUNCHER_PVC_DISK_FILE in it; the launcher never creates or resizes it.
 */
export const LAUNCHER_PVCS_DIR = "/var/run/kubevisor/pvcs";
export const LAUNCHER_PVC_DISK_FILE = "disk.img";
/**
 * Where each block-mode (`volumeMode: Block`) persistentVolumeClaim disk appears as a device:
 * `${LAUNCHER_PVC_DEVICES_DIR}/<disk name>` (a pod `volumeDevices` entry). The launcher uses the
 * device when it exists, else the filesystem claim under LAUNCHER_PVCS_DIR.
 */
export const LAUNCHER_PVC_DEVICES_DIR = "/var/run/kubevisor/pvc-devices";
/**
 * Where the Secrets named by a cloudInitNoCloud disk are mounted:
 * `${LAUNCHER_CLOUDINIT_DIR}/<disk name>/userdata/` and `.../networkdata/`, each a Secret
 * volume whose key `userdata`/`userData` (resp. `networkdata`/`networkData`) the launcher reads.
 */
export const LAUNCHER_CLOUDINIT_DIR = "/var/run/kubevisor/cloud-init";
export const CLOUDINIT_SECRET_KEYS = {
  userdata: ["userdata", "userData"],
  networkdata: ["networkdata", "networkData"],
} as const;
/**
 * Environment variable on the launcher container: whether the guest may open connections
 * out of its pod (`allow`, the default) or only answer on its declared ports (`deny`).
 * Set by the operator from its `guest.outbound` setting.
 */
export const GUEST_OUTBOUND_ENV = "KUBEVISOR_GUEST_OUTBOUND";
export const GuestOutbound = z.enum(["allow", "deny"]);
export type GuestOutbound = z.infer<typeof GuestOutbound>;
/**
 * downwardAPI item in LAUNCHER_SPEC_DIR exposing ANNOTATION_MIGRATION_TARGET ("true" on a
 * migration target; empty or absent otherwise).
 */
export const LAUNCHER_MIGRATION_TARGET_FILE = "migration-target";

/**
 * The directory under LAUNCHER_IMAGES_DIR where a container-disk image's files appear:
 * the reference with every character outside [A-Za-z0-9._-] replaced by `_`, so
 * `kubevisor/test-guest:latest` becomes `kubevisor_test-guest_latest`.
 */
export function imageDirName(ref: string): string {
  const name = ref.replace(/[^A-Za-z0-9._-]/g, "_");
  // Never "." or "..": a reference must not name the images directory or its parent.
  return name.startsWith(".") ? `_${name}` : name;
}

/** Longest termination message the kubelet keeps. */
export const TERMINATION_MESSAGE_MAX_BYTES = 4096;

/** The launcher's termination message: `<LauncherExitReason>: <message>`, one line. */
export function formatTerminationMessage(reason: LauncherExitReason, message?: string): string {
  const text = message ? `${reason}: ${message.replace(/\s+/g, " ").trim()}` : reason;
  const bytes = Buffer.from(text, "utf8");
  return bytes.length <= TERMINATION_MESSAGE_MAX_BYTES
    ? text
    : bytes
        .subarray(0, TERMINATION_MESSAGE_MAX_BYTES)
        .toString("utf8")
        .replace(/\uFFFD$/, "");
}

/** Read a launcher's termination message back; undefined when it is not one. */
export function parseTerminationMessage(
  text: string,
): { reason: LauncherExitReason; message?: string } | undefined {
  const match = /^(\w+)(?::\s*([\s\S]*))?$/.exec(text.trim());
  const reason = LauncherExitReason.safeParse(match?.[1]);
  if (!match || !reason.success) return undefined;
  return match[2] ? { reason: reason.data, message: match[2] } : { reason: reason.data };
}
