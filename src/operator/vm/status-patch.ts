import { isDeepStrictEqual } from "node:util";
import type { VirtualMachineStatus } from "../../api/index.js";

/**
 * The JSON merge patch that turns `before` into `after`, top-level status fields only
 * (conditions are replaced as a whole, as a merge patch does with lists); undefined when
 * nothing changed, so unchanged VMs cost no write. Only fields the API knows are compared:
 * `before` is the validated status, so fields written by someone else are left alone.
 */
export function statusPatch(
  before: VirtualMachineStatus | undefined,
  after: VirtualMachineStatus,
): Record<string, unknown> | undefined {
  const old = (before ?? {}) as Record<string, unknown>;
  const next = after as Record<string, unknown>;
  const patch: Record<string, unknown> = {};
  for (const key of new Set([...Object.keys(old), ...Object.keys(next)])) {
    if (isDeepStrictEqual(asJson(old[key]), asJson(next[key]))) continue;
    patch[key] = next[key] === undefined ? null : next[key];
  }
  return Object.keys(patch).length > 0 ? patch : undefined;
}

/** Compare as the API stores it: keys holding undefined do not exist in JSON. */
function asJson(value: unknown): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}
