import type { V1Pod, V1PodCondition } from "@kubernetes/client-node";

/**
 * What the kubelet reports in pod status, computed from the node's own record of a pod.
 * Pure: the pod worker owns the record; this turns it into the `status` patch.
 */

export type Terminated = {
  kind: "terminated";
  exitCode: number;
  signal?: number;
  reason: string;
  message?: string;
  startedAt?: string;
  finishedAt: string;
};
export type ContainerState =
  | { kind: "waiting"; reason: string; message?: string }
  | { kind: "running"; startedAt: string }
  | Terminated;

export interface ContainerRecord {
  name: string;
  image: string;
  state: ContainerState;
  /** The previous run, once the container has been restarted. */
  lastState?: Terminated;
  restartCount: number;
  /** Readiness probe passing (or none, while running). */
  ready: boolean;
  /** Startup probe passed (or none, while running). */
  started: boolean;
}

export interface PodRecord {
  uid: string;
  podIP?: string;
  hostIP: string;
  startTime: string;
  init: ContainerRecord[];
  containers: ContainerRecord[];
  /** Set when the node ended the pod for good (node shutdown): overrides the phase. */
  ended?: { phase: "Failed" | "Succeeded"; reason?: string; message?: string };
}

export type Phase = "Pending" | "Running" | "Succeeded" | "Failed";

/** Seconds-precision RFC 3339, the resolution of metav1.Time. */
export function kubeTime(d: Date): string {
  return `${d.toISOString().slice(0, 19)}Z`;
}

const succeeded = (c: ContainerRecord) => c.state.kind === "terminated" && c.state.exitCode === 0;

export function initialized(r: PodRecord): boolean {
  return r.init.every(succeeded);
}

/** The kubelet's getPhase, for one pod's record and restart policy. */
export function podPhase(r: PodRecord, restartPolicy: string): Phase {
  if (r.ended) return r.ended.phase;
  if (!initialized(r)) {
    const failed = r.init.some((c) => c.state.kind === "terminated" && c.state.exitCode !== 0);
    return failed && restartPolicy === "Never" ? "Failed" : "Pending";
  }
  let running = 0;
  let waiting = 0;
  let stopped = 0;
  let ok = 0;
  for (const c of r.containers) {
    if (c.state.kind === "running") running++;
    else if (c.state.kind === "terminated") {
      stopped++;
      if (c.state.exitCode === 0) ok++;
    } else if (c.lastState)
      stopped++; // waiting to be restarted
    else waiting++;
  }
  if (waiting > 0) return "Pending";
  if (running > 0) return "Running";
  if (stopped === 0) return "Pending";
  if (restartPolicy === "Always") return "Running";
  if (stopped === ok) return "Succeeded";
  return restartPolicy === "Never" ? "Failed" : "Running";
}

function condition(
  type: string,
  ok: boolean,
  previous: V1PodCondition[] | undefined,
  now: string,
  reason?: string,
  message?: string,
): V1PodCondition {
  const status = ok ? "True" : "False";
  const prev = previous?.find((c) => c.type === type);
  const since = prev?.status === status && prev.lastTransitionTime ? prev.lastTransitionTime : now;
  // Explicit nulls: the patch merges conditions by type, so an omitted field would keep the
  // reason and message of the condition's previous status.
  return {
    type,
    status,
    lastProbeTime: null,
    lastTransitionTime: since,
    reason: (!ok && reason) || null,
    message: (!ok && message) || null,
  } as unknown as V1PodCondition;
}

function stateJson(s: ContainerState) {
  switch (s.kind) {
    case "waiting":
      return { waiting: { reason: s.reason, ...(s.message ? { message: s.message } : {}) } };
    case "running":
      return { running: { startedAt: s.startedAt } };
    case "terminated": {
      const { kind: _, ...t } = s;
      return { terminated: t };
    }
  }
}

function containerStatus(c: ContainerRecord, uid: string, runs: boolean) {
  const everStarted = c.state.kind !== "waiting" || c.lastState !== undefined;
  return {
    name: c.name,
    image: c.image,
    imageID: everStarted ? `kubevisor-local://${c.image}` : "",
    ...(everStarted ? { containerID: `kubevisor://${uid}/${c.name}` } : {}),
    ready: runs && c.ready,
    started: runs && c.started,
    restartCount: c.restartCount,
    state: stateJson(c.state),
    lastState: c.lastState ? stateJson(c.lastState) : {},
  };
}

const names = (cs: ContainerRecord[]) => `[${cs.map((c) => c.name).join(" ")}]`;

/** The status patch (strategic merge: conditions merge by type, keeping others' conditions). */
export function podStatus(pod: V1Pod, r: PodRecord, now: Date) {
  const t = kubeTime(now);
  const prev = pod.status?.conditions;
  const phase = podPhase(r, pod.spec?.restartPolicy ?? "Always");
  const isInit = initialized(r);
  const running = (c: ContainerRecord) => c.state.kind === "running";
  const unready = r.containers.filter((c) => !(running(c) && c.ready));
  const incomplete = r.init.filter((c) => !succeeded(c));
  const gates = (pod.spec?.readinessGates ?? []).filter(
    (g) => prev?.find((c) => c.type === g.conditionType)?.status !== "True",
  );
  const terminal = phase === "Succeeded" || phase === "Failed";
  const containersReady = !terminal && unready.length === 0;
  const readyReason = terminal
    ? "PodCompleted"
    : unready.length > 0
      ? "ContainersNotReady"
      : "ReadinessGatesNotReady";
  const readyMessage = terminal
    ? undefined
    : unready.length > 0
      ? `containers with unready status: ${names(unready)}`
      : `corresponding condition of pod readiness gate "${gates[0]?.conditionType}" does not exist or is False`;
  return {
    phase,
    ...(r.ended?.reason ? { reason: r.ended.reason, message: r.ended.message } : {}),
    hostIP: r.hostIP,
    hostIPs: [{ ip: r.hostIP }],
    ...(r.podIP ? { podIP: r.podIP, podIPs: [{ ip: r.podIP }] } : {}),
    startTime: r.startTime,
    conditions: [
      condition("PodReadyToStartContainers", r.podIP !== undefined && !terminal, prev, t),
      condition(
        "Initialized",
        isInit,
        prev,
        t,
        "ContainersNotInitialized",
        `containers with incomplete status: ${names(incomplete)}`,
      ),
      condition(
        "ContainersReady",
        containersReady,
        prev,
        t,
        terminal ? "PodCompleted" : "ContainersNotReady",
        readyMessage,
      ),
      condition("Ready", containersReady && gates.length === 0, prev, t, readyReason, readyMessage),
    ],
    initContainerStatuses: r.init.map((c) => containerStatus(c, r.uid, running(c))),
    containerStatuses: r.containers.map((c) => containerStatus(c, r.uid, running(c))),
  };
}
