import { describe, expect, it } from "vitest";
import {
  type LauncherStatus,
  VirtualMachine,
  type VirtualMachineStatus,
} from "../../../src/api/index.js";
import {
  DEFAULT_DECIDE_CONFIG,
  type DecideInput,
  decide,
  MISSING_SOURCE_RETRY_MS,
  VM_FINALIZER,
} from "../../../src/operator/vm/decide.js";
import { CONDITION_AGENT_CONNECTED } from "../../../src/operator/vm/guest-agent.js";
import type { ObservedPod } from "../../../src/operator/vm/observe.js";
import { statusPatch } from "../../../src/operator/vm/status-patch.js";
import type { VolumeSource } from "../../../src/operator/vm/volume-sources.js";

const NOW = new Date("2026-01-01T12:00:00Z");

function vm(status?: VirtualMachineStatus): VirtualMachine {
  return VirtualMachine.parse({
    apiVersion: "kubevisor.io/v1alpha1",
    kind: "VirtualMachine",
    metadata: {
      name: "deb",
      namespace: "ns",
      uid: "uid-1",
      generation: 1,
      finalizers: [VM_FINALIZER],
    },
    spec: {
      memory: { size: "1Gi" },
      firmware: { type: "UEFI" },
      disks: [
        {
          name: "root",
          containerDisk: { image: "kubevisor/debian-cloud:12", path: "/disk/disk.qcow2" },
        },
        { name: "ci", cloudInitNoCloud: { userDataSecretRef: { name: "deb-user" } } },
      ],
    },
    ...(status ? { status } : {}),
  });
}

const running: VirtualMachineStatus = {
  launchCount: 1,
  launcherPod: "deb-launcher-1",
  launchClaimedAt: new Date(NOW.getTime() - 3_600_000).toISOString(),
  phase: "Running",
};

function pod(o: Partial<ObservedPod> = {}): ObservedPod {
  return {
    name: "deb-launcher-1",
    uid: "pod-uid-1",
    launch: 1,
    migrationTarget: false,
    stage: "Running",
    terminating: false,
    ready: true,
    nodeName: "node-a",
    podIP: "10.0.0.7",
    ...o,
  };
}

function run(v: VirtualMachine, pods: ObservedPod[], extra: Partial<DecideInput> = {}) {
  return decide({ vm: v, pods, now: NOW, config: DEFAULT_DECIDE_CONFIG, ...extra });
}

const agent = (d: ReturnType<typeof run>) =>
  d.status.conditions?.find((c) => c.type === CONDITION_AGENT_CONNECTED);

const OS = {
  id: "debian",
  name: "Debian GNU/Linux",
  version: "12",
  kernelRelease: "6.1.0-28-cloud-amd64",
};
const NICS = [{ name: "eth0", mac: "52:54:00:12:34:56", ipAddresses: ["10.0.2.15", "fe80::1"] }];
const connected: LauncherStatus = {
  phase: "Running",
  guest: { agentConnected: true, osInfo: OS, interfaces: NICS },
};

describe("guest agent in the VM status", () => {
  it("copies what the agent reports and says it is connected", () => {
    const d = run(vm(running), [pod()], { launcher: connected });
    expect(d.status.guestOSInfo).toEqual(OS);
    expect(d.status.interfaces).toEqual(NICS);
    expect(agent(d)).toMatchObject({ status: "True", reason: "AgentConnected" });
  });

  it("keeps the address users connect to: the pod's, not the guest's own NIC address", () => {
    const d = run(vm(running), [pod()], { launcher: connected });
    expect(d.status.ipAddress).toBe("10.0.0.7");
  });

  it("says why when no agent answers, and drops what an agent once said", () => {
    const before = run(vm(running), [pod()], { launcher: connected }).status;
    const d = run(vm(before), [pod()], {
      launcher: { phase: "Running", guest: { agentConnected: false } },
    });
    expect(agent(d)).toMatchObject({ status: "False", reason: "AgentNotConnected" });
    expect(d.status.guestOSInfo).toBeUndefined();
    expect(statusPatch(before, d.status)).toMatchObject({ guestOSInfo: null, interfaces: null });
  });

  it("tells a launcher that has not polled yet from an agent that is absent", () => {
    const d = run(vm(running), [pod()], { launcher: { phase: "Running" } });
    expect(agent(d)).toMatchObject({ status: "False", reason: "AgentNotPolled" });
  });

  it("changes nothing when the launcher did not answer", () => {
    const before = run(vm(running), [pod()], { launcher: connected }).status;
    const d = run(vm(before), [pod()]);
    expect(d.status.guestOSInfo).toEqual(OS);
    expect(agent(d)?.status).toBe("True");
    expect(statusPatch(before, d.status)).toBeUndefined();
  });

  it("clears it all once the guest is down", () => {
    const before = run(vm(running), [pod()], { launcher: connected }).status;
    const gone = pod({
      stage: "Succeeded",
      ready: false,
      exit: { code: 0, reason: "GuestShutdown" },
    });
    const d = run(vm({ ...before }), [gone]);
    expect(d.status.guestOSInfo).toBeUndefined();
    expect(d.status.interfaces).toBeUndefined();
    expect(agent(d)).toMatchObject({ status: "False", reason: "GuestNotRunning" });
  });

  it("adds no agent condition to a VM that never ran", () => {
    const d = run(vm(), [], { missingSources: [] });
    expect(agent(d)).toBeUndefined();
  });
});

const MISSING: VolumeSource[] = [
  { kind: "Secret", name: "deb-user", disk: "ci", field: "cloudInitNoCloud.userDataSecretRef" },
];

describe("a Secret or claim the pod needs is missing", () => {
  it("creates no pod and names what is missing in the Failure condition", () => {
    const d = run(vm(), [], { missingSources: MISSING });
    expect(d.actions.filter((a) => a.type === "launch")).toEqual([]);
    expect(d.status.launchCount).toBeUndefined();
    expect(d.status.phase).toBe("Pending");
    const failure = d.status.conditions?.find((c) => c.type === "Failure");
    expect(failure).toMatchObject({ status: "True", reason: "SecretNotFound" });
    expect(failure?.message).toContain('Secret "deb-user"');
    expect(failure?.message).toContain("userDataSecretRef");
    expect(d.events.map((e) => e.reason)).toContain("SecretNotFound");
    expect(d.requeueAfterMs).toBe(MISSING_SOURCE_RETRY_MS);
  });

  it("launches once it exists", () => {
    const waiting = run(vm(), [], { missingSources: MISSING }).status;
    const d = run(vm(waiting), [], { missingSources: [] });
    expect(d.actions).toContainEqual({ type: "launch", launch: 1, podName: "deb-launcher-1" });
  });

  it("explains a pod the kubelet cannot start because it went missing after the launch", () => {
    const d = run(
      vm({ ...running, phase: "Starting" }),
      [pod({ stage: "Scheduled", ready: false })],
      {
        missingSources: [
          {
            kind: "PersistentVolumeClaim",
            name: "root-pvc",
            disk: "root",
            field: "persistentVolumeClaim.claimName",
          },
        ],
      },
    );
    expect(d.status.phase).toBe("Starting");
    expect(d.status.conditions?.find((c) => c.type === "Failure")).toMatchObject({
      status: "True",
      reason: "PersistentVolumeClaimNotFound",
    });
  });
});
