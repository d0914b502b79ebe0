import { z } from "zod";
import { API_VERSION, Condition, ObjectMeta, Quantity } from "./common.js";

export const MigrationPhase = z.enum([
  "Pending",
  "Scheduling",
  "TargetReady",
  "Running",
  "Succeeded",
  "Failed",
]);
export type MigrationPhase = z.infer<typeof MigrationPhase>;

export const VirtualMachineMigrationSpec = z.object({
  vmName: z
    .string()
    .min(1)
    .max(253)
    .describe("Name of the VirtualMachine to move, in the same namespace")
    .meta({
      "x-kubernetes-validations": [{ rule: "self == oldSelf", message: "vmName is immutable" }],
    }),
  bandwidth: Quantity.optional().describe(
    "Bandwidth cap per second, e.g. 1Gi; unlimited when unset",
  ),
  completionTimeoutPerGiB: z
    .number()
    .int()
    .min(1)
    .max(86400)
    .optional()
    .describe("Seconds allowed per GiB of guest memory before the migration is cancelled"),
  allowAutoConverge: z.boolean().optional(),
  allowPostCopy: z.boolean().optional(),
});
export type VirtualMachineMigrationSpec = z.infer<typeof VirtualMachineMigrationSpec>;

export const VirtualMachineMigrationStatus = z.object({
  phase: MigrationPhase.optional(),
  sourceNode: z.string().optional(),
  targetNode: z.string().optional(),
  sourcePod: z.string().optional(),
  targetPod: z.string().optional(),
  targetPodUID: z
    .string()
    .optional()
    .describe(
      "UID of the target pod the operator created; only that pod is ever contacted, started or switched to",
    ),
  startTime: z.string().optional(),
  endTime: z.string().optional(),
  progress: z
    .object({
      dataTotalBytes: z.number().int().nonnegative().optional(),
      dataProcessedBytes: z.number().int().nonnegative().optional(),
      dataRemainingBytes: z.number().int().nonnegative().optional(),
    })
    .optional(),
  downtimeMs: z.number().nonnegative().optional(),
  totalTimeMs: z.number().nonnegative().optional(),
  reason: z.string().optional(),
  message: z.string().optional(),
  conditions: z.array(Condition).optional(),
  observedGeneration: z.number().int().nonnegative().optional(),
});
export type VirtualMachineMigrationStatus = z.infer<typeof VirtualMachineMigrationStatus>;

export const VirtualMachineMigration = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal("VirtualMachineMigration"),
  metadata: ObjectMeta,
  spec: VirtualMachineMigrationSpec,
  status: VirtualMachineMigrationStatus.optional(),
});
export type VirtualMachineMigration = z.infer<typeof VirtualMachineMigration>;
