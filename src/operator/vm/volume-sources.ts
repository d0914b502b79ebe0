import type { V1PersistentVolumeClaim } from "@kubernetes/client-node";
import type { VirtualMachine } from "../../api/index.js";
import { isNotFound, type KubeClient, METADATA_ONLY, paths } from "../../kube/client.js";
import { cloudInitSecretRefs, type ResolvedVolumes } from "./launcher-pod.js";
import { isTerminal, type ObservedPod } from "./observe.js";

/**
 * The objects a VM's pod mounts that the user provides (Secrets for cloud-init, claims for
 * disks). The kubelet would leave a pod missing one in ContainerCreating, retrying quietly
 * (a FailedMount Event on the pod, nothing on the VM); so the operator looks first, and a
 * missing one becomes a Failure condition on the VM that names it.
 */
export type VolumeSourceKind = "Secret" | "PersistentVolumeClaim";

export interface VolumeSource {
  kind: VolumeSourceKind;
  name: string;
  /** Which disk, and which of its fields, names it (for the message). */
  disk: string;
  field: string;
}

export interface VolumeSourceCheck {
  missing: VolumeSource[];
  resolved: ResolvedVolumes;
}

/** Failure condition reasons, one per kind: a closed set. */
export const MISSING_REASON: Record<VolumeSourceKind, string> = {
  Secret: "SecretNotFound",
  PersistentVolumeClaim: "PersistentVolumeClaimNotFound",
};

/** No pod yet, or one the kubelet has not started: its volumes may still be missing. */
export function mayStillMount(current: ObservedPod | undefined): boolean {
  return (
    !current ||
    isTerminal(current) ||
    current.stage === "Unscheduled" ||
    current.stage === "Scheduled"
  );
}

export function volumeSources(vm: VirtualMachine): VolumeSource[] {
  const claims = vm.spec.disks.flatMap((d) =>
    d.persistentVolumeClaim
      ? [
          {
            kind: "PersistentVolumeClaim" as const,
            name: d.persistentVolumeClaim.claimName,
            disk: d.name,
            field: "persistentVolumeClaim.claimName",
          },
        ]
      : [],
  );
  const secrets = cloudInitSecretRefs(vm).map((r) => ({
    kind: "Secret" as const,
    name: r.secretName,
    disk: r.disk,
    field: `cloudInitNoCloud.${r.key === "userdata" ? "userDataSecretRef" : "networkDataSecretRef"}`,
  }));
  return [...claims, ...secrets];
}

/** `Secret "x" (disk cloudinit, cloudInitNoCloud.userDataSecretRef) not found in namespace "ns"`. */
export function missingMessage(missing: VolumeSource[], namespace: string): string {
  const each = missing.map((m) => `${m.kind} "${m.name}" (disk ${m.disk}, ${m.field})`);
  return `${each.join(", ")} not found in namespace "${namespace}"; the VM starts once ${missing.length > 1 ? "they exist" : "it exists"}`;
}

/**
 * GETs each named object in the VM's own namespace, one by name: the operator never lists
 * or watches users' Secrets, and asks only for their metadata (their content is the
 * kubelet's to mount, not the operator's to hold).
 */
export async function checkVolumeSources(
  client: KubeClient,
  vm: VirtualMachine,
): Promise<VolumeSourceCheck> {
  const ns = vm.metadata.namespace ?? "";
  const missing: VolumeSource[] = [];
  const blockDisks = new Set<string>();
  await Promise.all(
    volumeSources(vm).map(async (source) => {
      try {
        if (source.kind === "Secret") {
          // Metadata only: the Secret's data never reaches the operator.
          await client.request("GET", paths.secret(ns, source.name), { accept: METADATA_ONLY });
          return;
        }
        const claim = await client.get<V1PersistentVolumeClaim>(claimPath(ns, source.name));
        if (claim.spec?.volumeMode === "Block") blockDisks.add(source.disk);
      } catch (err) {
        if (!isNotFound(err)) throw err;
        missing.push(source);
      }
    }),
  );
  return { missing, resolved: { blockDisks } };
}

function claimPath(ns: string, name: string): string {
  return `/api/v1/namespaces/${ns}/persistentvolumeclaims/${name}`;
}
