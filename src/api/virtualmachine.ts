import { z } from "zod";
import { API_VERSION, Condition, ObjectMeta, Quantity } from "./common.js";
import { quantityToBytes } from "./quantity.js";

export const RunStrategy = z.enum(["Always", "RerunOnFailure", "Once", "Manual", "Halted"]);
export const EvictionStrategy = z.enum(["LiveMigrate", "LiveMigrateIfPossible", "None"]);
export const MachineType = z.enum(["q35", "microvm"]);
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

const ContainerDisk = z.object({
  image: z.string().min(1).describe("Image holding the disk file"),
  path: z
    .string()
    .min(1)
    .default("/disk/disk.img")
    .describe("Path of the disk file inside the image"),
});

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
        networkData: z.string().max(65536).optional(),
      })
      .optional(),
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

export const VirtualMachineSpec = z.object({
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
  terminationGracePeriodSeconds: z.number().int().min(0).max(3600).default(30),
  nodeSelector: z.record(z.string(), z.string()).optional(),
  tolerations: z.array(Toleration).optional(),
  affinity: z
    .record(z.string(), z.unknown())
    .optional()
    .describe("Passed through to the launcher pod unchanged (core/v1 Affinity)")
    .meta({ "x-kubernetes-preserve-unknown-fields": true }),
});
export type VirtualMachineSpec = z.infer<typeof VirtualMachineSpec>;
export type VirtualMachineSpecInput = z.input<typeof VirtualMachineSpec>;

export const VirtualMachineStatus = z.object({
  phase: VirtualMachinePhase.optional(),
  nodeName: z.string().optional(),
  launcherPod: z.string().optional(),
  ipAddress: z.string().optional(),
  acceleration: AcceleratorInUse.optional().describe("Accelerator actually in use"),
  accelerationReason: z.string().optional(),
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
