import type { V1Affinity, V1NodeSelectorTerm, V1Pod } from "@kubernetes/client-node";
import {
  ANNOTATION_MIGRATION_TARGET,
  ANNOTATION_VM_SPEC,
  GROUP,
  type VirtualMachine,
  VirtualMachineSpec,
} from "../../api/index.js";
import {
  ANNOTATION_LAUNCH,
  buildLauncherPod,
  type LauncherPodConfig,
  resolvedVolumesOf,
} from "../vm/launcher-pod.js";
import { boundedName, shortHash } from "../vm/naming.js";

/** Pod annotation on a migration target: the VirtualMachineMigration it was created for. */
export const ANNOTATION_MIGRATION = `${GROUP}/migration`;
export const HOSTNAME_LABEL = "kubernetes.io/hostname";

/**
 * The target pod's name: deterministic (a retried create meets AlreadyExists), one per
 * migration object (its uid), and recognisably the VM's.
 */
export function targetPodName(vmName: string, migrationUid: string): string {
  return boundedName(vmName, `-target-${shortHash(migrationUid, 6)}`);
}

/**
 * The VM as the source pod runs it: the spec recorded in the source pod's annotation, not
 * the VM's current spec, which may have been edited since the guest started. The target
 * must run exactly what arrives over the wire.
 */
export function launchedVm(vm: VirtualMachine, source: V1Pod): VirtualMachine {
  const text = source.metadata?.annotations?.[ANNOTATION_VM_SPEC];
  if (!text) return vm;
  const parsed = VirtualMachineSpec.safeParse((JSON.parse(text) as { spec?: unknown }).spec);
  return parsed.success ? { ...vm, spec: parsed.data } : vm;
}

/**
 * The source's launcher pod once more, as a migration target: the flag the launcher reads
 * (it waits for the guest instead of booting it), the migration's name, and a required
 * node affinity that keeps it off the source node. Same launch number as the source: it
 * continues that launch rather than starting a new one.
 */
export function buildTargetPod(
  vm: VirtualMachine,
  migration: { name: string; uid: string },
  source: V1Pod,
  sourceNode: string,
  config: LauncherPodConfig,
): V1Pod {
  const running = launchedVm(vm, source);
  const launch = Number(source.metadata?.annotations?.[ANNOTATION_LAUNCH] ?? 1) || 1;
  // Claims as the source has them: a block device stays a block device.
  const pod = buildLauncherPod(running, launch, config, resolvedVolumesOf(source));
  const meta = pod.metadata ?? {};
  meta.name = targetPodName(vm.metadata.name ?? "", migration.uid);
  meta.annotations = {
    ...meta.annotations,
    [ANNOTATION_MIGRATION_TARGET]: "true",
    [ANNOTATION_MIGRATION]: migration.name,
  };
  pod.metadata = meta;
  if (pod.spec) pod.spec.affinity = avoidNode(pod.spec.affinity, sourceNode);
  return pod;
}

/**
 * `affinity` plus "not on `node`" in every required node-selector term (terms are ORed,
 * so the exclusion must be in each of them).
 */
export function avoidNode(affinity: V1Affinity | undefined, node: string): V1Affinity {
  const notSource = { key: HOSTNAME_LABEL, operator: "NotIn", values: [node] };
  const required = affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution;
  const terms: V1NodeSelectorTerm[] = required?.nodeSelectorTerms?.length
    ? required.nodeSelectorTerms.map((t) => ({
        ...t,
        matchExpressions: [...(t.matchExpressions ?? []), notSource],
      }))
    : [{ matchExpressions: [notSource] }];
  return {
    ...affinity,
    nodeAffinity: {
      ...affinity?.nodeAffinity,
      requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: terms },
    },
  };
}
