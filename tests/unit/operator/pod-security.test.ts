import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import {
  LAUNCHER_DISKS_DIR,
  LAUNCHER_GID,
  LAUNCHER_TLS_DIR,
  LAUNCHER_UID,
  VirtualMachine,
  type VirtualMachineSpecInput,
} from "../../../src/api/index.js";
import { buildTargetPod } from "../../../src/operator/migration/target-pod.js";
import { buildLauncherPod } from "../../../src/operator/vm/launcher-pod.js";
import {
  CONTAINER_DISK_OVERLAY_MIB,
  DISKS_DIR_BASE_MIB,
} from "../../../src/operator/vm/pod-security.js";

function vm(spec: Partial<VirtualMachineSpecInput> = {}): VirtualMachine {
  return VirtualMachine.parse({
    apiVersion: "kubevisor.io/v1alpha1",
    kind: "VirtualMachine",
    metadata: { name: "web", namespace: "ns", uid: "uid-1", generation: 1 },
    spec: {
      memory: { size: "256Mi" },
      boot: { kernel: { image: "kubevisor/test-guest:latest" } },
      ...spec,
    },
  });
}

const config = { image: "kubevisor:dev" };
const withSecrets = vm({
  disks: [
    { name: "root", containerDisk: { image: "kubevisor/debian:12" } },
    { name: "scratch", emptyDisk: { size: "2Gi" } },
    { name: "ci", cloudInitNoCloud: { userDataSecretRef: { name: "user" } } },
  ],
});
const source = buildLauncherPod(withSecrets, 1, config);
const target = buildTargetPod(withSecrets, { name: "m", uid: "m-uid" }, source, "node-a", config);

// The VM pod and the migration target come from one builder: both must pass `restricted`.
describe.each([
  ["launcher pod", source],
  ["migration target pod", target],
] as [string, V1Pod][])("%s security (Pod Security restricted)", (_, pod) => {
  const container = pod.spec?.containers[0];

  it("runs as the image's non-root user and group, with fsGroup for Secret volumes", () => {
    expect(pod.spec?.securityContext).toEqual({
      runAsNonRoot: true,
      runAsUser: LAUNCHER_UID,
      runAsGroup: LAUNCHER_GID,
      fsGroup: LAUNCHER_GID,
      seccompProfile: { type: "RuntimeDefault" },
    });
    expect(LAUNCHER_UID).toBe(65532);
  });

  it("drops every capability, forbids escalation and privilege", () => {
    expect(container?.securityContext?.allowPrivilegeEscalation).toBe(false);
    expect(container?.securityContext?.privileged).toBe(false);
    expect(container?.securityContext?.capabilities).toEqual({ drop: ["ALL"] });
  });

  it("has a read-only root filesystem with sized emptyDirs where it writes", () => {
    expect(container?.securityContext?.readOnlyRootFilesystem).toBe(true);
    const writable = (container?.volumeMounts ?? []).filter((m) => !m.readOnly);
    expect(writable.map((m) => m.mountPath).sort()).toEqual(["/tmp", LAUNCHER_DISKS_DIR]);
    for (const mount of writable) {
      const volume = pod.spec?.volumes?.find((v) => v.name === mount.name);
      expect(volume?.emptyDir?.sizeLimit, mount.mountPath).toMatch(/^\d+Mi$/);
    }
  });

  it("mounts every Secret 0440, readable through fsGroup and never world-readable", () => {
    const secrets = (pod.spec?.volumes ?? []).filter((v) => v.secret);
    expect(secrets.length).toBe(2);
    for (const v of secrets) expect(v.secret?.defaultMode, v.name).toBe(0o440);
    const tls = pod.spec?.volumes?.find(
      (v) =>
        v.name === container?.volumeMounts?.find((m) => m.mountPath === LAUNCHER_TLS_DIR)?.name,
    );
    expect(tls?.secret).toBeDefined();
  });

  it("never asks for host namespaces, host paths or privileged ports", () => {
    expect(pod.spec?.hostNetwork).toBeUndefined();
    expect(pod.spec?.hostPID).toBeUndefined();
    expect(pod.spec?.hostIPC).toBeUndefined();
    expect((pod.spec?.volumes ?? []).some((v) => v.hostPath)).toBe(false);
    for (const p of container?.ports ?? []) expect(p.hostPort).toBeUndefined();
  });
});

describe("disks dir sizeLimit", () => {
  it("holds every emptyDisk, an overlay per container disk, and the base", () => {
    const disks = source.spec?.volumes?.find((v) => v.name === "disks");
    expect(disks?.emptyDir?.sizeLimit).toBe(
      `${DISKS_DIR_BASE_MIB + 2048 + CONTAINER_DISK_OVERLAY_MIB}Mi`,
    );
  });

  it("is just the base for a direct-kernel VM without disks", () => {
    const pod = buildLauncherPod(vm(), 1, config);
    const disks = pod.spec?.volumes?.find((v) => v.name === "disks");
    expect(disks?.emptyDir?.sizeLimit).toBe(`${DISKS_DIR_BASE_MIB}Mi`);
  });
});
