import { z } from "zod";
import { API_VERSION, Condition, ObjectMeta, Quantity } from "./common.js";
import { quantityToBytes } from "./quantity.js";

export const RunStrategy = z.enum(["Always", "RerunOnFailure", "Once", "Manual", "Halted"]);
export const EvictionStrategy = z.enum(["LiveMigrate", "LiveMigrateIfPossible", "None"]);
export const MachineType = z.enum(["q35", "microvm"]);
/** BIOS: SeaBIOS (QEMU's default). UEFI: OVMF from Debian's ovmf package. */
export const FirmwareType = z.enum(["BIOS", "UEFI"]);
export const Acceleration = z.enum(["Auto", "KVM", "Emulation"]);
/** The accelerator a running guest actually uses (Auto resolves to one of these). */
export const AcceleratorInUse = z.enum(["KVM", "TCG"]);

export const VirtualMachinePhase = z.enum([
  "Pending",
  "Scheduling",
  "Starting",
  "Running",
  "Migrating",
  "Stopping",
  "Stopped",
  "Succeeded",
  "Failed",
]);

const SecretRef = z.object({
  name: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "must be a lowercase RFC 1123 subdomain")
    .max(253),
});

const ContainerDisk = z.object({
  image: z.string().min(1).describe("Image holding the disk file"),
  path: z
    .string()
    .min(1)
    .default("/disk/disk.img")
    .describe(
      "Path of the disk file (qcow2 or raw, detected) inside the image; KubeVirt's layout keeps one file under /disk/",
    ),
});

/** Disk sources firmware can boot from (cloud-init seeds and blank disks are never bootable). */
const BOOTABLE_DISK_SOURCES = ["containerDisk", "persistentVolumeClaim"] as const;
const NO_BOOT_SOURCE =
  "nothing to boot: set boot.kernel, or add a containerDisk or persistentVolumeClaim disk";
const MICROVM_NEEDS_KERNEL =
  "microvm boots only by direct kernel boot: set boot.kernel, or use q35";
const GRAPHICS_NEEDS_Q35 = "graphics needs machine type q35 (microvm has no PCI for a display)";

export function isBootableDisk(disk: { [K in (typeof BOOTABLE_DISK_SOURCES)[number]]?: unknown }) {
  return BOOTABLE_DISK_SOURCES.some((k) => disk[k] !== undefined);
}

const DiskSourceNames = ["containerDisk", "persistentVolumeClaim", "emptyDisk", "cloudInitNoCloud"];

export const Disk = z
  .object({
    name: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/, "must be a lowercase RFC 1123 label")
      .max(63),
    containerDisk: ContainerDisk.optional(),
    persistentVolumeClaim: z.object({ claimName: z.string().min(1) }).optional(),
    emptyDisk: z.object({ size: Quantity }).optional(),
    cloudInitNoCloud: z
      .object({
        userData: z.string().max(65536).optional(),
        userDataSecretRef: SecretRef.optional().describe(
          "Secret in the VM's namespace whose key `userdata` (or `userData`) holds the user-data; the launcher reads it from a volume, so the VM and the pod never carry its content",
        ),
        networkData: z.string().max(65536).optional(),
        networkDataSecretRef: SecretRef.optional().describe(
          "Secret whose key `networkdata` (or `networkData`) holds the network-config",
        ),
      })
      .refine((c) => !(c.userData !== undefined && c.userDataSecretRef), {
        message: "at most one of userData, userDataSecretRef may be set",
      })
      .refine((c) => !(c.networkData !== undefined && c.networkDataSecretRef), {
        message: "at most one of networkData, networkDataSecretRef may be set",
      })
      .meta({
        "x-kubernetes-validations": [
          {
            rule: "!(has(self.userData) && has(self.userDataSecretRef))",
            message: "at most one of userData, userDataSecretRef may be set",
          },
          {
            rule: "!(has(self.networkData) && has(self.networkDataSecretRef))",
            message: "at most one of networkData, networkDataSecretRef may be set",
          },
        ],
      })
      .optional(),
    bootOrder: z
      .number()
      .int()
      .min(1)
      .optional()
      .describe(
        "Boot priority among disks (1 = first), as KubeVirt's bootOrder; firmware boot only",
      ),
  })
  .refine((d) => DiskSourceNames.filter((k) => k in d && d[k as keyof typeof d]).length === 1, {
    message: `exactly one of ${DiskSourceNames.join(", ")} must be set`,
  })
  .meta({
    "x-kubernetes-validations": [
      {
        rule: `[${DiskSourceNames.map((k) => `has(self.${k})`).join(", ")}].filter(x, x).size() == 1`,
        message: `exactly one of ${DiskSourceNames.join(", ")} must be set`,
      },
    ],
  });
export type Disk = z.infer<typeof Disk>;

export const Port = z.object({
  name: z.string().min(1).max(15),
  port: z.number().int().min(1).max(65535),
  protocol: z.enum(["TCP", "UDP"]).default("TCP"),
});

const MIN_MEMORY = "64Mi";

export const Toleration = z.object({
  key: z.string().optional(),
  operator: z.enum(["Exists", "Equal"]).optional(),
  value: z.string().optional(),
  effect: z.enum(["NoSchedule", "PreferNoSchedule", "NoExecute"]).optional(),
  tolerationSeconds: z.number().int().optional(),
});

export const VirtualMachineSpec = z
  .object({
    runStrategy: RunStrategy.default("Always"),
    evictionStrategy: EvictionStrategy.default("LiveMigrate"),
    cpu: z.object({ cores: z.number().int().min(1).max(64).default(1) }).default({ cores: 1 }),
    memory: z
      .object({ size: Quantity })
      .refine((m) => quantityAtLeast(m.size, MIN_MEMORY), {
        message: `memory.size must be at least ${MIN_MEMORY}`,
        path: ["size"],
      })
      .meta({
        "x-kubernetes-validations": [
          {
            rule: `isQuantity(string(self.size)) && quantity(string(self.size)).compareTo(quantity('${MIN_MEMORY}')) >= 0`,
            message: `size must be at least ${MIN_MEMORY}`,
            fieldPath: ".size",
          },
        ],
      }),
    machine: z.object({ type: MachineType.default("q35") }).default({ type: "q35" }),
    acceleration: Acceleration.default("Auto"),
    firmware: z
      .object({
        type: FirmwareType.default("BIOS"),
        secureBoot: z
          .boolean()
          .default(false)
          .describe("UEFI only: OVMF's Secure Boot build with Microsoft keys enrolled, SMM on"),
      })
      .refine((f) => !f.secureBoot || f.type === "UEFI", {
        message: "secureBoot requires type UEFI",
        path: ["secureBoot"],
      })
      .meta({
        "x-kubernetes-validations": [
          {
            rule: "!has(self.secureBoot) || !self.secureBoot || self.type == 'UEFI'",
            message: "secureBoot requires type UEFI",
            fieldPath: ".secureBoot",
          },
        ],
      })
      .optional()
      .describe("Firmware that boots the first bootable disk; used whenever boot.kernel is absent"),
    boot: z
      .object({
        kernel: z.object({
          image: z.string().min(1).describe("Container-disk image holding the kernel and initrd"),
          kernelPath: z.string().min(1).default("/boot/vmlinuz"),
          initrdPath: z.string().min(1).optional(),
          cmdline: z.string().max(4096).optional(),
        }),
      })
      .optional(),
    disks: z
      .array(Disk)
      .max(32)
      .default([])
      .refine((disks) => new Set(disks.map((d) => d.name)).size === disks.length, {
        message: "disk names must be unique",
      })
      .meta({
        "x-kubernetes-validations": [
          {
            rule: "self.all(d, self.exists_one(e, e.name == d.name))",
            message: "disk names must be unique",
          },
        ],
      }),
    network: z.object({ ports: z.array(Port).max(64).default([]) }).default({ ports: [] }),
    graphics: z
      .object({
        enabled: z
          .boolean()
          .optional()
          .describe("Default: true on q35, false on microvm (which cannot have one)"),
      })
      .optional()
      .describe(
        "A display (VGA) whose screen is reachable as VNC and screenshots through the API (virtualmachines/vnc, /screenshot)",
      ),
    terminationGracePeriodSeconds: z.number().int().min(0).max(3600).default(30),
    nodeSelector: z.record(z.string(), z.string()).optional(),
    tolerations: z.array(Toleration).optional(),
    affinity: z
      .record(z.string(), z.unknown())
      .optional()
      .describe("Passed through to the launcher pod unchanged (core/v1 Affinity)")
      .meta({ "x-kubernetes-preserve-unknown-fields": true }),
  })
  .refine((s) => s.boot?.kernel !== undefined || s.disks.some(isBootableDisk), {
    message: NO_BOOT_SOURCE,
    path: ["disks"],
  })
  .refine((s) => s.boot?.kernel !== undefined || s.machine.type === "q35", {
    message: MICROVM_NEEDS_KERNEL,
    path: ["machine", "type"],
  })
  .refine((s) => s.graphics?.enabled !== true || s.machine.type === "q35", {
    message: GRAPHICS_NEEDS_Q35,
    path: ["graphics", "enabled"],
  })
  .meta({
    "x-kubernetes-validations": [
      {
        rule: `(has(self.boot) && has(self.boot.kernel)) || (has(self.disks) && self.disks.exists(d, ${BOOTABLE_DISK_SOURCES.map((k) => `has(d.${k})`).join(" || ")}))`,
        message: NO_BOOT_SOURCE,
        fieldPath: ".disks",
      },
      {
        rule: "(has(self.boot) && has(self.boot.kernel)) || !has(self.machine) || !has(self.machine.type) || self.machine.type == 'q35'",
        message: MICROVM_NEEDS_KERNEL,
        fieldPath: ".machine.type",
      },
      {
        rule: "!has(self.graphics) || !has(self.graphics.enabled) || !self.graphics.enabled || !has(self.machine) || !has(self.machine.type) || self.machine.type == 'q35'",
        message: GRAPHICS_NEEDS_Q35,
        fieldPath: ".graphics.enabled",
      },
    ],
  });
export type VirtualMachineSpec = z.infer<typeof VirtualMachineSpec>;

/** Whether the VM gets a display: as asked, else on for q35 and off for microvm. */
export function graphicsEnabled(spec: Pick<VirtualMachineSpec, "graphics" | "machine">): boolean {
  return spec.graphics?.enabled ?? spec.machine.type === "q35";
}
export type VirtualMachineSpecInput = z.input<typeof VirtualMachineSpec>;

export const GuestOSInfo = z.object({
  id: z.string().optional().describe("os-release ID, e.g. debian"),
  name: z.string().optional(),
  version: z.string().optional().describe("os-release VERSION_ID"),
  kernelRelease: z.string().optional(),
});
export type GuestOSInfo = z.infer<typeof GuestOSInfo>;

export const GuestInterface = z.object({
  name: z.string(),
  mac: z.string().optional(),
  ipAddresses: z.array(z.string()).default([]),
});
export type GuestInterface = z.infer<typeof GuestInterface>;

export const VirtualMachineStatus = z.object({
  phase: VirtualMachinePhase.optional(),
  nodeName: z.string().optional(),
  launcherPod: z.string().optional(),
  ipAddress: z.string().optional(),
  acceleration: AcceleratorInUse.optional().describe("Accelerator actually in use"),
  accelerationReason: z.string().optional(),
  guestOSInfo: GuestOSInfo.optional().describe("Reported by the guest agent (AgentConnected)"),
  interfaces: z
    .array(GuestInterface)
    .max(64)
    .optional()
    .describe("The guest's own view of its NICs, from the guest agent"),
  conditions: z.array(Condition).optional(),
  migration: z
    .object({ name: z.string(), phase: z.string().optional() })
    .optional()
    .describe("The migration in progress, if any"),
  restartCount: z.number().int().nonnegative().optional(),
  launchCount: z
    .number()
    .int()
    .nonnegative()
    .optional()
    .describe(
      "Launches claimed so far; written before launch n's pod is created, so no two pods ever claim the same launch",
    ),
  launchClaimedAt: z.string().optional().describe("RFC 3339 time the current launch was claimed"),
  lastRestartRequest: z
    .string()
    .optional()
    .describe("Value of the kubevisor.io/restart-requested annotation last acted upon"),
  observedGeneration: z.number().int().nonnegative().optional(),
  launcherPodUID: z
    .string()
    .optional()
    .describe(
      "UID of the launcher pod the operator created for the current launch; only that pod is ever contacted or adopted",
    ),
});
export type VirtualMachineStatus = z.infer<typeof VirtualMachineStatus>;

export const VirtualMachine = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal("VirtualMachine"),
  metadata: ObjectMeta,
  spec: VirtualMachineSpec,
  status: VirtualMachineStatus.optional(),
});
export type VirtualMachine = z.infer<typeof VirtualMachine>;

function quantityAtLeast(value: string | number, min: string): boolean {
  try {
    return quantityToBytes(value) >= quantityToBytes(min);
  } catch {
    return false;
  }
}
