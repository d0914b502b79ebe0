import type { VirtualMachine } from "../../api/index.js";

/**
 * Container disks and direct-boot kernels reach the launcher as Kubernetes image volumes:
 * the kubelet pulls and mounts them before the container starts. When that fails (pull
 * errors, or a runtime that cannot mount image volumes: containerd < 2.1), the kubelet's
 * waiting reason names only the image, if anything; the VM's condition names the disk.
 */
export interface ContainerWaiting {
  reason: string;
  message: string;
}

export interface StartFailure {
  /** `ImageVolumeFailed` (one of the VM's images), else `ImagePullFailed` / `ContainerCreateFailed`. */
  reason: "ImageVolumeFailed" | "ImagePullFailed" | "ContainerCreateFailed";
  message: string;
}

/** Waiting reasons the kubelet gives while it cannot create the container at all. */
export const CREATE_REASONS: ReadonlySet<string> = new Set([
  "CreateContainerConfigError",
  "CreateContainerError",
]);

/** Each image the VM mounts, with what it is for ("disk root", "boot kernel"). */
export function imageUses(vm: VirtualMachine): Map<string, string[]> {
  const uses = new Map<string, string[]>();
  const add = (ref: string, what: string) => uses.set(ref, [...(uses.get(ref) ?? []), what]);
  for (const d of vm.spec.disks) if (d.containerDisk) add(d.containerDisk.image, `disk ${d.name}`);
  if (vm.spec.boot) add(vm.spec.boot.kernel.image, "boot kernel");
  return uses;
}

/** The Failure condition's reason and message for a launcher container that cannot start. */
export function startFailure(vm: VirtualMachine, waiting: ContainerWaiting): StartFailure {
  const detail = `${waiting.reason}: ${waiting.message}`.trim();
  const uses = imageUses(vm);
  const named = [...uses].filter(([ref]) => waiting.message.includes(ref));
  if (named.length > 0) {
    const what = named.map(([ref, w]) => `${w.join(", ")} (image ${ref})`).join("; ");
    return { reason: "ImageVolumeFailed", message: `${what}: ${detail}` };
  }
  if (CREATE_REASONS.has(waiting.reason)) {
    // Not attributable to one image; say which image volumes the pod has, for the reader.
    const images = [...uses].map(([ref, w]) => `${w.join(", ")} (image ${ref})`).join("; ");
    const suffix = images ? ` (image volumes: ${images})` : "";
    return { reason: "ContainerCreateFailed", message: `${detail}${suffix}` };
  }
  return { reason: "ImagePullFailed", message: detail };
}
