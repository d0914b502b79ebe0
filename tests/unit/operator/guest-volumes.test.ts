import { describe, expect, it } from "vitest";
import {
  ANNOTATION_VM_SPEC,
  LAUNCHER_CLOUDINIT_DIR,
  LAUNCHER_PVC_DEVICES_DIR,
  LAUNCHER_PVCS_DIR,
  VirtualMachine,
  type VirtualMachineSpecInput,
} from "../../../src/api/index.js";
import { buildTargetPod } from "../../../src/operator/migration/target-pod.js";
import {
  buildLauncherPod,
  cloudInitSecretRefs,
  resolvedVolumesOf,
} from "../../../src/operator/vm/launcher-pod.js";
import { missingMessage, volumeSources } from "../../../src/operator/vm/volume-sources.js";

function vm(spec: Partial<VirtualMachineSpecInput>): VirtualMachine {
  return VirtualMachine.parse({
    apiVersion: "kubevisor.io/v1alpha1",
    kind: "VirtualMachine",
    metadata: { name: "deb", namespace: "ns", uid: "uid-1" },
    spec: { memory: { size: "1Gi" }, ...spec },
  });
}

const ROOT = {
  name: "root",
  containerDisk: { image: "kubevisor/debian-cloud:12", path: "/disk/disk.qcow2" },
};
const config = { image: "kubevisor:dev" };

const withSecrets = () =>
  vm({
    firmware: { type: "UEFI" },
    disks: [
      ROOT,
      {
        name: "cloudinit",
        cloudInitNoCloud: {
          userDataSecretRef: { name: "deb-user" },
          networkDataSecretRef: { name: "deb-net" },
        },
      },
    ],
  });

describe("cloud-init from Secrets", () => {
  it("mounts each named Secret read-only where the launcher reads it", () => {
    const pod = buildLauncherPod(withSecrets(), 1, config);
    const container = pod.spec?.containers[0];
    for (const [key, secret] of [
      ["userdata", "deb-user"],
      ["networkdata", "deb-net"],
    ] as const) {
      const volume = pod.spec?.volumes?.find((v) => v.secret?.secretName === secret);
      expect(volume, secret).toBeDefined();
      expect(volume?.secret?.defaultMode).toBe(0o440);
      expect(container?.volumeMounts).toContainEqual({
        name: volume?.name,
        mountPath: `${LAUNCHER_CLOUDINIT_DIR}/cloudinit/${key}`,
        readOnly: true,
      });
    }
  });

  it("carries only the reference in the pod, never content", () => {
    // The operator never has the content: the spec names the Secret, the kubelet mounts it.
    const pod = buildLauncherPod(withSecrets(), 1, config);
    const spec = JSON.parse(pod.metadata?.annotations?.[ANNOTATION_VM_SPEC] ?? "{}");
    expect(spec.spec.disks[1].cloudInitNoCloud).toEqual({
      userDataSecretRef: { name: "deb-user" },
      networkDataSecretRef: { name: "deb-net" },
    });
    expect(JSON.stringify(pod)).not.toMatch(/stringData|"data"/);
  });

  it("names volumes validly however long the disk name is", () => {
    const long = "c".repeat(63);
    const pod = buildLauncherPod(
      vm({
        disks: [ROOT, { name: long, cloudInitNoCloud: { userDataSecretRef: { name: "s" } } }],
      }),
      1,
      config,
    );
    const names = pod.spec?.volumes?.map((v) => v.name) ?? [];
    for (const n of names) expect(n).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    for (const n of names) expect(n.length).toBeLessThanOrEqual(63);
    expect(new Set(names).size).toBe(names.length);
  });

  it("lists the references of inline cloud-init as none", () => {
    expect(
      cloudInitSecretRefs(
        vm({ disks: [ROOT, { name: "ci", cloudInitNoCloud: { userData: "#cloud-config\n" } }] }),
      ),
    ).toEqual([]);
  });
});

describe("persistentVolumeClaim disks", () => {
  const twoClaims = () =>
    vm({
      disks: [
        { name: "root", persistentVolumeClaim: { claimName: "root-pvc" } },
        { name: "data", persistentVolumeClaim: { claimName: "data-pvc" } },
      ],
    });

  it("gives a Block claim as a device and a filesystem claim as a mount", () => {
    const pod = buildLauncherPod(twoClaims(), 1, config, { blockDisks: new Set(["root"]) });
    const c = pod.spec?.containers[0];
    const root = pod.spec?.volumes?.find((v) => v.persistentVolumeClaim?.claimName === "root-pvc");
    const data = pod.spec?.volumes?.find((v) => v.persistentVolumeClaim?.claimName === "data-pvc");
    expect(c?.volumeDevices).toEqual([
      { name: root?.name, devicePath: `${LAUNCHER_PVC_DEVICES_DIR}/root` },
    ]);
    expect(c?.volumeMounts?.some((m) => m.name === root?.name)).toBe(false);
    expect(c?.volumeMounts).toContainEqual({
      name: data?.name,
      mountPath: `${LAUNCHER_PVCS_DIR}/data`,
    });
  });

  it("has no volumeDevices without Block claims", () => {
    expect(buildLauncherPod(twoClaims(), 1, config).spec?.containers[0]).not.toHaveProperty(
      "volumeDevices",
    );
  });

  it("gives a migration target the source pod's block devices", () => {
    const v = twoClaims();
    const source = buildLauncherPod(v, 2, config, { blockDisks: new Set(["root"]) });
    expect([...resolvedVolumesOf(source).blockDisks]).toEqual(["root"]);
    const target = buildTargetPod(v, { name: "m", uid: "u" }, source, "node-a", config);
    expect(target.spec?.containers[0]?.volumeDevices).toEqual(
      source.spec?.containers[0]?.volumeDevices,
    );
  });
});

describe("what a launch needs to exist", () => {
  it("names every Secret and claim with the disk and field that refer to it", () => {
    const v = vm({
      disks: [
        { name: "root", persistentVolumeClaim: { claimName: "root-pvc" } },
        { name: "ci", cloudInitNoCloud: { userDataSecretRef: { name: "u" } } },
      ],
    });
    expect(volumeSources(v)).toEqual([
      {
        kind: "PersistentVolumeClaim",
        name: "root-pvc",
        disk: "root",
        field: "persistentVolumeClaim.claimName",
      },
      { kind: "Secret", name: "u", disk: "ci", field: "cloudInitNoCloud.userDataSecretRef" },
    ]);
    expect(missingMessage([volumeSources(v)[1] ?? fail()], "ns")).toBe(
      'Secret "u" (disk ci, cloudInitNoCloud.userDataSecretRef) not found in namespace "ns"; the VM starts once it exists',
    );
  });
});

describe("guest outbound", () => {
  it("tells the launcher what the operator was configured with", () => {
    const env = (outbound?: "allow" | "deny") =>
      buildLauncherPod(withSecrets(), 1, { ...config, guestOutbound: outbound }).spec?.containers[0]
        ?.env;
    expect(env()).toContainEqual({ name: "KUBEVISOR_GUEST_OUTBOUND", value: "allow" });
    expect(env("deny")).toContainEqual({ name: "KUBEVISOR_GUEST_OUTBOUND", value: "deny" });
  });
});

function fail(): never {
  throw new Error("missing");
}
