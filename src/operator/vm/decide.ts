import type {
  Condition,
  LauncherStatus,
  VirtualMachine,
  VirtualMachineSpec,
  VirtualMachineStatus,
} from "../../api/index.js";
import type { LauncherFault } from "../launcher-client.js";
import type { Migratability } from "../migration/migratable.js";
import {
  CONDITION_FAILURE,
  CONDITION_LAUNCHER,
  CONDITION_MIGRATABLE,
  CONDITION_PAUSED,
  CONDITION_READY,
  findCondition,
  pausedCondition,
  removeCondition,
  setCondition,
} from "./conditions.js";
import { guestAgentStatus, noGuestAgent } from "./guest-agent.js";
import { startFailure } from "./image-volumes.js";
import { launcherPodName } from "./naming.js";
import { isTerminal, type ObservedPod } from "./observe.js";
import { readUserRequests, type UserRequests } from "./requests.js";
import { launcherCondition, sortPods } from "./trust.js";
import { MISSING_REASON, missingMessage, type VolumeSource } from "./volume-sources.js";

export { rejectedLaunch } from "./trust.js";

/**
 * The VM state machine as a pure function: (VM, its launcher pods, the launcher's answer,
 * the time) → the status the VM should have and the actions that move the world towards it.
 * Level-triggered: it never remembers anything between calls; whatever must survive an
 * operator restart is in the VM's status.
 */

type VirtualMachinePhase = NonNullable<VirtualMachineStatus["phase"]>;
type RunStrategy = VirtualMachineSpec["runStrategy"];

export const VM_FINALIZER = "kubevisor.io/vm-protection";

export interface DecideConfig {
  /**
   * How long this operator process watches a claim with no recorded pod (on its own
   * monotonic clock, see DecideInput.claimSeenMs) before claiming the next launch. Liveness
   * only: a replica that is mid-create gets to record its pod instead of being superseded.
   * Safety never depends on it — an unrecorded pod is never told to start.
   */
  claimGraceMs: number;
  /** A guest that failed after running less than this is restarted only after `restartDelayMs`. */
  quickFailureMs: number;
  restartDelayMs: number;
  /** Poll the launcher's /status this often while the guest runs. */
  statusPollMs: number;
  /** A launch whose pod create the apiserver refused (quota, admission) is retried this late. */
  rejectRetryMs: number;
}

/** How soon an unanswered launcher /status is asked again. */
export const LAUNCHER_RETRY_MS = 1000;

export const DEFAULT_DECIDE_CONFIG: DecideConfig = {
  claimGraceMs: 10_000,
  quickFailureMs: 10_000,
  restartDelayMs: 10_000,
  statusPollMs: 30_000,
  rejectRetryMs: 30_000,
};

export interface DecideInput {
  vm: VirtualMachine;
  /** Every launcher pod labelled for this VM. */
  pods: ObservedPod[];
  /** The current launcher's GET /status answer, when it was asked. */
  launcher?: LauncherStatus;
  /** Why the current launcher's last answer could not be used, when it could not. */
  launcherFault?: { fault: LauncherFault; message: string };
  /**
   * Set when the launcher TLS Secret's name is taken by a Secret the operator did not
   * create: nothing is launched (it would mount someone else's keys), the VM says why.
   */
  tlsSecretConflict?: string;
  /** Readiness of the node the current pod runs on, when known. */
  nodeReady?: boolean;
  /**
   * Secrets and claims the VM's pod would mount that do not exist; looked up (by name)
   * whenever a pod may be created or has not started yet, absent otherwise.
   */
  missingSources?: VolumeSource[];
  // ---- migration inputs (the migration reconciler owns the pods while one runs) ----
  /** Whether the VM's disks let it live-migrate; the Migratable condition follows it. */
  migratability?: Migratability;
  /** True when `status.migration` names a migration that no longer exists (checked live). */
  migrationGone?: boolean;
  /**
   * For a claim whose pod is not observed: how long this process has seen it unchanged, by
   * its own monotonic clock (never another replica's wall clock). Absent counts as just seen.
   */
  claimSeenMs?: number;
  now: Date;
  config: DecideConfig;
}

export type Action =
  /** Create the pod for launch `launch`; its claim is in the decided status, written first. */
  | { type: "launch"; launch: number; podName: string }
  /** Graceful delete: the launcher shuts the guest down within its grace period. */
  | { type: "deletePod"; name: string; uid: string; why: string }
  /** Remove a finished pod of an earlier launch. */
  | { type: "cleanupPod"; name: string; uid: string }
  /**
   * POST /start to the current launcher (the pod with the recorded UID, waiting at its start
   * gate): only now does it prepare disks and start QEMU.
   */
  | { type: "startLauncher"; name: string; uid: string }
  | { type: "clearStateRequest" }
  | { type: "addFinalizer" }
  | { type: "removeFinalizer" };

export interface VmEvent {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

export interface Decision {
  status: VirtualMachineStatus;
  actions: Action[];
  events: VmEvent[];
  requeueAfterMs?: number;
}

/** How the current launch ended, or that there is none. */
type Outcome =
  | { kind: "never" }
  | { kind: "abandoned" }
  | { kind: "succeeded"; message: string }
  | { kind: "stopped"; message: string }
  | { kind: "failed"; message: string; reason: string }
  | { kind: "configError"; message: string }
  /** The apiserver refused the claimed launch's pod; the same launch is tried again. */
  | { kind: "rejected"; message: string };

const SETTLED: ReadonlySet<VirtualMachinePhase | undefined> = new Set([
  "Succeeded",
  "Failed",
  "Stopped",
]);
const MIGRATION_DONE = new Set(["Succeeded", "Failed"]);
const ACTIVE: ReadonlySet<VirtualMachinePhase> = new Set(["Running", "Starting", "Stopping"]);

export function decide(input: DecideInput): Decision {
  const { vm } = input;
  const d: Decision = {
    status: { ...(vm.status ?? {}), observedGeneration: vm.metadata.generation ?? 0 },
    actions: [],
    events: [],
  };
  if (vm.metadata.deletionTimestamp) return decideDeletion(input, d);
  if (!vm.metadata.finalizers?.includes(VM_FINALIZER)) {
    // Nothing is created before the finalizer is in place, so deletion always finds it.
    d.actions.push({ type: "addFinalizer" });
    return d;
  }
  const migration = vm.status?.migration;
  const vanished = migration && !MIGRATION_DONE.has(migration.phase ?? "") && input.migrationGone;
  if (vanished) {
    // Its object is gone (finalizer removed by hand, say): no migration pass will ever run
    // for it again, so the VM reconciler lets go of it here; stray targets go below.
    d.status.migration = undefined;
    d.events.push({
      type: "Warning",
      reason: "MigrationVanished",
      message: `migration ${migration.name} no longer exists; the VM is no longer migrating`,
    });
  } else if (migration && !MIGRATION_DONE.has(migration.phase ?? "")) {
    // The migration reconciler owns the pods until it is done; only say so.
    d.status.phase = "Migrating";
    d.requeueAfterMs = input.config.statusPollMs;
    return finish(input, d);
  }

  const requests = readUserRequests(vm);
  if (requests.rejectedState) {
    d.actions.push({ type: "clearStateRequest" });
    d.events.push({
      type: "Warning",
      reason: "StateRequestIgnored",
      message: `state request "${requests.rejectedState.value}" ignored: ${requests.rejectedState.why}`,
    });
  }
  const { current, refused } = sortPods(input);
  if (current && vm.status?.launcherPodUID === undefined) d.status.launcherPodUID = current.uid;
  const blocked = handleOtherPods(input, d, current, refused, vanished === true);

  if (current && !isTerminal(current)) decideActive(input, d, current, requests);
  else decideIdle(input, d, current, requests, blocked);
  d.status.conditions = launcherCondition(input, d, current, refused);
  return finish(input, d);
}

function decideDeletion(input: DecideInput, d: Decision): Decision {
  d.actions.push(...deletionActions(input.vm.metadata, input.pods));
  if (d.actions.some((a) => a.type === "removeFinalizer")) return d;
  d.status.phase = "Stopping";
  return finish(input, d);
}

/**
 * A VM being deleted: stop every live launcher pod gracefully, and let the VM go (drop the
 * finalizer) only once none is left. Needs nothing of the spec, so it also serves VMs
 * whose spec no longer validates.
 */
export function deletionActions(meta: { finalizers?: string[] }, pods: ObservedPod[]): Action[] {
  const live = pods.filter((p) => !isTerminal(p));
  if (live.length === 0) {
    return meta.finalizers?.includes(VM_FINALIZER) ? [{ type: "removeFinalizer" }] : [];
  }
  return live
    .filter((p) => !p.terminating)
    .map((p) => ({ type: "deletePod", name: p.name, uid: p.uid, why: "the VM is being deleted" }));
}

/**
 * Pods that are not the current launch: finished ones are cleaned up, live ones from an
 * earlier launch are stopped (they should not exist), and any live one blocks a new launch.
 */
function handleOtherPods(
  input: DecideInput,
  d: Decision,
  current: ObservedPod | undefined,
  refused: ObservedPod[],
  strayTargets: boolean,
): boolean {
  const launches = input.vm.status?.launchCount ?? 0;
  let blocked = false;
  for (const pod of input.pods) {
    if (pod === current) continue;
    // Never started (start gate) and never ours to delete: it blocks nothing.
    if (refused.includes(pod)) continue;
    if (isTerminal(pod)) {
      if (!pod.terminating) d.actions.push({ type: "cleanupPod", name: pod.name, uid: pod.uid });
      continue;
    }
    blocked = true;
    if (strayTargets && pod.migrationTarget && !pod.terminating) {
      // The migration that made this target vanished: nobody else will ever remove it, and
      // it must never come to run the guest. (Only then: a former target that ran the guest
      // and now sends it on is a source finishing its own exit, not a stray.)
      d.actions.push({
        type: "deletePod",
        name: pod.name,
        uid: pod.uid,
        why: "it is a migration target no running migration owns",
      });
      continue;
    }
    // A pod from a launch newer than the status knows means this status is stale: leave it.
    if (
      !pod.terminating &&
      !pod.migrationTarget &&
      pod.launch !== undefined &&
      pod.launch < launches
    ) {
      d.actions.push({
        type: "deletePod",
        name: pod.name,
        uid: pod.uid,
        why: `it belongs to launch ${pod.launch}, superseded by launch ${launches}`,
      });
    }
  }
  return blocked;
}

function decideActive(input: DecideInput, d: Decision, pod: ObservedPod, requests: UserRequests) {
  const { vm } = input;
  const stopWhy =
    vm.spec.runStrategy === "Halted"
      ? "runStrategy is Halted"
      : requests.state === "stop"
        ? "a stop was requested"
        : undefined;
  if (requests.state === "start") d.actions.push({ type: "clearStateRequest" });
  if (!pod.terminating && (stopWhy || requests.restart)) {
    const why = stopWhy ?? "a restart was requested";
    d.actions.push({ type: "deletePod", name: pod.name, uid: pod.uid, why });
    d.events.push({
      type: "Normal",
      reason: stopWhy ? "Stopping" : "Restarting",
      message: `stopping the guest in ${pod.name}: ${why}`,
    });
    d.status.phase = "Stopping";
  } else {
    d.status.phase = activePhase(pod, input.launcher, vm.status?.phase);
    // `pod` is the recorded one (sortPods): the only pod that is ever told to start.
    if (input.launcher?.awaitingStart && !pod.terminating) {
      d.actions.push({ type: "startLauncher", name: pod.name, uid: pod.uid });
    }
  }
  d.status.nodeName = pod.nodeName;
  d.status.ipAddress = pod.podIP;
  if (input.launcher?.acceleration) {
    d.status.acceleration = input.launcher.acceleration;
    d.status.accelerationReason = input.launcher.accelerationReason;
  }
  Object.assign(d.status, guestAgentStatus(d.status, input.launcher, input.now));
  d.status.conditions = pausedCondition(d.status.conditions, input.launcher?.phase, input.now);

  if (pod.unschedulable) {
    d.status.conditions = failure(
      d,
      "Unschedulable",
      `launcher pod ${pod.name} cannot be scheduled: ${pod.unschedulable}`,
      input.now,
    );
  } else if (pod.imagePullError) {
    const { reason, message } = startFailure(vm, pod.imagePullError);
    d.status.conditions = failure(d, reason, message, input.now);
  } else if (pod.stage === "Scheduled" && missingSourcesFailure(input, d)) {
    // The kubelet waits in ContainerCreating for the missing volume; say which one.
  } else if (d.status.phase === "Running") {
    d.status.conditions = setCondition(
      d.status.conditions,
      { type: CONDITION_FAILURE, status: "False", reason: "Running", message: "" },
      input.now,
    );
  }
  if (d.status.phase === "Running") {
    // Until the launcher has named its accelerator, ask again soon: its API may start a moment
    // after the pod turns Ready, or answer while the KVM probe still runs (real nodes with
    // /dev/kvm), and the accelerator column should not wait a whole poll interval.
    d.requeueAfterMs = input.launcher?.acceleration ? input.config.statusPollMs : LAUNCHER_RETRY_MS;
  } else if (d.status.phase === "Starting" && pod.stage === "Running") {
    // The container runs but the guest does not yet: its launcher waits for /start (or is
    // booting), and no pod event will come until it is Ready. Look again soon.
    d.requeueAfterMs = LAUNCHER_RETRY_MS;
  }
}

function activePhase(
  pod: ObservedPod,
  launcher: LauncherStatus | undefined,
  previous: VirtualMachinePhase | undefined,
): VirtualMachinePhase {
  if (pod.terminating) return "Stopping";
  switch (pod.stage) {
    case "Unscheduled":
      return "Scheduling";
    case "Scheduled":
      return "Starting";
    case "Running":
      // Readiness lags the launcher by a probe period; the launcher's own word is enough.
      if (pod.ready || launcher?.phase === "Running") return "Running";
      return previous === "Running" ? "Running" : "Starting";
    default:
      // Unknown: the node stopped reporting; the guest may well still run there.
      return previous ?? "Starting";
  }
}

function decideIdle(
  input: DecideInput,
  d: Decision,
  current: ObservedPod | undefined,
  requests: UserRequests,
  blocked: boolean,
) {
  const { vm, now, config } = input;
  const status = vm.status ?? {};
  d.status.nodeName = undefined;
  d.status.ipAddress = undefined;
  d.status.acceleration = undefined;
  d.status.accelerationReason = undefined;
  Object.assign(d.status, noGuestAgent(d.status, now));
  d.status.conditions = removeCondition(d.status.conditions, CONDITION_PAUSED);

  let outcome: Outcome;
  const rejection = findCondition(status.conditions, CONDITION_FAILURE);
  if (!status.launcherPod) {
    outcome = { kind: "never" };
  } else if (current) {
    outcome = outcomeOfPod(current, vm);
  } else if (
    rejection?.status === "True" &&
    rejection.reason === "PodRejected" &&
    !status.launcherPodUID
  ) {
    // The claimed pod was refused by the apiserver, so it does not exist: the claim stands
    // and is tried again later, with no new launch number (no claim churn).
    outcome = { kind: "rejected", message: rejection.message ?? "" };
  } else if (SETTLED.has(status.phase)) {
    outcome = outcomeOfStatus(vm);
  } else if (status.phase === "Pending" && status.launcherPodUID) {
    // Its recorded pod existed and ended while another pod of the VM still lived (the
    // `blocked` wait below); that one is gone now too. Not a claim to wait for: launch again.
    outcome = { kind: "stopped", message: `launcher pod ${status.launcherPod} is gone` };
  } else if (status.phase === "Scheduling" || status.phase === "Pending" || !status.phase) {
    // The claim has no recorded pod: its creator died (or lost the lease) between the claim
    // and the UID write, or its create failed, or a pod not ours holds the name; or its
    // recorded pod vanished before it was ever scheduled (or is not in the cache yet). After a
    // grace on this process's own clock (so a live creator may still record its pod), claim
    // the next launch. Safety needs no clock: a pod of this claim that exists or lands
    // later is never told to start (launcher start gate), so it never runs the guest.
    const seen = input.claimSeenMs ?? 0;
    if (seen < config.claimGraceMs) {
      d.status.phase = "Scheduling";
      d.requeueAfterMs = config.claimGraceMs - seen;
      return;
    }
    outcome = { kind: "abandoned" };
  } else {
    outcome = {
      kind: "stopped",
      message: `launcher pod ${status.launcherPod} was deleted while the guest ran`,
    };
  }

  const run = wantsToRun(vm.spec.runStrategy, outcome, requests);
  recordOutcome(d, outcome, vm, now);
  if (!run.yes) {
    // A stop (or a start that cannot be honoured) is done once the guest is down.
    if (requests.state) d.actions.push({ type: "clearStateRequest" });
    if (requests.restart) {
      d.status.lastRestartRequest = requests.restart;
      d.events.push({
        type: "Warning",
        reason: "RestartIgnored",
        message: `restart not possible: ${run.why}`,
      });
    }
    d.status.phase = settledPhase(outcome, run.stopped);
    return;
  }
  if (blocked) {
    // Another launcher pod of this VM is still alive; a new launch waits for it to end.
    // The guest of the recorded launch is gone, so the VM is no longer running.
    d.status.phase = status.phase && !ACTIVE.has(status.phase) ? status.phase : "Pending";
    d.requeueAfterMs = 1000;
    return;
  }
  const delay = run.requested ? 0 : restartDelay(outcome, current, status, now, config);
  if (delay > 0) {
    d.status.phase = settledPhase(outcome, false);
    d.requeueAfterMs = delay;
    return;
  }
  if (missingSourcesFailure(input, d)) {
    // No pod the kubelet could never start: wait (Secrets and claims are not watched).
    d.status.phase =
      outcome.kind === "never" || outcome.kind === "abandoned"
        ? "Pending"
        : settledPhase(outcome, false);
    d.requeueAfterMs = MISSING_SOURCE_RETRY_MS;
    return;
  }
  // Requests are consumed by the same status write that claims the launch.
  if (requests.state) d.actions.push({ type: "clearStateRequest" });
  if (requests.restart) d.status.lastRestartRequest = requests.restart;
  launch(input, d, outcome, run.why);
}

/** How soon a VM waiting for a missing Secret or claim looks again. */
export const MISSING_SOURCE_RETRY_MS = 5000;

/** A Failure condition naming the missing Secrets and claims, if any; whether there were. */
function missingSourcesFailure(input: DecideInput, d: Decision): boolean {
  const missing = input.missingSources ?? [];
  const first = missing[0];
  if (!first) return false;
  const message = missingMessage(missing, input.vm.metadata.namespace ?? "");
  d.status.conditions = failure(d, MISSING_REASON[first.kind], message, input.now);
  return true;
}

function launch(input: DecideInput, d: Decision, outcome: Outcome, why: string) {
  const { vm, now } = input;
  if (input.tlsSecretConflict) {
    d.status.conditions = failure(d, "SecretConflict", input.tlsSecretConflict, now);
    d.status.phase = vm.status?.phase ?? "Pending";
    d.requeueAfterMs = input.config.statusPollMs;
    return;
  }
  const retry = outcome.kind === "rejected";
  let next = (vm.status?.launchCount ?? 0) + (retry ? 0 : 1);
  // A name already held by a pod (someone else's, or ours never recorded) is skipped: the
  // create would only meet AlreadyExists, and that pod is never adopted.
  const taken = new Set(input.pods.map((p) => p.name));
  while (!retry && taken.has(launcherPodName(vm.metadata.name ?? "", next))) next++;
  const podName = launcherPodName(vm.metadata.name ?? "", next);
  const restarting = outcome.kind !== "never" && outcome.kind !== "abandoned" && !retry;
  Object.assign(d.status, {
    launchCount: next,
    launcherPod: podName,
    // Empty until the creator records its pod's UID; never absent again (see sortPods).
    launcherPodUID: "",
    // When a rejected create is retried (rejectRetryMs); no claim is ever timed out.
    launchClaimedAt: now.toISOString(),
    phase: "Scheduling",
  } satisfies VirtualMachineStatus);
  if (restarting) {
    d.status.restartCount = (vm.status?.restartCount ?? 0) + 1;
    d.events.push({
      type: outcome.kind === "failed" ? "Warning" : "Normal",
      reason: "Restarting",
      message: `${outcomeMessage(outcome)}; starting launch ${next} (${why})`,
    });
  }
  d.actions.push({ type: "launch", launch: next, podName });
  d.requeueAfterMs = input.config.statusPollMs;
}

interface RunWish {
  yes: boolean;
  why: string;
  /** The guest is down because someone asked for it to be (phase Stopped, not the outcome's). */
  stopped: boolean;
  /** A user asked for this run now: no crash-loop delay. */
  requested: boolean;
}

/** Whether a new launch is wanted now, and why (for Events). */
function wantsToRun(strategy: RunStrategy, outcome: Outcome, requests: UserRequests): RunWish {
  const wish = (yes: boolean, why: string, extra: Partial<RunWish> = {}): RunWish => ({
    yes,
    why,
    stopped: false,
    requested: false,
    ...extra,
  });
  if (strategy === "Halted") return wish(false, "runStrategy is Halted", { stopped: true });
  if (requests.state === "stop") return wish(false, "a stop was requested", { stopped: true });
  if (requests.restart) return wish(true, "a restart was requested", { requested: true });
  if (requests.state === "start") return wish(true, "a start was requested", { requested: true });
  switch (outcome.kind) {
    case "never":
      return strategy === "Manual"
        ? wish(false, "runStrategy Manual waits for a start request")
        : wish(true, `runStrategy ${strategy}`);
    case "abandoned":
      return wish(true, "the claimed launch was never started");
    case "rejected":
      return wish(true, "the rejected launch is tried again");
    case "configError":
      return wish(false, "the launcher refused the spec; change the spec to try again");
    case "succeeded":
      return strategy === "Always"
        ? wish(true, "runStrategy Always")
        : wish(false, `runStrategy ${strategy} keeps a finished guest stopped`);
    case "stopped":
    case "failed":
      return strategy === "Always" || strategy === "RerunOnFailure"
        ? wish(true, `runStrategy ${strategy}`)
        : wish(false, `runStrategy ${strategy} does not restart`);
  }
}

function settledPhase(outcome: Outcome, stopped: boolean): VirtualMachinePhase {
  if (stopped) return "Stopped";
  switch (outcome.kind) {
    case "succeeded":
      return "Succeeded";
    case "failed":
    case "configError":
      return "Failed";
    case "rejected":
      return "Pending";
    default:
      return "Stopped";
  }
}

function outcomeOfPod(pod: ObservedPod, vm: VirtualMachine): Outcome {
  const exit = pod.exit;
  const detail = exit?.message ? `: ${exit.message}` : "";
  if (exit?.reason === "ConfigError" || exit?.code === 2) {
    const message = `the launcher refused the spec${detail}`;
    // Refused at an older generation: the spec has changed since, so it is worth a try.
    const recorded = findCondition(vm.status?.conditions, CONDITION_FAILURE);
    const stale =
      recorded?.reason === "ConfigError" &&
      recorded.observedGeneration !== undefined &&
      recorded.observedGeneration < (vm.metadata.generation ?? 0);
    return stale
      ? { kind: "failed", reason: "ConfigError", message }
      : { kind: "configError", message };
  }
  // The operator never told it to start (down longer than the launcher's wait): no guest
  // ran there, so it is as if that launch never happened.
  if (exit?.reason === "NeverStarted") return { kind: "abandoned" };
  if (exit?.code === 0) {
    if (exit.reason === "GuestStopped" || exit.reason === "Migrated") {
      return { kind: "stopped", message: `the guest in ${pod.name} was stopped${detail}` };
    }
    return { kind: "succeeded", message: `the guest in ${pod.name} shut down${detail}` };
  }
  if (exit) {
    const reason = exit.reason ?? "GuestFailed";
    return {
      kind: "failed",
      reason,
      message: `the guest in ${pod.name} failed (exit ${exit.code}, ${reason})${detail}`,
    };
  }
  // Failed without a container exit: evicted, node lost, or killed before it started.
  const why =
    [pod.failureReason, pod.failureMessage].filter(Boolean).join(": ") || "no exit status";
  if (pod.failureReason === "Evicted") {
    return { kind: "stopped", message: `launcher pod ${pod.name} was evicted: ${why}` };
  }
  return {
    kind: "failed",
    reason: pod.failureReason ?? "PodFailed",
    message: `launcher pod ${pod.name} failed: ${why}`,
  };
}

/** The outcome a settled launch whose pod is gone had, read back from the status. */
function outcomeOfStatus(vm: VirtualMachine): Outcome {
  const failureCondition = findCondition(vm.status?.conditions, CONDITION_FAILURE);
  const message = failureCondition?.message ?? "";
  switch (vm.status?.phase) {
    case "Succeeded":
      return { kind: "succeeded", message: "the guest shut down" };
    case "Failed":
      // A refused spec is final only for the generation it was refused at.
      return failureCondition?.reason === "ConfigError" &&
        failureCondition.observedGeneration === vm.metadata.generation
        ? { kind: "configError", message }
        : { kind: "failed", reason: failureCondition?.reason ?? "GuestFailed", message };
    default:
      return { kind: "stopped", message: "the guest was stopped" };
  }
}

function outcomeMessage(outcome: Outcome): string {
  return "message" in outcome ? outcome.message : "the previous launch never started";
}

/**
 * Failures leave a Failure condition that stays until a guest runs again. A ConfigError
 * retried after a spec change keeps the generation it was first refused at, so the retry's
 * own verdict is what counts next.
 */
function recordOutcome(d: Decision, outcome: Outcome, vm: VirtualMachine, now: Date) {
  if (outcome.kind === "configError") {
    d.status.conditions = failure(d, "ConfigError", outcome.message, now);
  } else if (outcome.kind === "failed") {
    const kept = findCondition(vm.status?.conditions, CONDITION_FAILURE);
    const generation =
      outcome.reason === "ConfigError" && kept?.reason === "ConfigError"
        ? kept.observedGeneration
        : undefined;
    d.status.conditions = failure(d, outcome.reason, outcome.message, now, generation);
  }
}

function failure(
  d: Decision,
  reason: string,
  message: string,
  now: Date,
  generation = d.status.observedGeneration,
): Condition[] {
  return setCondition(
    d.status.conditions,
    { type: CONDITION_FAILURE, status: "True", reason, message, observedGeneration: generation },
    now,
  );
}

/** A guest that dies right after starting is not restarted in a tight loop. */
function restartDelay(
  outcome: Outcome,
  pod: ObservedPod | undefined,
  status: VirtualMachineStatus,
  now: Date,
  config: DecideConfig,
): number {
  if (outcome.kind === "rejected") {
    const claimed = Date.parse(status.launchClaimedAt ?? "");
    return Number.isFinite(claimed)
      ? Math.max(0, claimed + config.rejectRetryMs - now.getTime())
      : 0;
  }
  if (outcome.kind !== "failed" || !pod?.exit?.startedAt || !pod.exit.finishedAt) return 0;
  const started = Date.parse(pod.exit.startedAt);
  const finished = Date.parse(pod.exit.finishedAt);
  if (!(finished - started < config.quickFailureMs)) return 0;
  return Math.max(0, finished + config.restartDelayMs - now.getTime());
}

/** Ready condition and the Events that follow from a phase change. */
function finish(input: DecideInput, d: Decision): Decision {
  const { vm, now } = input;
  const phase = d.status.phase ?? "Pending";
  d.status.phase = phase;
  const nodeDown = input.nodeReady === false && phase === "Running";
  d.status.conditions = setCondition(
    d.status.conditions,
    (phase === "Running" || phase === "Migrating") && !nodeDown
      ? { type: CONDITION_READY, status: "True", reason: "GuestRunning", message: "" }
      : {
          type: CONDITION_READY,
          status: "False",
          reason: nodeDown ? "NodeNotReady" : phase,
          message: nodeDown ? `node ${d.status.nodeName} is not ready` : "",
        },
    now,
  );
  if (input.migratability) {
    const { migratable, reason, message } = input.migratability;
    d.status.conditions = setCondition(
      d.status.conditions,
      { type: CONDITION_MIGRATABLE, status: migratable ? "True" : "False", reason, message },
      now,
    );
  }
  d.events.push(...transitionEvents(vm.status, d.status));
  return d;
}

function transitionEvents(
  before: VirtualMachineStatus | undefined,
  after: VirtualMachineStatus,
): VmEvent[] {
  const events: VmEvent[] = [];
  const failBefore = findCondition(before?.conditions, CONDITION_FAILURE);
  const failAfter = findCondition(after.conditions, CONDITION_FAILURE);
  if (
    failAfter?.status === "True" &&
    (failBefore?.status !== "True" || failBefore.reason !== failAfter.reason)
  ) {
    events.push({
      type: "Warning",
      reason: failAfter.reason ?? "Failure",
      message: failAfter.message ?? "",
    });
  }
  const launcherBefore = findCondition(before?.conditions, CONDITION_LAUNCHER);
  const launcherAfter = findCondition(after.conditions, CONDITION_LAUNCHER);
  if (
    launcherAfter?.status === "False" &&
    (launcherBefore?.status !== "False" || launcherBefore.reason !== launcherAfter.reason)
  ) {
    events.push({
      type: "Warning",
      reason: launcherAfter.reason ?? "Launcher",
      message: launcherAfter.message ?? "",
    });
  }
  if (before?.phase === after.phase) return events;
  switch (after.phase) {
    case "Running":
      events.push({
        type: "Normal",
        reason: "Started",
        message: `guest running in ${after.launcherPod} on ${after.nodeName ?? "?"}${after.acceleration ? ` (${after.acceleration})` : ""}`,
      });
      break;
    case "Stopped":
      if (before?.phase)
        events.push({ type: "Normal", reason: "Stopped", message: "the guest is stopped" });
      break;
    case "Succeeded":
      events.push({ type: "Normal", reason: "Succeeded", message: "the guest shut down" });
      break;
    case "Failed":
      events.push({
        type: "Warning",
        reason: "Failed",
        message: failAfter?.message ?? "the guest failed",
      });
      break;
  }
  return events;
}
