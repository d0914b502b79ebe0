import type { Condition, VirtualMachine, VirtualMachineStatus } from "../../api/index.js";
import {
  CONDITION_FAILURE,
  CONDITION_LAUNCHER,
  removeCondition,
  setCondition,
} from "./conditions.js";
import type { DecideInput, Decision, VmEvent } from "./decide.js";
import { launcherPodName } from "./naming.js";
import { isTerminal, type ObservedPod } from "./observe.js";

/**
 * The trust decisions of the VM state machine, pure like decide.ts: which launcher pod is
 * the VM's (by recorded UID, never by name or labels), what its answers are worth, and what
 * a refused pod create means.
 */

/** Phases in which a launch's pod is alive or on its way. */
const ACTIVE_OR_CLAIMED: ReadonlySet<string | undefined> = new Set([
  "Scheduling",
  "Starting",
  "Running",
  "Stopping",
]);

/**
 * The current launch's pod is the one under the claimed name whose UID the operator
 * recorded when its own create returned. Any other pod under that name, or under the next
 * launch's name, was made by someone else (a tenant may create pods in the namespace):
 * refused — never asked for its status, never told to start, never adopted, never its
 * outcome believed, and not deleted either while it holds the current or next name (it may
 * be someone's workload). It does not block a new launch: even if it is our own pod whose
 * create answer was lost, it waits at its start gate and never runs the guest; the claim
 * moves on to the next launch, and a pod of a superseded launch is deleted like any other.
 */
export function sortPods(input: DecideInput): { current?: ObservedPod; refused: ObservedPod[] } {
  const status = input.vm.status ?? {};
  const next = launcherPodName(input.vm.metadata.name ?? "", (status.launchCount ?? 0) + 1);
  // A status written before UIDs were recorded (no field at all, where claims now write "")
  // adopts the live pod of its active launch once, as the operator that made it would have.
  const legacy = status.launcherPodUID === undefined && ACTIVE_OR_CLAIMED.has(status.phase);
  const { recorded: current, others } = recordedPod(
    input.pods,
    status.launcherPod,
    status.launcherPodUID,
    legacy,
  );
  const refused = [...others, ...input.pods.filter((p) => p.name === next)];
  return current ? { current, refused } : { refused };
}

/**
 * The one rule for every pod the operator creates (launches and migration targets): the
 * pod under `name` is trusted only when its UID is the one recorded in status from the
 * operator's own create answer (`legacy`: a status from before UIDs were recorded trusts
 * the name). Any other pod under that name is returned in `others`: never contacted,
 * started, adopted or switched to.
 */
export function recordedPod<P extends { name: string; uid: string }>(
  pods: readonly P[],
  name: string | undefined,
  uid: string | undefined,
  legacy = false,
): { recorded?: P; others: P[] } {
  let recorded: P | undefined;
  const others: P[] = [];
  for (const pod of pods) {
    if (pod.name !== name) continue;
    if (!recorded && (legacy || (uid !== undefined && uid !== "" && pod.uid === uid)))
      recorded = pod;
    else others.push(pod);
  }
  return recorded ? { recorded, others } : { others };
}

export function launcherCondition(
  input: DecideInput,
  d: Decision,
  current: ObservedPod | undefined,
  refused: ObservedPod[],
): Condition[] | undefined {
  const set = (status: "True" | "False", reason: string, message: string) =>
    setCondition(
      d.status.conditions,
      { type: CONDITION_LAUNCHER, status, reason, message },
      input.now,
    );
  const [squatter] = refused;
  if (squatter) {
    return set(
      "False",
      "LauncherPodRefused",
      `pod ${squatter.name} (uid ${squatter.uid}) is not a launcher pod the operator recorded; ` +
        "it is never contacted, started or adopted",
    );
  }
  if (!current || isTerminal(current))
    return removeCondition(d.status.conditions, CONDITION_LAUNCHER);
  if (current.stage !== "Running" || current.terminating) return d.status.conditions;
  if (input.launcher) return set("True", "Responding", "");
  const fault = input.launcherFault;
  if (fault?.fault === "misbehaving") return set("False", "LauncherMisbehaving", fault.message);
  // Its API may start a moment after the pod runs; unreachable counts once the pod is ready.
  if (fault && current.ready) return set("False", "LauncherUnreachable", fault.message);
  return d.status.conditions;
}

/**
 * The apiserver refused the pod of claimed launch `launch` (quota, Pod Security admission,
 * an invalid field): the status and Event that say so. The claim stays (the pod does not
 * exist), and decideIdle tries the same launch again after `rejectRetryMs`.
 */
export function rejectedLaunch(
  vm: VirtualMachine,
  status: VirtualMachineStatus,
  podName: string,
  apiMessage: string,
  now: Date,
): { status: VirtualMachineStatus; event: VmEvent } {
  const message = `the apiserver refused launcher pod ${podName}: ${apiMessage}`;
  const conditions = setCondition(
    status.conditions,
    {
      type: CONDITION_FAILURE,
      status: "True",
      reason: "PodRejected",
      message,
      observedGeneration: vm.metadata.generation ?? 0,
    },
    now,
  );
  return {
    status: { ...status, phase: "Pending", conditions },
    event: { type: "Warning", reason: "PodRejected", message },
  };
}
