import type {
  V1Affinity,
  V1Container,
  V1OwnerReference,
  V1Pod,
  V1Volume,
  V1VolumeDevice,
  V1VolumeMount,
} from "@kubernetes/client-node";
import {
  ANNOTATION_MIGRATION_TARGET,
  ANNOTATION_VM_SPEC,
  API_VERSION,
  COMPONENT_LAUNCHER,
  GUEST_OUTBOUND_ENV,
  type GuestOutbound,
  imageDirName,
  KVM_RESOURCE,
  LABEL_COMPONENT,
  LABEL_MANAGED_BY,
  LABEL_VM,
  LAUNCHER_AWAIT_START_ENV,
  LAUNCHER_CLOUDINIT_DIR,
  LAUNCHER_CONTAINER,
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
  LAUNCHER_TMP_DIR,
  quantityToMiB,
  type VirtualMachine,
} from "../../api/index.js";
import { TCG_TB_SIZE_MIB } from "../../vmm/cmdline.js";
import { requestsKvm } from "./kvm.js";
import {
  cloudInitVolumeName,
  diskVolumeName,
  imageVolumeName,
  launcherPodName,
  launcherTlsSecretName,
  vmLabelValue,
} from "./naming.js";
import {
  disksDirSizeLimit,
  LAUNCHER_CONTAINER_SECURITY,
  LAUNCHER_POD_SECURITY,
  SECRET_MODE,
  TMP_DIR_MIB,
} from "./pod-security.js";

/** Value of LABEL_MANAGED_BY on everything the operator creates. */
export const MANAGED_BY = "kubevisor";
/** Pod annotation (operator-private): which launch of the VM this pod is, "1", "2", … */
export const ANNOTATION_LAUNCH = "kubevisor.io/launch";

/**
 * Memory the launcher pod needs beyond the guest's RAM: the Node.js launcher and QEMU's own
 * code and heap take a roughly fixed amount (160 MiB measured with headroom), and QEMU's
 * per-guest-page bookkeeping (page tables, dirty bitmaps during migration, device buffers)
 * grows with guest memory, about 2 %.
 */
export const OVERHEAD_FIXED_MIB = 160;
export const OVERHEAD_RATIO = 0.02;
/**
 * More for a guest that may run under TCG (`Auto` on a node without KVM, `Emulation`): the
 * bounded translation cache and TCG's softmmu TLBs. Without it a Debian guest under TCG was
 * OOM-killed on a real kubelet, which enforces the limit.
 */
export const OVERHEAD_TCG_MIB = TCG_TB_SIZE_MIB + 32;
/**
 * CPU requested per vCPU: a tenth of a core, like KubeVirt's default cpuAllocationRatio of
 * 10, so idle VMs do not reserve whole cores; no CPU limit, so a busy guest may use more.
 */
export const CPU_REQUEST_MILLI_PER_VCPU = 100;
/** Extra time the kubelet grants after the guest's own grace period, for QEMU to exit. */
export const GRACE_EXTRA_SECONDS = 15;

export interface LauncherPodConfig {
  /** The one Kubevisor image; the launcher is its `dist/launcher/main.js`. */
  image: string;
  imagePullPolicy?: "Always" | "IfNotPresent" | "Never";
  /** Pull Secrets by name, in the VM's namespace: the launcher image and image volumes pull with them. */
  imagePullSecrets?: readonly string[];
  /** Whether guests may open connections out of their pod (default `allow`). */
  guestOutbound?: GuestOutbound;
}

/**
 * What the operator learnt before building the pod (the VM spec alone cannot say): the
 * disks whose claim is `volumeMode: Block`, which the pod gets as devices instead of
 * mounts, and whether some node offers the KVM device (kvm.ts).
 */
export interface ResolvedVolumes {
  blockDisks: ReadonlySet<string>;
  /** Some node advertises KVM_RESOURCE: `Auto` pods request it too. */
  kvmOffered?: boolean;
}

export const NO_RESOLVED_VOLUMES: ResolvedVolumes = { blockDisks: new Set() };

export function podMemoryMiB(vm: VirtualMachine): number {
  const guest = quantityToMiB(vm.spec.memory.size);
  const tcg = vm.spec.acceleration === "KVM" ? 0 : OVERHEAD_TCG_MIB;
  return guest + OVERHEAD_FIXED_MIB + tcg + Math.ceil(guest * OVERHEAD_RATIO);
}

export function vmOwnerReference(vm: VirtualMachine): V1OwnerReference {
  return {
    apiVersion: API_VERSION,
    kind: "VirtualMachine",
    name: vm.metadata.name ?? "",
    uid: vm.metadata.uid ?? "",
    controller: true,
    blockOwnerDeletion: true,
  };
}

export function vmLabels(vm: VirtualMachine, component: string): Record<string, string> {
  return {
    [LABEL_VM]: vmLabelValue(vm.metadata.name ?? ""),
    [LABEL_COMPONENT]: component,
    [LABEL_MANAGED_BY]: MANAGED_BY,
  };
}

/** What the launcher reads from its spec file: just enough identity plus the whole spec. */
export function launcherSpecDocument(vm: VirtualMachine): string {
  return JSON.stringify({
    apiVersion: vm.apiVersion,
    kind: vm.kind,
    metadata: { name: vm.metadata.name, namespace: vm.metadata.namespace, uid: vm.metadata.uid },
    spec: vm.spec,
  });
}

/** Every image the guest needs, once each: container disks and the direct-boot kernel. */
export function imageReferences(vm: VirtualMachine): string[] {
  const refs = vm.spec.disks.flatMap((d) => (d.containerDisk ? [d.containerDisk.image] : []));
  if (vm.spec.boot) refs.push(vm.spec.boot.kernel.image);
  return [...new Set(refs)];
}

/** The launcher pod for launch `launch` of the VM (a pure function of its inputs). */
export function buildLauncherPod(
  vm: VirtualMachine,
  launch: number,
  config: LauncherPodConfig,
  resolved: ResolvedVolumes = NO_RESOLVED_VOLUMES,
): V1Pod {
  const name = vm.metadata.name ?? "";
  const { volumes, mounts, devices } = launcherVolumes(vm, resolved);
  const memory = `${podMemoryMiB(vm)}Mi`;
  const cpu = `${vm.spec.cpu.cores * CPU_REQUEST_MILLI_PER_VCPU}m`;
  const kvm: Record<string, string> = requestsKvm(vm.spec.acceleration, resolved.kvmOffered)
    ? { [KVM_RESOURCE]: "1" }
    : {};

  const container: V1Container = {
    name: LAUNCHER_CONTAINER,
    image: config.image,
    imagePullPolicy: config.imagePullPolicy ?? "IfNotPresent",
    command: ["node", "dist/launcher/main.js"],
    workingDir: "/app",
    env: [
      { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
      { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
      { name: "POD_NAMESPACE", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
      { name: GUEST_OUTBOUND_ENV, value: config.guestOutbound ?? "allow" },
      // No guest before the operator's POST /start, sent only to the recorded pod UID.
      { name: LAUNCHER_AWAIT_START_ENV, value: "true" },
    ],
    ports: containerPorts(vm),
    resources: {
      requests: { memory, cpu, ...kvm },
      // Memory limit = request: the guest's RAM is committed, so the pod is never
      // overcommitted into an OOM kill of a running VM by a noisy neighbour.
      limits: { memory, ...kvm },
    },
    readinessProbe: {
      httpGet: { path: "/readyz", port: LAUNCHER_PROBE_PORT, scheme: "HTTP" },
      periodSeconds: 2,
      failureThreshold: 3,
    },
    livenessProbe: {
      httpGet: { path: "/healthz", port: LAUNCHER_PROBE_PORT, scheme: "HTTP" },
      periodSeconds: 10,
      failureThreshold: 6,
    },
    terminationMessagePolicy: "FallbackToLogsOnError",
    securityContext: LAUNCHER_CONTAINER_SECURITY,
    volumeMounts: mounts,
    ...(devices.length > 0 ? { volumeDevices: devices } : {}),
  };

  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: launcherPodName(name, launch),
      namespace: vm.metadata.namespace,
      labels: vmLabels(vm, COMPONENT_LAUNCHER),
      annotations: {
        [ANNOTATION_VM_SPEC]: launcherSpecDocument(vm),
        [ANNOTATION_LAUNCH]: String(launch),
      },
      ownerReferences: [vmOwnerReference(vm)],
    },
    spec: {
      // Pod Security `restricted` (pod-security.ts).
      securityContext: LAUNCHER_POD_SECURITY,
      containers: [container],
      volumes,
      // The operator, not the kubelet, decides whether a guest is started again.
      restartPolicy: "Never",
      // Launcher pods hold no Kubernetes credentials; they only answer the operator.
      automountServiceAccountToken: false,
      ...(config.imagePullSecrets?.length
        ? { imagePullSecrets: config.imagePullSecrets.map((name) => ({ name })) }
        : {}),
      enableServiceLinks: false,
      terminationGracePeriodSeconds: vm.spec.terminationGracePeriodSeconds + GRACE_EXTRA_SECONDS,
      ...(vm.spec.nodeSelector ? { nodeSelector: vm.spec.nodeSelector } : {}),
      ...(vm.spec.tolerations ? { tolerations: vm.spec.tolerations } : {}),
      ...(vm.spec.affinity ? { affinity: vm.spec.affinity as V1Affinity } : {}),
    },
  };
}

const API_PORT_NAME = "kv-api";
const PROBE_PORT_NAME = "kv-probe";

/**
 * The launcher's own ports plus the guest's forwarded ports (so Services can target them by
 * name); a guest port whose name or number clashes with the launcher's is left out rather
 * than making the pod invalid.
 */
function containerPorts(vm: VirtualMachine): V1Container["ports"] {
  const own = [
    { name: API_PORT_NAME, containerPort: LAUNCHER_PORT, protocol: "TCP" },
    { name: PROBE_PORT_NAME, containerPort: LAUNCHER_PROBE_PORT, protocol: "TCP" },
  ];
  const guest = vm.spec.network.ports
    .filter((p) => p.name !== API_PORT_NAME && p.name !== PROBE_PORT_NAME)
    .filter((p) => p.port !== LAUNCHER_PORT && p.port !== LAUNCHER_PROBE_PORT)
    .map((p) => ({ name: p.name, containerPort: p.port, protocol: p.protocol }));
  return [...own, ...guest];
}

interface PodVolumes {
  volumes: V1Volume[];
  mounts: V1VolumeMount[];
  devices: V1VolumeDevice[];
}

function launcherVolumes(vm: VirtualMachine, resolved: ResolvedVolumes): PodVolumes {
  const name = vm.metadata.name ?? "";
  const volumes: V1Volume[] = [
    {
      name: "vm-spec",
      downwardAPI: {
        items: [
          {
            path: LAUNCHER_SPEC_FILE,
            fieldRef: { fieldPath: `metadata.annotations['${ANNOTATION_VM_SPEC}']` },
          },
          {
            path: LAUNCHER_MIGRATION_TARGET_FILE,
            fieldRef: { fieldPath: `metadata.annotations['${ANNOTATION_MIGRATION_TARGET}']` },
          },
        ],
      },
    },
    { name: "tls", secret: { secretName: launcherTlsSecretName(name), defaultMode: SECRET_MODE } },
    // The only writable places: the root filesystem is read-only.
    { name: "disks", emptyDir: { sizeLimit: disksDirSizeLimit(vm) } },
    { name: "tmp", emptyDir: { sizeLimit: `${TMP_DIR_MIB}Mi` } },
  ];
  const mounts: V1VolumeMount[] = [
    { name: "vm-spec", mountPath: LAUNCHER_SPEC_DIR, readOnly: true },
    { name: "tls", mountPath: LAUNCHER_TLS_DIR, readOnly: true },
    { name: "disks", mountPath: LAUNCHER_DISKS_DIR },
    { name: "tmp", mountPath: LAUNCHER_TMP_DIR },
  ];
  const devices: V1VolumeDevice[] = [];
  for (const reference of imageReferences(vm)) {
    const volume = imageVolumeName(reference);
    // Kubernetes image volumes: the kubelet pulls the image and mounts its files read-only,
    // so container disks need no copy step and no init container.
    volumes.push({ name: volume, image: { reference, pullPolicy: "IfNotPresent" } });
    mounts.push({
      name: volume,
      mountPath: `${LAUNCHER_IMAGES_DIR}/${imageDirName(reference)}`,
      readOnly: true,
    });
  }
  for (const disk of vm.spec.disks) {
    if (!disk.persistentVolumeClaim) continue;
    const volume = diskVolumeName(disk.name);
    volumes.push({
      name: volume,
      persistentVolumeClaim: { claimName: disk.persistentVolumeClaim.claimName },
    });
    if (resolved.blockDisks.has(disk.name)) {
      devices.push({ name: volume, devicePath: `${LAUNCHER_PVC_DEVICES_DIR}/${disk.name}` });
    } else {
      mounts.push({ name: volume, mountPath: `${LAUNCHER_PVCS_DIR}/${disk.name}` });
    }
  }
  for (const ref of cloudInitSecretRefs(vm)) {
    // The launcher reads the Secret's files; its content never enters the VM or the pod.
    const volume = cloudInitVolumeName(ref.disk, ref.key);
    volumes.push({
      name: volume,
      secret: { secretName: ref.secretName, defaultMode: SECRET_MODE },
    });
    mounts.push({
      name: volume,
      mountPath: `${LAUNCHER_CLOUDINIT_DIR}/${ref.disk}/${ref.key}`,
      readOnly: true,
    });
  }
  return { volumes, mounts, devices };
}

/** One Secret a cloudInitNoCloud disk names, and which of its files it provides. */
export interface CloudInitSecretRef {
  disk: string;
  key: "userdata" | "networkdata";
  secretName: string;
}

export function cloudInitSecretRefs(vm: VirtualMachine): CloudInitSecretRef[] {
  return vm.spec.disks.flatMap((disk) => {
    const source = disk.cloudInitNoCloud;
    const refs: CloudInitSecretRef[] = [];
    if (source?.userDataSecretRef)
      refs.push({ disk: disk.name, key: "userdata", secretName: source.userDataSecretRef.name });
    if (source?.networkDataSecretRef)
      refs.push({
        disk: disk.name,
        key: "networkdata",
        secretName: source.networkDataSecretRef.name,
      });
    return refs;
  });
}

/**
 * The block-mode disks of a pod built here, read back from its devices, and its KVM
 * request: a migration target must get its claims and accelerator exactly as the source
 * pod has them (a guest started under KVM continues under KVM).
 */
export function resolvedVolumesOf(pod: V1Pod): ResolvedVolumes {
  const container = pod.spec?.containers.find((c) => c.name === LAUNCHER_CONTAINER);
  const kvmOffered = container?.resources?.limits?.[KVM_RESOURCE] !== undefined;
  const prefix = `${LAUNCHER_PVC_DEVICES_DIR}/`;
  const blockDisks = (container?.volumeDevices ?? [])
    .filter((d) => d.devicePath.startsWith(prefix))
    .map((d) => d.devicePath.slice(prefix.length));
  return { blockDisks: new Set(blockDisks), kvmOffered };
}
