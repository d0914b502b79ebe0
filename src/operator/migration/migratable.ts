import type { VirtualMachine } from "../../api/index.js";

export interface Migratability {
  migratable: boolean;
  /** Condition reason: Migratable, DisksNotShared, NotRunning. */
  reason: string;
  message: string;
}

/**
 * Whether the VM's disks allow a live migration: every disk is either copied by the
 * migration (container disks, empty disks, cloud-init seeds: they live in the pod) or
 * shared storage both nodes can open at once (a claim with ReadWriteMany). `accessModes`
 * answers a claim's access modes, undefined when the claim cannot be read.
 */
export function migratability(
  vm: VirtualMachine,
  accessModes: (claimName: string) => string[] | undefined,
): Migratability {
  const blocked: string[] = [];
  for (const disk of vm.spec.disks) {
    const claim = disk.persistentVolumeClaim?.claimName;
    if (!claim) continue;
    const modes = accessModes(claim);
    if (!modes) blocked.push(`disk ${disk.name}: claim ${claim} not found`);
    else if (!modes.includes("ReadWriteMany")) {
      blocked.push(
        `disk ${disk.name}: claim ${claim} is ${modes.join(",") || "without access modes"}, not ReadWriteMany`,
      );
    }
  }
  if (blocked.length > 0) {
    return { migratable: false, reason: "DisksNotShared", message: blocked.join("; ") };
  }
  return { migratable: true, reason: "Migratable", message: "every disk is copied or shared" };
}
