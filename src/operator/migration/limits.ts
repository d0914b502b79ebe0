import type { MigrationPhase } from "../../api/index.js";

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

/**
 * Whether one more migration from `sourceNode` may start now; undefined when it may, else
 * why it waits (for the status and an Event).
 */
export function slotRefusal(
  self: { name: string; namespace: string },
  sourceNode: string,
  all: readonly SlotUse[],
  limits: { parallelPerCluster: number; parallelPerNode: number },
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
  const fromNode = others.filter((m) => m.sourceNode === sourceNode).length;
  if (fromNode >= limits.parallelPerNode) {
    return `${fromNode} migrations are leaving node ${sourceNode} (limit ${limits.parallelPerNode})`;
  }
  return undefined;
}
