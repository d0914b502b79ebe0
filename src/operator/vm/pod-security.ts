import type { V1PodSecurityContext, V1SecurityContext } from "@kubernetes/client-node";
import { LAUNCHER_GID, LAUNCHER_UID, quantityToMiB, type VirtualMachine } from "../../api/index.js";

/**
 * What Pod Security `restricted` demands of a launcher pod, and what a real kubelet needs to
 * let uid 65532 read its Secrets: fsGroup makes Secret and emptyDir volumes group-owned by
 * LAUNCHER_GID (mode 0440 files become `r--r----- root:65532`).
 */
export const LAUNCHER_POD_SECURITY: V1PodSecurityContext = {
  runAsNonRoot: true,
  runAsUser: LAUNCHER_UID,
  runAsGroup: LAUNCHER_GID,
  fsGroup: LAUNCHER_GID,
  seccompProfile: { type: "RuntimeDefault" },
};

/**
 * The container's half. The root filesystem is read-only: everything the launcher and QEMU
 * write goes to the pod's emptyDirs (disks dir, with QEMU's sockets in it, and /tmp).
 * QEMU needs no capability: /dev/kvm comes from the device plugin, owned by the pod's user.
 */
export const LAUNCHER_CONTAINER_SECURITY: V1SecurityContext = {
  allowPrivilegeEscalation: false,
  privileged: false,
  readOnlyRootFilesystem: true,
  capabilities: { drop: ["ALL"] },
};

/** Secret files (TLS key, cloud-init): readable by the owner and, via fsGroup, the launcher. */
export const SECRET_MODE = 0o440;

/**
 * Room for a container disk's copy-on-write overlay: the guest's writes to it. Exceeding the
 * disks dir's sizeLimit gets the pod evicted, so this is generous; a guest that needs more
 * durable space belongs on a persistentVolumeClaim disk.
 */
export const CONTAINER_DISK_OVERLAY_MIB = 10 * 1024;
/** cloud-init ISOs, QEMU's sockets and small files beside the disks. */
export const DISKS_DIR_BASE_MIB = 64;
/** /tmp: Node.js and QEMU scratch files only; nothing large is written there. */
export const TMP_DIR_MIB = 64;

/**
 * sizeLimit of the disks emptyDir: every emptyDisk at its full size (sparse or not, the
 * guest may fill it), an overlay allowance per container disk, and the base.
 */
export function disksDirSizeLimit(vm: VirtualMachine): string {
  let mib = DISKS_DIR_BASE_MIB;
  for (const disk of vm.spec.disks) {
    if (disk.emptyDisk) mib += quantityToMiB(disk.emptyDisk.size);
    if (disk.containerDisk) mib += CONTAINER_DISK_OVERLAY_MIB;
  }
  return `${mib}Mi`;
}
