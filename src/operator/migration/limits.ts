import type { MigrationPhase, VirtualMachineMigrationSpec } from "../../api/index.js";
import { quantityToBytes } from "../../api/index.js";

/** Phases that hold a migration slot: from the target pod's creation until the end. */
export const ACTIVE_PHASES: ReadonlySet<MigrationPhase> = new Set([
  "Scheduling",
  "TargetReady",
  "Running",
]);

export interface SlotUse {
  name: string;
  namespace: string;
  phase?: MigrationPhase;
  sourceNode?: string;
}

export interface SlotLimits {
  parallelPerCluster: number;
  parallelPerNode: number;
  /** At most this many from one namespace, so one tenant cannot take every cluster slot. */
  parallelPerNamespace: number;
}

/**
 * Whether one more migration from `sourceNode` may start now; undefined when it may, else
 * why it waits (for the status and an Event).
 */
export function slotRefusal(
  self: { name: string; namespace: string },
  sourceNode: string,
  all: readonly SlotUse[],
  limits: SlotLimits,
): string | undefined {
  const others = all.filter(
    (m) =>
      !(m.name === self.name && m.namespace === self.namespace) &&
      m.phase !== undefined &&
      ACTIVE_PHASES.has(m.phase),
  );
  if (others.length >= limits.parallelPerCluster) {
    return `${others.length} migrations are running cluster-wide (limit ${limits.parallelPerCluster})`;
  }
  const fromNamespace = others.filter((m) => m.namespace === self.namespace).length;
  if (fromNamespace >= limits.parallelPerNamespace) {
    return `${fromNamespace} migrations are running in namespace ${self.namespace} (limit ${limits.parallelPerNamespace} per namespace)`;
  }
  const fromNode = others.filter((m) => m.sourceNode === sourceNode).length;
  if (fromNode >= limits.parallelPerNode) {
    return `${fromNode} migrations are leaving node ${sourceNode} (limit ${limits.parallelPerNode})`;
  }
  return undefined;
}

export interface Bounded {
  /** Bytes/s the source may send at; undefined: unlimited (no admin bound either). */
  bandwidthBytesPerSec?: number;
  completionTimeoutPerGiB: number;
  /** One line per value that was clamped to an admin bound (for an Event). */
  clamped: string[];
}

/**
 * The migration's knobs within the admin's bounds. A request beyond a bound is clamped, not
 * refused: the migration still runs, only slower or with less time, and an Event says so.
 */
export function boundedSettings(
  spec: VirtualMachineMigrationSpec,
  limits: {
    completionTimeoutPerGiB: number;
    maxCompletionTimeoutPerGiB: number;
    maxBandwidthBytesPerSec?: number;
  },
): Bounded {
  const clamped: string[] = [];
  const asked = spec.bandwidth !== undefined ? quantityToBytes(spec.bandwidth) : undefined;
  const max = limits.maxBandwidthBytesPerSec;
  let bandwidth = asked;
  if (max !== undefined && (asked === undefined || asked > max)) {
    bandwidth = max;
    clamped.push(
      `bandwidth ${spec.bandwidth ?? "unlimited"} clamped to the cluster bound of ${max} bytes/s`,
    );
  }
  const perGiB = spec.completionTimeoutPerGiB ?? limits.completionTimeoutPerGiB;
  let completion = perGiB;
  if (perGiB > limits.maxCompletionTimeoutPerGiB) {
    completion = limits.maxCompletionTimeoutPerGiB;
    clamped.push(`completionTimeoutPerGiB ${perGiB} clamped to the cluster bound of ${completion}`);
  }
  return {
    ...(bandwidth !== undefined
      ? { bandwidthBytesPerSec: Math.max(1, Math.round(bandwidth)) }
      : {}),
    completionTimeoutPerGiB: completion,
    clamped,
  };
}
