import { describe, expect, it } from "vitest";
import {
  ANNOTATION_VM_SPEC,
  imageDirName,
  KVM_RESOURCE,
  LABEL_COMPONENT,
  LABEL_MANAGED_BY,
  LABEL_VM,
  LAUNCHER_IMAGES_DIR,
  LAUNCHER_PROBE_PORT,
  LAUNCHER_PVCS_DIR,
  LAUNCHER_SPEC_DIR,
  LAUNCHER_TLS_DIR,
  VirtualMachine,
  type VirtualMachineSpecInput,
} from "../../../src/api/index.js";
import {
  ANNOTATION_LAUNCH,
  buildLauncherPod,
  OVERHEAD_TCG_MIB,
  podMemoryMiB,
} from "../../../src/operator/vm/launcher-pod.js";
import { launcherPodName, vmLabelValue } from "../../../src/operator/vm/naming.js";
import { buildDisruptionBudget, wantsDisruptionBudget } from "../../../src/operator/vm/pdb.js";
import {
  buildLauncherTlsSecret,
  launcherCertificateRequest,
} from "../../../src/operator/vm/tls-secret.js";
import { TCG_TB_SIZE_MIB } from "../../../src/vmm/cmdline.js";

function vm(spec: Partial<VirtualMachineSpecInput> = {}, name = "web"): VirtualMachine {
  return VirtualMachine.parse({
    apiVersion: "kubevisor.io/v1alpha1",
    kind: "VirtualMachine",
    metadata: { name, namespace: "ns", uid: "uid-1", generation: 3 },
    spec: {
      memory: { size: "1Gi" },
      boot: { kernel: { image: "kubevisor/test-guest:latest" } },
      ...spec,
    },
  });
}

const config = { image: "kubevisor:dev" };

describe("names", () => {
  it("uses <vm>-launcher-<n> when it fits", () => {
    expect(launcherPodName("web", 7)).toBe("web-launcher-7");
  });

  it("cuts long names to a DNS label and keeps them unique with a hash", () => {
    const a = launcherPodName(`${"a".repeat(100)}x`, 12);
    const b = launcherPodName(`${"a".repeat(100)}y`, 12);
    expect(a.length).toBeLessThanOrEqual(63);
    expect(a).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
    expect(a.endsWith("-launcher-12")).toBe(true);
    expect(a).not.toBe(b);
  });

  it("makes dotted VM names valid label values", () => {
    expect(vmLabelValue("web")).toBe("web");
    expect(vmLabelValue("web.prod")).toMatch(/^web-prod-[0-9a-f]{8}$/);
    expect(vmLabelValue("web.prod")).not.toBe(vmLabelValue("web-prod"));
  });
});

describe("launcher pod", () => {
  it("is built as the launcher contract says", () => {
    const v = vm({ cpu: { cores: 2 }, terminationGracePeriodSeconds: 60 });
    const pod = buildLauncherPod(v, 4, config);
    expect(pod.metadata).toMatchObject({
      name: "web-launcher-4",
      namespace: "ns",
      labels: { [LABEL_VM]: "web", [LABEL_COMPONENT]: "launcher", [LABEL_MANAGED_BY]: "kubevisor" },
      annotations: { [ANNOTATION_LAUNCH]: "4" },
      ownerReferences: [
        {
          apiVersion: "kubevisor.io/v1alpha1",
          kind: "VirtualMachine",
          name: "web",
          uid: "uid-1",
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    });
    const spec = JSON.parse(pod.metadata?.annotations?.[ANNOTATION_VM_SPEC] ?? "");
    expect(spec).toEqual({
      apiVersion: "kubevisor.io/v1alpha1",
      kind: "VirtualMachine",
      metadata: { name: "web", namespace: "ns", uid: "uid-1" },
      spec: v.spec,
    });
    expect(pod.spec).toMatchObject({
      restartPolicy: "Never",
      automountServiceAccountToken: false,
      terminationGracePeriodSeconds: 75,
    });
    const c = pod.spec?.containers[0];
    expect(c).toMatchObject({
      name: "launcher",
      image: "kubevisor:dev",
      command: ["node", "dist/launcher/main.js"],
      workingDir: "/app",
      terminationMessagePolicy: "FallbackToLogsOnError",
      readinessProbe: { httpGet: { path: "/readyz", port: LAUNCHER_PROBE_PORT, scheme: "HTTP" } },
      livenessProbe: { httpGet: { path: "/healthz", port: LAUNCHER_PROBE_PORT, scheme: "HTTP" } },
    });
    expect(c?.env?.map((e) => [e.name, e.valueFrom?.fieldRef?.fieldPath ?? e.value])).toEqual([
      ["POD_IP", "status.podIP"],
      ["POD_NAME", "metadata.name"],
      ["POD_NAMESPACE", "metadata.namespace"],
      ["KUBEVISOR_GUEST_OUTBOUND", "allow"],
      // The start gate: no guest before the operator's POST /start to the recorded UID.
      ["KUBEVISOR_AWAIT_START", "true"],
    ]);
    expect(c?.volumeMounts).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ mountPath: LAUNCHER_SPEC_DIR, readOnly: true }),
        expect.objectContaining({ mountPath: LAUNCHER_TLS_DIR, readOnly: true }),
      ]),
    );
    const specVolume = pod.spec?.volumes?.find((v) => v.name === "vm-spec");
    expect(specVolume?.downwardAPI?.items?.[0]?.fieldRef?.fieldPath).toBe(
      `metadata.annotations['${ANNOTATION_VM_SPEC}']`,
    );
    expect(pod.spec?.volumes?.find((v) => v.name === "tls")?.secret?.secretName).toBe(
      "web-launcher-tls",
    );
  });

  it("requests guest memory plus overhead, limit = request, and 100m CPU per vCPU", () => {
    const pod = buildLauncherPod(vm({ cpu: { cores: 3 } }), 1, config);
    // 1024 Mi guest + 160 Mi fixed + 160 Mi as it may run under TCG + 2 % (21 Mi rounded up).
    expect(podMemoryMiB(vm())).toBe(1024 + 160 + 160 + 21);
    expect(pod.spec?.containers[0]?.resources).toEqual({
      requests: { memory: "1365Mi", cpu: "300m" },
      limits: { memory: "1365Mi" },
    });
  });

  it("counts TCG's translation cache unless the VM insists on KVM", () => {
    expect(podMemoryMiB(vm({ acceleration: "Emulation" }))).toBe(1024 + 160 + 160 + 21);
    expect(podMemoryMiB(vm({ acceleration: "KVM" }))).toBe(1024 + 160 + 21);
    expect(OVERHEAD_TCG_MIB).toBeGreaterThan(TCG_TB_SIZE_MIB);
  });

  it("asks for /dev/kvm only when the VM insists on KVM", () => {
    const kvm = buildLauncherPod(vm({ acceleration: "KVM" }), 1, config).spec?.containers[0]
      ?.resources;
    expect(kvm?.requests?.[KVM_RESOURCE]).toBe("1");
    expect(kvm?.limits?.[KVM_RESOURCE]).toBe("1");
    const auto = buildLauncherPod(vm({ acceleration: "Auto" }), 1, config).spec?.containers[0]
      ?.resources;
    expect(auto?.requests?.[KVM_RESOURCE]).toBeUndefined();
  });

  it("names the operator's pull Secrets (none by default), so image volumes pull with them", () => {
    const pod = buildLauncherPod(vm(), 1, { ...config, imagePullSecrets: ["regcred", "mirror"] });
    expect(pod.spec?.imagePullSecrets).toEqual([{ name: "regcred" }, { name: "mirror" }]);
    expect(buildLauncherPod(vm(), 1, config).spec).not.toHaveProperty("imagePullSecrets");
  });

  it("passes placement through unchanged", () => {
    const placement = {
      nodeSelector: { disk: "ssd" },
      tolerations: [{ key: "vm", operator: "Exists" as const, effect: "NoSchedule" as const }],
      affinity: {
        nodeAffinity: { requiredDuringSchedulingIgnoredDuringExecution: { nodeSelectorTerms: [] } },
      },
    };
    const pod = buildLauncherPod(vm(placement), 1, config);
    expect(pod.spec?.nodeSelector).toEqual(placement.nodeSelector);
    expect(pod.spec?.tolerations).toEqual(placement.tolerations);
    expect(pod.spec?.affinity).toEqual(placement.affinity);
    expect(buildLauncherPod(vm(), 1, config).spec).not.toHaveProperty("nodeSelector");
  });

  it("mounts each image once, read-only, and each claim at the launcher's path", () => {
    const pod = buildLauncherPod(
      vm({
        boot: { kernel: { image: "registry/guest:1" } },
        disks: [
          { name: "root", containerDisk: { image: "registry/guest:1" } },
          { name: "data", persistentVolumeClaim: { claimName: "data-pvc" } },
          { name: "scratch", emptyDisk: { size: "1Gi" } },
        ],
      }),
      1,
      config,
    );
    const images = pod.spec?.volumes?.filter((v) => v.image) ?? [];
    expect(images.map((v) => v.image?.reference)).toEqual(["registry/guest:1"]);
    const mounts = pod.spec?.containers[0]?.volumeMounts ?? [];
    expect(mounts).toContainEqual({
      name: images[0]?.name,
      mountPath: `${LAUNCHER_IMAGES_DIR}/${imageDirName("registry/guest:1")}`,
      readOnly: true,
    });
    const claim = pod.spec?.volumes?.find((v) => v.persistentVolumeClaim);
    expect(claim?.persistentVolumeClaim?.claimName).toBe("data-pvc");
    expect(mounts).toContainEqual({ name: claim?.name, mountPath: `${LAUNCHER_PVCS_DIR}/data` });
  });

  it("exposes guest ports by name but never over the launcher's own", () => {
    const pod = buildLauncherPod(
      vm({
        network: {
          ports: [
            { name: "http", port: 80 },
            { name: "kv-api", port: 81 },
            { name: "x", port: 8444 },
          ],
        },
      }),
      1,
      config,
    );
    expect(pod.spec?.containers[0]?.ports?.map((p) => p.name)).toEqual([
      "kv-api",
      "kv-probe",
      "http",
    ]);
  });
});

describe("disruption budget", () => {
  it("protects the launcher pods of LiveMigrate VMs", () => {
    expect(wantsDisruptionBudget(vm({ evictionStrategy: "LiveMigrate" }))).toBe(true);
    expect(wantsDisruptionBudget(vm({ evictionStrategy: "LiveMigrateIfPossible" }))).toBe(true);
    expect(wantsDisruptionBudget(vm({ evictionStrategy: "None" }))).toBe(false);
    const pdb = buildDisruptionBudget(vm());
    expect(pdb.spec).toEqual({
      minAvailable: 1,
      selector: { matchLabels: { [LABEL_VM]: "web", [LABEL_COMPONENT]: "launcher" } },
    });
    expect(pdb.metadata?.ownerReferences?.[0]?.uid).toBe("uid-1");
  });
});

describe("launcher TLS secret", () => {
  it("carries the serving pair and the operator CA under the names the launcher reads", () => {
    expect(launcherCertificateRequest(vm())).toEqual({
      commonName: "web.ns.launcher.kubevisor.io",
      dnsNames: ["web.ns.launcher.kubevisor.io"],
      usage: "server",
    });
    const secret = buildLauncherTlsSecret(vm(), { certPem: "C", keyPem: "K" }, "CA");
    expect(secret.metadata?.name).toBe("web-launcher-tls");
    expect(secret.stringData).toEqual({ "tls.crt": "C", "tls.key": "K", "ca.crt": "CA" });
  });
});
