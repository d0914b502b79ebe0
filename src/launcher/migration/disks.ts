import type { DiskPlan } from "../disks/plan.js";

/**
 * Which disks a migration must copy, by index in the spec: the ones whose contents live only
 * in this pod and that the guest may write — container-disk overlays and empty disks. A
 * cloud-init seed is read-only and rebuilt identically from the spec on the target; a
 * persistent volume claim is the same storage on both sides (the operator migrates only
 * ReadWriteMany claims).
 */
export function copiedDiskIndexes(plans: DiskPlan[]): number[] {
  return plans.flatMap((plan, index) =>
    plan.kind === "containerDisk" || plan.kind === "emptyDisk" ? [index] : [],
  );
}
