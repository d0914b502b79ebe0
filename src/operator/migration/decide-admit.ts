import type { VirtualMachineMigrationStatus } from "../../api/index.js";
import { rfc3339 } from "../vm/conditions.js";
import { isTerminal } from "../vm/observe.js";
import { fail } from "./decide-end.js";
import {
  type MigrationDecideInput,
  type MigrationDecision,
  SHORT_WAIT_MS,
  startSettings,
} from "./decision.js";
import { boundedSettings, slotRefusal } from "./limits.js";
import { targetPodName } from "./target-pod.js";

/** The phases before the guest is sent: admission, the target pod, the target's readiness. */

const SLOT_RECHECK_MS = 2000;
/** VM phases on the way to Running: a migration asked for meanwhile waits. */
const STARTING: ReadonlySet<string> = new Set(["Pending", "Scheduling", "Starting"]);

export function pending(input: MigrationDecideInput, d: MigrationDecision): MigrationDecision {
  const { migration: m, vm, config } = input;
  const name = m.metadata.name ?? "";
  if (!vm) return fail(input, d, "VMNotFound", `VirtualMachine ${m.spec.vmName} not found`);
  const held = failIfHeld(input, d);
  if (held) return held;
  const sourcePod = vm.status?.launcherPod;
  const sourceNode = vm.status?.nodeName;
  if (vm.status?.phase !== "Running" || !sourcePod || !sourceNode) {
    // A VM on its way up (or a cache a moment behind the API) is waited for, for as long
    // as a target may take to schedule; a stopped or failed VM is refused at once.
    const created = Date.parse(m.metadata.creationTimestamp ?? "");
    const age = Number.isFinite(created) ? input.now.getTime() - created : 0;
    if (STARTING.has(vm.status?.phase ?? "Pending") && age < config.targetScheduleTimeoutMs) {
      const message = `VM ${m.spec.vmName} is ${vm.status?.phase ?? "Pending"}; waiting for it to run`;
      Object.assign(d.status, { phase: "Pending", reason: "WaitingForVM", message });
      d.requeueAfterMs = SHORT_WAIT_MS;
      return d;
    }
    return notRunning(input, d);
  }
  const verdict = input.migratable;
  if (!verdict) {
    d.requeueAfterMs = SLOT_RECHECK_MS;
    return d;
  }
  if (!verdict.migratable) return fail(input, d, "NotMigratable", verdict.message);
  const waiting = slotRefusal(
    { name, namespace: m.metadata.namespace ?? "" },
    sourceNode,
    input.slots,
    config,
  );
  if (waiting) {
    if (m.status?.reason !== "WaitingForSlot" || m.status.message !== waiting) {
      d.events.push({
        on: "migration",
        type: "Normal",
        reason: "WaitingForSlot",
        message: waiting,
      });
    }
    Object.assign(d.status, { phase: "Pending", reason: "WaitingForSlot", message: waiting });
    d.requeueAfterMs = SLOT_RECHECK_MS;
    return d;
  }
  const targetPod = targetPodName(m.spec.vmName, m.metadata.uid ?? "");
  Object.assign(d.status, {
    phase: "Scheduling",
    sourceNode,
    sourcePod,
    targetPod,
    // Filled in from the create's own answer (the executor); until then no pod is trusted.
    targetPodUID: "",
    startTime: m.status?.startTime ?? rfc3339(input.now),
    reason: undefined,
    message: undefined,
  } satisfies VirtualMachineMigrationStatus);
  // The claim makes this the VM's only migration and tells the VM reconciler to leave its
  // pods alone; a Scheduling migration whose claim did not land claims again (scheduling()).
  d.actions.push({ type: "writeVm", write: { phase: "Scheduling", claim: true } });
  const msg = `migrating from ${sourceNode} (pod ${sourcePod}) to a new pod ${targetPod}`;
  d.events.push({ on: "migration", type: "Normal", reason: "Scheduling", message: msg });
  d.events.push({
    on: "vm",
    type: "Normal",
    reason: "MigrationStarted",
    message: `${name}: ${msg}`,
  });
  for (const line of boundedSettings(m.spec, config).clamped) {
    d.events.push({ on: "migration", type: "Warning", reason: "Clamped", message: line });
  }
  d.requeueAfterMs = 0;
  return d;
}

export function scheduling(input: MigrationDecideInput, d: MigrationDecision): MigrationDecision {
  const { migration: m, vm, targetPod: target, sourcePod: source, now, config } = input;
  if (!vm) return fail(input, d, "VMNotFound", "the VM is gone");
  const held = failIfHeld(input, d);
  if (held) return held;
  if (!source || isTerminal(source) || vm.status?.launcherPod !== source.name) {
    return fail(input, d, "SourceFailed", `source pod ${m.status?.sourcePod} is gone`);
  }
  if (vm.status?.migration?.name !== m.metadata.name) {
    if (vm.status?.phase !== "Running") {
      return notRunning(input, d);
    }
    // Admitted, but the claim on the VM did not land (conflict, operator restart): again.
    d.actions.push({ type: "writeVm", write: { phase: "Scheduling", claim: true } });
    d.requeueAfterMs = SHORT_WAIT_MS;
    return d;
  }
  const age = now.getTime() - Date.parse(m.status?.startTime ?? "");
  const late = Number.isFinite(age) && age > config.targetScheduleTimeoutMs;
  const within = `within ${Math.round(config.targetScheduleTimeoutMs / 1000)} s`;
  if (input.targetPodRefused) {
    // A pod holds the target name but is not the one the operator recorded: a tenant's,
    // or ours whose UID write was lost. Never contacted or started; this migration ends.
    return fail(
      input,
      d,
      "TargetPodRefused",
      `pod ${input.targetPodRefused} holds the target name but is not the pod the operator created; it is never contacted`,
    );
  }
  if (!target) {
    if (late) return fail(input, d, "SchedulingTimeout", `target pod never appeared ${within}`);
    d.actions.push({ type: "createTarget" });
    d.events.push({
      on: "migration",
      type: "Normal",
      reason: "TargetPodCreated",
      message: `creating target pod ${m.status?.targetPod}`,
    });
    d.requeueAfterMs = SHORT_WAIT_MS;
    return d;
  }
  if (isTerminal(target)) {
    return fail(input, d, "TargetFailed", `target pod ${target.name} ended before use`);
  }
  if (late) {
    return target.unschedulable
      ? fail(
          input,
          d,
          "TargetUnschedulable",
          `target pod ${target.name} cannot be scheduled: ${target.unschedulable}`,
        )
      : fail(
          input,
          d,
          "SchedulingTimeout",
          `target pod ${target.name} was not waiting for the guest ${within}`,
        );
  }
  const launcher = input.targetLauncher;
  if (target.stage === "Running" && target.podIP && launcher?.awaitingStart) {
    // The recorded target waits at its start gate: only now does QEMU start with -incoming.
    d.actions.push({ type: "startTarget" });
    d.requeueAfterMs = SHORT_WAIT_MS;
    return d;
  }
  if (target.stage !== "Running" || !target.podIP || launcher?.phase !== "WaitingForMigration") {
    d.requeueAfterMs = SHORT_WAIT_MS;
    return d;
  }
  if (vm.status?.acceleration && launcher.acceleration !== vm.status.acceleration) {
    return fail(
      input,
      d,
      "AcceleratorMismatch",
      `the guest runs under ${vm.status.acceleration} but node ${target.nodeName} offers ${launcher.acceleration}`,
    );
  }
  Object.assign(d.status, { phase: "TargetReady", targetNode: target.nodeName });
  d.events.push({
    on: "migration",
    type: "Normal",
    reason: "TargetReady",
    message: `target pod ${target.name} on ${target.nodeName} waits for the guest`,
  });
  d.requeueAfterMs = 0;
  return d;
}

/** Running is written before the source is told: after a restart, Running means "ask the source". */
export function targetReady(input: MigrationDecideInput, d: MigrationDecision): MigrationDecision {
  if (!input.vm) return fail(input, d, "VMNotFound", "the VM is gone");
  const target = input.targetPod;
  if (!target || isTerminal(target)) {
    return fail(
      input,
      d,
      "TargetFailed",
      `target pod ${input.migration.status?.targetPod} ended before use`,
    );
  }
  d.status.phase = "Running";
  d.actions.push({ type: "writeVm", write: { phase: "Running" } });
  d.actions.push({ type: "startMigration", settings: startSettings(input) });
  d.requeueAfterMs = input.config.pollMs;
  return d;
}

/** Another migration that is not over holds the VM: this one fails. */
function failIfHeld(
  input: MigrationDecideInput,
  d: MigrationDecision,
): MigrationDecision | undefined {
  const claim = input.vm?.status?.migration;
  if (!claim || claim.name === input.migration.metadata.name) return undefined;
  if (claim.phase === "Succeeded" || claim.phase === "Failed") return undefined;
  const vmName = input.migration.spec.vmName;
  return fail(
    input,
    d,
    "MigrationInProgress",
    `VM ${vmName} is already being migrated by ${claim.name}`,
  );
}

/** Only a running VM migrates. */
function notRunning(input: MigrationDecideInput, d: MigrationDecision): MigrationDecision {
  const phase = input.vm?.status?.phase ?? "not started";
  const message = `VM ${input.migration.spec.vmName} is ${phase}; only a running VM migrates`;
  return fail(input, d, "VMNotRunning", message);
}
