import { z } from "zod";
import { isQuantity, QUANTITY_PATTERN } from "./quantity.js";

export { API_VERSION, GROUP, VERSION } from "./group.js";

/** A Kubernetes quantity: int-or-string in the CRD, checked by the same grammar here. */
export const Quantity = z
  .union([z.string(), z.number().int().nonnegative()])
  .refine(isQuantity, { message: "must be a Kubernetes quantity such as 256Mi or 1Gi" })
  .meta({ "x-kubernetes-int-or-string": true, pattern: QUANTITY_PATTERN });
export type Quantity = z.infer<typeof Quantity>;

/** metav1.Condition, the standard shape `kubectl wait --for=condition=` understands. */
export const Condition = z.object({
  type: z.string().min(1).max(316),
  status: z.enum(["True", "False", "Unknown"]),
  reason: z.string().max(1024).optional(),
  message: z.string().max(32768).optional(),
  lastTransitionTime: z.string().optional().describe("RFC 3339 time of the last status change"),
  observedGeneration: z.number().int().nonnegative().optional(),
});
export type Condition = z.infer<typeof Condition>;

export const ObjectMeta = z
  .object({
    name: z.string().optional(),
    namespace: z.string().optional(),
    uid: z.string().optional(),
    generation: z.number().int().optional(),
    resourceVersion: z.string().optional(),
    creationTimestamp: z.string().optional(),
    deletionTimestamp: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
    annotations: z.record(z.string(), z.string()).optional(),
    finalizers: z.array(z.string()).optional(),
  })
  .loose();
export type ObjectMeta = z.infer<typeof ObjectMeta>;
