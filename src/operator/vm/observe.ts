import type { V1Pod } from "@kubernetes/client-node";
import {
  ANNOTATION_MIGRATION_TARGET,
  LAUNCHER_CONTAINER,
  type LauncherExitReason,
  parseTerminationMessage,
} from "../../api/index.js";
import { CREATE_REASONS } from "./image-volumes.js";
import { ANNOTATION_LAUNCH } from "./launcher-pod.js";

/** Where a launcher pod is in its life, as far as the VM cares. */
export type PodStage = "Unscheduled" | "Scheduled" | "Running" | "Succeeded" | "Failed" | "Unknown";

/** What the operator needs to know about one launcher pod, distilled from the Pod object. */
export interface ObservedPod {
  name: string;
  uid: string;
  /** Which launch of the VM the pod carries (ANNOTATION_LAUNCH). */
  launch?: number;
  migrationTarget: boolean;
  stage: PodStage;
  /** deletionTimestamp is set: the kubelet is stopping it, the guest may still run. */
  terminating: boolean;
  ready: boolean;
  nodeName?: string;
  podIP?: string;
  /** The scheduler's reason for not placing the pod, while it cannot. */
  unschedulable?: string;
  /** The kubelet cannot pull an image the pod needs. */
  imagePullError?: { reason: string; message: string };
  /** How the launcher container ended, once it has. */
  exit?: PodExit;
  /** Pod-level reason for a failure that did not come from the container (e.g. Evicted). */
  failureReason?: string;
  failureMessage?: string;
}

export interface PodExit {
  code: number;
  /** Parsed from the launcher's termination message; absent when it wrote none. */
  reason?: LauncherExitReason;
  message?: string;
  startedAt?: string;
  finishedAt?: string;
}

const IMAGE_PULL_REASONS = new Set([
  "ErrImagePull",
  "ImagePullBackOff",
  "InvalidImageName",
  "ErrImageNeverPull",
  // The container cannot be created: with image volumes, often one that cannot be mounted.
  ...CREATE_REASONS,
]);
/** Termination text from logs (FallbackToLogsOnError) can be long; status needs a line. */
const MAX_MESSAGE = 1024;

export function isTerminal(pod: ObservedPod): boolean {
  return pod.stage === "Succeeded" || pod.stage === "Failed";
}

/**
 * Timestamps may arrive as strings (watch events) or Date objects (typed client calls);
 * everything here works with RFC 3339 strings.
 */
function timeString(value: unknown): string | undefined {
  if (value instanceof Date) return value.toISOString();
  return typeof value === "string" ? value : undefined;
}

export function observePod(pod: V1Pod): ObservedPod {
  const meta = pod.metadata ?? {};
  const status = pod.status ?? {};
  const launch = Number(meta.annotations?.[ANNOTATION_LAUNCH]);
  const container = status.containerStatuses?.find((c) => c.name === LAUNCHER_CONTAINER);
  const scheduled = status.conditions?.find((c) => c.type === "PodScheduled");
  const ready = status.conditions?.find((c) => c.type === "Ready")?.status === "True";

  const observed: ObservedPod = {
    name: meta.name ?? "",
    uid: meta.uid ?? "",
    migrationTarget: meta.annotations?.[ANNOTATION_MIGRATION_TARGET] === "true",
    stage: stageOf(pod),
    terminating: meta.deletionTimestamp !== undefined && meta.deletionTimestamp !== null,
    ready,
  };
  if (Number.isInteger(launch) && launch > 0) observed.launch = launch;
  if (pod.spec?.nodeName) observed.nodeName = pod.spec.nodeName;
  if (status.podIP) observed.podIP = status.podIP;
  if (
    !pod.spec?.nodeName &&
    scheduled?.status === "False" &&
    scheduled.reason === "Unschedulable"
  ) {
    observed.unschedulable = scheduled.message ?? "no node fits the pod";
  }
  const waiting = container?.state?.waiting;
  if (waiting?.reason && IMAGE_PULL_REASONS.has(waiting.reason)) {
    observed.imagePullError = { reason: waiting.reason, message: clip(waiting.message ?? "") };
  }
  const terminated = container?.state?.terminated;
  if (terminated) {
    const parsed = parseTerminationMessage(terminated.message ?? "");
    const exit: PodExit = { code: terminated.exitCode };
    if (parsed?.reason) exit.reason = parsed.reason;
    const message = parsed ? parsed.message : terminated.message?.trim();
    if (message) exit.message = clip(message);
    const startedAt = timeString(terminated.startedAt);
    const finishedAt = timeString(terminated.finishedAt);
    if (startedAt) exit.startedAt = startedAt;
    if (finishedAt) exit.finishedAt = finishedAt;
    observed.exit = exit;
  }
  if (status.phase === "Failed" && status.reason) observed.failureReason = status.reason;
  if (status.phase === "Failed" && status.message) observed.failureMessage = clip(status.message);
  return observed;
}

function stageOf(pod: V1Pod): PodStage {
  switch (pod.status?.phase) {
    case "Succeeded":
      return "Succeeded";
    case "Failed":
      return "Failed";
    case "Running":
      return "Running";
    case "Unknown":
      return "Unknown";
    default:
      return pod.spec?.nodeName ? "Scheduled" : "Unscheduled";
  }
}

function clip(text: string): string {
  return text.length > MAX_MESSAGE ? `${text.slice(0, MAX_MESSAGE - 1)}…` : text;
}
