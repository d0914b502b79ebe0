import { X509Certificate } from "node:crypto";
import type { V1Secret } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { VirtualMachine, type VirtualMachineStatus } from "../../../src/api/index.js";
import { DEFAULT_CERT_POLICY } from "../../../src/operator/certs/rotation.js";
import {
  DEFAULT_DECIDE_CONFIG,
  type DecideInput,
  decide,
  rejectedLaunch,
} from "../../../src/operator/vm/decide.js";
import { buildNetworkPolicy } from "../../../src/operator/vm/network-policy.js";
import type { ObservedPod } from "../../../src/operator/vm/observe.js";
import { ANNOTATION_RESTART_REQUESTED } from "../../../src/operator/vm/requests.js";
import { buildLauncherTlsSecret, tlsSecretVerdict } from "../../../src/operator/vm/tls-secret.js";
import { createCA, issueCertificate } from "../../../src/util/pki.js";
import { ago, launched, NOW, pod, vm as vmWith } from "./fixtures.js";

/** The trust decisions of vm/decide.ts: which pod is ours, which answers count, refusals. */

/** The VM in its launch `status`, with `annotations`. */
const vm = (status?: VirtualMachineStatus, annotations?: Record<string, string>) =>
  vmWith({ status, annotations });

const run = (v: VirtualMachine, pods: ObservedPod[] = [], extra: Partial<DecideInput> = {}) =>
  decide({ vm: v, pods, now: NOW, config: DEFAULT_DECIDE_CONFIG, ...extra });
const condition = (d: ReturnType<typeof run>, type: string) =>
  d.status.conditions?.find((c) => c.type === type);
const reasons = (d: ReturnType<typeof run>) => d.events.map((e) => e.reason);

describe("a pod under a launcher name that the operator did not create", () => {
  const squatter = (n: number, o: Partial<ObservedPod> = {}) =>
    pod(n, { uid: "tenant-uid", podIP: "10.0.0.66", ...o });

  it("is not adopted as the claimed launch, not deleted, and the claim moves past it", () => {
    // Launch 1 was claimed; a tenant's pod got the name first (the create met AlreadyExists).
    const claimed = vm({
      launchCount: 1,
      launcherPod: "web-launcher-1",
      launcherPodUID: "",
      launchClaimedAt: ago(1000),
      phase: "Scheduling",
    });
    const d = run(claimed, [squatter(1)], { claimSeenMs: DEFAULT_DECIDE_CONFIG.claimGraceMs });
    expect(d.status.ipAddress).toBeUndefined();
    expect(d.status.nodeName).toBeUndefined();
    // Never started, never deleted while it holds the name; the next launch goes ahead.
    expect(d.actions).toEqual([{ type: "launch", launch: 2, podName: "web-launcher-2" }]);
    expect(condition(d, "Launcher")).toMatchObject({
      status: "False",
      reason: "LauncherPodRefused",
    });
    expect(condition(d, "Launcher")?.message).toContain("web-launcher-1");
    expect(reasons(d)).toContain("LauncherPodRefused");
  });

  it("is never told to start, even when it waits at its start gate", () => {
    const claimed = vm({
      launchCount: 1,
      launcherPod: "web-launcher-1",
      launcherPodUID: "",
      launchClaimedAt: ago(1000),
      phase: "Scheduling",
    });
    const d = run(claimed, [squatter(1)], {
      launcher: { phase: "Preparing", awaitingStart: true },
    });
    expect(d.actions.map((a) => a.type)).not.toContain("startLauncher");
  });

  it("the recorded pod waiting at its start gate is told to start, by UID", () => {
    const d = run(vm(launched(1, { phase: "Starting" })), [pod(1, { ready: false })], {
      launcher: { phase: "Preparing", awaitingStart: true },
    });
    expect(d.actions).toEqual([
      { type: "startLauncher", name: "web-launcher-1", uid: "pod-uid-1" },
    ]);
    expect(d.status.phase).toBe("Starting");
  });

  it("is not taken for the running guest when it replaces the recorded pod", () => {
    const d = run(vm(launched(1)), [squatter(1)], {
      launcher: { phase: "Running" },
    });
    expect(d.status.phase).not.toBe("Running");
    expect(d.status.ipAddress).toBeUndefined();
    expect(d.actions.filter((a) => a.type === "deletePod" || a.type === "cleanupPod")).toEqual([]);
  });

  it("never has its outcome believed: a finished squatter is not a guest that shut down", () => {
    const finished = squatter(1, {
      stage: "Succeeded",
      ready: false,
      exit: { code: 0, reason: "GuestShutdown" },
    });
    const claimed = vm({
      launchCount: 1,
      launcherPod: "web-launcher-1",
      launcherPodUID: "",
      launchClaimedAt: ago(1000),
      phase: "Scheduling",
    });
    const d = run(claimed, [finished], { claimSeenMs: DEFAULT_DECIDE_CONFIG.claimGraceMs });
    expect(d.status.phase).not.toBe("Succeeded");
    // The claim is abandoned: the next launch goes ahead under a fresh name.
    expect(d.actions).toEqual([{ type: "launch", launch: 2, podName: "web-launcher-2" }]);
  });

  it("under the next launch's name is skipped by the next launch, untouched", () => {
    const restart = { [ANNOTATION_RESTART_REQUESTED]: "2026-01-01T11:59:00Z" };
    const stopped = pod(1, { stage: "Succeeded", ready: false, exit: { code: 0 } });
    const d = run(vm(launched(1), restart), [stopped, squatter(2)]);
    expect(d.actions).toContainEqual({ type: "launch", launch: 3, podName: "web-launcher-3" });
    expect(d.actions).not.toContainEqual(expect.objectContaining({ name: "web-launcher-2" }));
    expect(condition(d, "Launcher")).toMatchObject({ reason: "LauncherPodRefused" });
  });

  it("a claim records no UID yet: only the creator's own create answer fills it in", () => {
    const d = run(vm());
    expect(d.actions).toEqual([{ type: "launch", launch: 1, podName: "web-launcher-1" }]);
    expect(d.status.launcherPodUID).toBe("");
  });

  it("a status from before UIDs were recorded adopts its active launch's pod once", () => {
    const { launcherPodUID: _, ...old } = launched(1);
    const d = run(vm(old), [pod(1)], { launcher: { phase: "Running" } });
    expect(d.status.phase).toBe("Running");
    expect(d.status.launcherPodUID).toBe("pod-uid-1");
    expect(condition(d, "Launcher")).toMatchObject({ status: "True" });
  });

  it("the pod whose UID was recorded is the launcher", () => {
    const d = run(vm(launched(1)), [pod(1)], { launcher: { phase: "Running" } });
    expect(d.status.phase).toBe("Running");
    expect(condition(d, "Launcher")).toMatchObject({ status: "True", reason: "Responding" });
  });
});

describe("a launcher whose answers cannot be used", () => {
  it("misbehaving: a condition and one Warning, and the next ask at the poll pace", () => {
    const fault = { fault: "misbehaving" as const, message: "answer is not JSON: <html>" };
    const d = run(vm(launched(1)), [pod(1)], { launcherFault: fault });
    expect(condition(d, "Launcher")).toMatchObject({
      status: "False",
      reason: "LauncherMisbehaving",
      message: fault.message,
    });
    expect(reasons(d)).toEqual(["LauncherMisbehaving"]);
    const again = run(vm({ ...launched(1), conditions: d.status.conditions }), [pod(1)], {
      launcherFault: fault,
    });
    expect(reasons(again)).toEqual([]);
  });

  it("unreachable: counts only once the pod is ready (its API may still be starting)", () => {
    const fault = { fault: "unreachable" as const, message: "ECONNREFUSED" };
    const starting = run(vm(launched(1, { phase: "Starting" })), [pod(1, { ready: false })], {
      launcherFault: fault,
    });
    expect(condition(starting, "Launcher")).toBeUndefined();
    const ready = run(vm(launched(1)), [pod(1)], { launcherFault: fault });
    expect(condition(ready, "Launcher")).toMatchObject({ reason: "LauncherUnreachable" });
  });

  it("is forgotten once its pod has ended", () => {
    const before = run(vm(launched(1)), [pod(1)], {
      launcherFault: { fault: "misbehaving", message: "x" },
    });
    const ended = pod(1, { stage: "Succeeded", ready: false, exit: { code: 0 } });
    const d = run(vm({ ...launched(1), conditions: before.status.conditions }), [ended]);
    expect(condition(d, "Launcher")).toBeUndefined();
  });
});

describe("a launcher pod the apiserver refuses", () => {
  const claim = {
    launchCount: 3,
    launcherPod: "web-launcher-3",
    launchClaimedAt: NOW.toISOString(),
    phase: "Scheduling" as const,
  };
  const rejected = rejectedLaunch(vm(claim), claim, "web-launcher-3", "exceeded quota", NOW);

  it("is a PodRejected Failure and Event with the apiserver's words", () => {
    expect(rejected.status.phase).toBe("Pending");
    expect(rejected.status.conditions?.[0]).toMatchObject({
      type: "Failure",
      status: "True",
      reason: "PodRejected",
    });
    expect(rejected.event).toMatchObject({ type: "Warning", reason: "PodRejected" });
    expect(rejected.event.message).toContain("exceeded quota");
  });

  it("waits, then tries the same launch again: no new claim numbers", () => {
    const early = run(vm(rejected.status));
    expect(early.actions).toEqual([]);
    expect(early.status.launchCount).toBe(3);
    expect(early.requeueAfterMs).toBe(DEFAULT_DECIDE_CONFIG.rejectRetryMs);
    const later = new Date(NOW.getTime() + DEFAULT_DECIDE_CONFIG.rejectRetryMs);
    const retry = decide({
      vm: vm(rejected.status),
      pods: [],
      now: later,
      config: DEFAULT_DECIDE_CONFIG,
    });
    expect(retry.actions).toEqual([{ type: "launch", launch: 3, podName: "web-launcher-3" }]);
    expect(retry.status.launchCount).toBe(3);
    expect(retry.status.launchClaimedAt).toBe(later.toISOString());
    expect(retry.events.map((e) => e.reason)).not.toContain("Restarting");
  });
});

const policy = { ...DEFAULT_CERT_POLICY, leafLifetimeMs: 60_000, propagationMs: 1000 };
const ca = await createCA("kubevisor-ca");
const other = await createCA("kubevisor-ca");
const leaf = await issueCertificate(ca, {
  commonName: "x",
  usage: "server",
  validForMs: policy.leafLifetimeMs,
});

describe("the launcher TLS Secret", () => {
  const caPem = ca.certPem;
  const now = Date.now();
  const trust = { signingPem: caPem, bundlePem: caPem, policy, now };
  const v = vm();
  const ours = (cert = leaf.certPem, bundle = caPem) =>
    ({
      ...buildLauncherTlsSecret(v, { certPem: cert, keyPem: "k" }, bundle),
      data: {
        "ca.crt": Buffer.from(bundle).toString("base64"),
        "tls.crt": Buffer.from(cert).toString("base64"),
      },
    }) as V1Secret;

  it("made by the operator for this VM with today's CA is used", () => {
    expect(tlsSecretVerdict(ours(), v, trust)).toBe("current");
  });

  it("made by the operator but with another CA, or for an earlier VM of the name, is replaced", () => {
    const rotated = { ...trust, signingPem: other.certPem, bundlePem: other.certPem };
    expect(tlsSecretVerdict(ours(), v, rotated)).toBe("replace");
    const earlier = ours();
    const owner = earlier.metadata?.ownerReferences?.[0];
    if (owner) owner.uid = "uid-0";
    expect(tlsSecretVerdict(earlier, v, trust)).toBe("replace");
  });

  it("is replaced when the bundle grows (a new CA) though the leaf is fresh", () => {
    const both = `${caPem}${other.certPem}`;
    expect(tlsSecretVerdict(ours(), v, { ...trust, bundlePem: both })).toBe("replace");
    expect(tlsSecretVerdict(ours(leaf.certPem, both), v, { ...trust, bundlePem: both })).toBe(
      "current",
    );
  });

  it("is replaced once a third of its lifetime is left, and not before", () => {
    const renewAt = Date.parse(new X509Certificate(leaf.certPem).validTo) - 20_000;
    expect(tlsSecretVerdict(ours(), v, { ...trust, now: renewAt - 1000 })).toBe("current");
    expect(tlsSecretVerdict(ours(), v, { ...trust, now: renewAt })).toBe("replace");
  });

  it("pre-created by someone else is foreign: never used, never overwritten", () => {
    const tenant: V1Secret = {
      metadata: { name: "web-launcher-tls", namespace: "ns" },
      data: { "ca.crt": Buffer.from(caPem).toString("base64") },
    };
    expect(tlsSecretVerdict(tenant, v, trust)).toBe("foreign");
    const d = run(vm(), [], { tlsSecretConflict: "Secret web-launcher-tls is not ours" });
    expect(d.actions).toEqual([]);
    expect(d.status.launchCount).toBeUndefined();
    expect(condition(d, "Failure")).toMatchObject({ status: "True", reason: "SecretConflict" });
  });
});

describe("the launcher NetworkPolicy", () => {
  const v = VirtualMachine.parse({
    ...vm(),
    spec: {
      memory: { size: "256Mi" },
      boot: { kernel: { image: "k" } },
      network: { ports: [{ name: "ssh", port: 22, protocol: "TCP" }] },
    },
  });
  const policy = buildNetworkPolicy(v, "kubevisor-system");
  const launchers = { "kubevisor.io/vm": "web", "kubevisor.io/component": "launcher" };

  it("selects the VM's launcher pods and only lets traffic in", () => {
    expect(policy.spec.podSelector).toEqual({ matchLabels: launchers });
    expect(policy.spec.policyTypes).toEqual(["Ingress"]);
    expect(policy.metadata.ownerReferences?.[0]).toMatchObject({ uid: "uid-1", controller: true });
  });

  it("opens the launcher API to operator pods of the operator namespace only", () => {
    const api = policy.spec.ingress.find((r) => r.ports?.some((p) => p.port === 8443));
    expect(api?.from).toEqual([
      {
        namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "kubevisor-system" } },
        podSelector: { matchLabels: { "app.kubernetes.io/component": "operator" } },
      },
    ]);
  });

  it("opens every port to the VM's own launchers only, and the guest's ports to all", () => {
    const peers = policy.spec.ingress.find((r) => r.ports === undefined);
    expect(peers?.from).toEqual([{ podSelector: { matchLabels: launchers } }]);
    const open = policy.spec.ingress.filter((r) => r.from === undefined);
    expect(open.flatMap((r) => r.ports?.map((p) => p.port))).toEqual([8444, 22]);
  });
});
