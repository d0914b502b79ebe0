/**
 * What the operator does for real guests, against a real apiserver (stand-in kubelet and
 * launcher): cloud-init Secrets and claims looked up by name before a launch and mounted as
 * the launcher contract says, a missing one named on the VM, and the guest agent's report
 * copied into the VM status.
 */
import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import {
  LAUNCHER_CLOUDINIT_DIR,
  LAUNCHER_PVC_DEVICES_DIR,
  LAUNCHER_PVCS_DIR,
} from "../../../src/api/index.js";
import { paths } from "../../../src/kube/client.js";
import {
  createVm,
  ensureNamespace,
  launcherPods,
  operatorSuite,
  until,
  untilVm,
  type Vm,
} from "./harness.js";

const { env } = operatorSuite("guests", 200, { guestOutbound: "deny" });
const CONTENT = "#cloud-config\npassword: never-in-any-object\n";

const failure = (vm: Vm) => vm.status?.conditions?.find((c) => c.type === "Failure");
const ROOT = {
  name: "root",
  containerDisk: { image: "kubevisor/debian-cloud:12", path: "/disk/disk.qcow2" },
};

async function createSecret(ns: string, name: string) {
  await env.c.create(paths.secrets(ns), {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name, namespace: ns },
    stringData: { userdata: CONTENT },
  });
}

async function createClaim(name: string, volumeMode: "Block" | "Filesystem") {
  await env.c.create(`/api/v1/namespaces/${env.ns}/persistentvolumeclaims`, {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name, namespace: env.ns },
    spec: {
      accessModes: ["ReadWriteOnce"],
      volumeMode,
      storageClassName: "none",
      resources: { requests: { storage: "1Gi" } },
    },
  });
}

describe("cloud-init user-data from a Secret", () => {
  it("names a missing Secret on the VM, creates no pod, and launches once it exists", async () => {
    await createVm(env.c, env.ns, "ci", {
      firmware: { type: "UEFI" },
      disks: [ROOT, { name: "seed", cloudInitNoCloud: { userDataSecretRef: { name: "ci-user" } } }],
    });
    const waiting = await untilVm(
      env.c,
      env.ns,
      "ci",
      "SecretNotFound",
      (v) => failure(v)?.reason === "SecretNotFound",
    );
    expect(failure(waiting)?.message).toContain(
      'Secret "ci-user" (disk seed, cloudInitNoCloud.userDataSecretRef)',
    );
    expect(waiting.status?.phase).toBe("Pending");
    expect(await launcherPods(env.c, env.ns, "ci")).toEqual([]);

    await createSecret(env.ns, "ci-user");
    const vm = await untilVm(
      env.c,
      env.ns,
      "ci",
      "Running",
      (v) => v.status?.phase === "Running",
      30_000,
    );
    expect(failure(vm)?.status).toBe("False");
    const [pod] = await launcherPods(env.c, env.ns, "ci");
    const volume = pod?.spec?.volumes?.find((v) => v.secret?.secretName === "ci-user");
    expect(volume).toBeDefined();
    expect(pod?.spec?.containers[0]?.volumeMounts).toContainEqual({
      name: volume?.name,
      mountPath: `${LAUNCHER_CLOUDINIT_DIR}/seed/userdata`,
      readOnly: true,
    });
    expect(pod?.spec?.containers[0]?.env).toContainEqual({
      name: "KUBEVISOR_GUEST_OUTBOUND",
      value: "deny",
    });
    // The content lives in the Secret only.
    expect(
      JSON.stringify(
        await env.c.get(
          `${paths.custom("kubevisor.io", "v1alpha1", "virtualmachines", env.ns, "ci")}`,
        ),
      ),
    ).not.toContain("never-in-any-object");
    expect(JSON.stringify(pod)).not.toContain("never-in-any-object");
  }, 60_000);

  it("looks only in the VM's own namespace: a same-named Secret elsewhere does not count", async () => {
    const other = `${env.ns}-other`;
    await ensureNamespace(env.c, other);
    await createSecret(other, "elsewhere");
    await createVm(env.c, env.ns, "cross", {
      disks: [
        ROOT,
        { name: "seed", cloudInitNoCloud: { userDataSecretRef: { name: "elsewhere" } } },
      ],
    });
    const vm = await untilVm(
      env.c,
      env.ns,
      "cross",
      "SecretNotFound",
      (v) => failure(v)?.reason === "SecretNotFound",
    );
    expect(failure(vm)?.message).toContain(`namespace "${env.ns}"`);
    expect(await launcherPods(env.c, env.ns, "cross")).toEqual([]);
    await env.c.delete(`/api/v1/namespaces/${other}`).catch(() => {});
  }, 60_000);
});

describe("persistentVolumeClaim disks", () => {
  it("names a missing claim, then gives a Block claim as a device and a filesystem claim as a mount", async () => {
    await createVm(env.c, env.ns, "claims", {
      firmware: { type: "BIOS" },
      disks: [
        { name: "root", persistentVolumeClaim: { claimName: "root-block" } },
        { name: "data", persistentVolumeClaim: { claimName: "data-fs" } },
      ],
    });
    const waiting = await untilVm(
      env.c,
      env.ns,
      "claims",
      "PersistentVolumeClaimNotFound",
      (v) => failure(v)?.reason === "PersistentVolumeClaimNotFound",
    );
    expect(failure(waiting)?.message).toMatch(
      /PersistentVolumeClaim "root-block".*PersistentVolumeClaim "data-fs"|PersistentVolumeClaim "data-fs".*PersistentVolumeClaim "root-block"/,
    );
    await createClaim("root-block", "Block");
    await createClaim("data-fs", "Filesystem");
    const pod = await until(
      "the launcher pod",
      async () => (await launcherPods(env.c, env.ns, "claims"))[0],
      30_000,
    );
    const c = (pod as V1Pod).spec?.containers[0];
    expect(c?.volumeDevices?.map((d) => d.devicePath)).toEqual([
      `${LAUNCHER_PVC_DEVICES_DIR}/root`,
    ]);
    expect(c?.volumeMounts?.map((m) => m.mountPath)).toContain(`${LAUNCHER_PVCS_DIR}/data`);
    expect(c?.volumeMounts?.map((m) => m.mountPath)).not.toContain(`${LAUNCHER_PVCS_DIR}/root`);
  }, 60_000);
});

describe("the guest agent's report", () => {
  it("appears in the VM status with AgentConnected, and the address stays the pod's", async () => {
    env.launcher.status = {
      phase: "Running",
      acceleration: "TCG",
      guest: {
        agentConnected: true,
        osInfo: { id: "debian", name: "Debian GNU/Linux", version: "12", kernelRelease: "6.1.0" },
        interfaces: [{ name: "eth0", mac: "52:54:00:00:00:01", ipAddresses: ["10.0.2.15"] }],
      },
    };
    await createVm(env.c, env.ns, "agent", { disks: [ROOT] });
    const vm = await untilVm(
      env.c,
      env.ns,
      "agent",
      "AgentConnected",
      (v) =>
        v.status?.conditions?.some((c) => c.type === "AgentConnected" && c.status === "True") ??
        false,
      30_000,
    );
    expect(vm.status?.guestOSInfo).toMatchObject({ id: "debian", version: "12" });
    expect(vm.status?.interfaces?.[0]?.ipAddresses).toEqual(["10.0.2.15"]);
    const [pod] = await launcherPods(env.c, env.ns, "agent");
    expect(vm.status?.ipAddress).toBe(pod?.status?.podIP);

    env.launcher.status = {
      phase: "Running",
      acceleration: "TCG",
      guest: { agentConnected: false },
    };
    const gone = await untilVm(
      env.c,
      env.ns,
      "agent",
      "AgentNotConnected",
      (v) =>
        v.status?.conditions?.some(
          (c) => c.type === "AgentConnected" && c.reason === "AgentNotConnected",
        ) ?? false,
      30_000,
    );
    expect(gone.status?.guestOSInfo).toBeUndefined();
  }, 60_000);
});
