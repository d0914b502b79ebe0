import type { VirtualMachineStatus } from "../../api/index.js";
import { CliError, EXIT } from "./errors.js";
import type { VmObject } from "./status.js";

export type StateAction = "start" | "stop" | "restart";

/** What a --wait is waiting for: done, failed with a reason, or not yet. */
export type Progress = { done: true } | { done: false; failed?: string };

const DOWN = new Set(["Stopped", "Succeeded", "Failed"]);

/**
 * Pure: has `action`, asked when the VM looked like `before`, taken effect in `now`?
 * start: the guest runs. stop: the guest is down. restart: a later launch than the one
 * `before` saw runs (launchCount moved, so a VM that merely kept running does not count).
 */
export function actionProgress(
  action: StateAction,
  before: VirtualMachineStatus | undefined,
  now: VirtualMachineStatus | undefined,
): Progress {
  const phase = now?.phase ?? "Pending";
  const failure = now?.conditions?.find((c) => c.type === "Failure" && c.status === "True");
  if (action === "stop") return { done: DOWN.has(phase) };
  const launched = action === "start" || (now?.launchCount ?? 0) > (before?.launchCount ?? 0);
  if (launched && phase === "Running") return { done: true };
  if (phase === "Failed" || (launched && failure))
    return { done: false, failed: failure ? `${failure.reason}: ${failure.message ?? ""}` : phase };
  return { done: false };
}

/** Poll the VM until `action` took effect; throws with the reason when it failed or timed out. */
export async function waitForAction(
  action: StateAction,
  before: VirtualMachineStatus | undefined,
  read: () => Promise<VmObject>,
  timeoutMs: number,
  pollMs = 500,
): Promise<VmObject> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const vm = await read();
    const p = actionProgress(action, before, vm.status);
    if (p.done) return vm;
    if (p.failed)
      throw new CliError(EXIT.failed, `${action} of VM ${vm.metadata.name} failed: ${p.failed}`);
    if (Date.now() > deadline)
      throw new CliError(
        EXIT.failed,
        `VM ${vm.metadata.name} still ${vm.status?.phase ?? "Pending"} after the --timeout`,
      );
    await new Promise((r) => setTimeout(r, pollMs));
  }
}
