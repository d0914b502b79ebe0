/**
 * Real guests on the local cluster: the project's Debian 12 cloud image booted through BIOS
 * and UEFI, configured by cloud-init (one VM's user-data from a Secret), reached over SSH at
 * the address in its status, reported by its guest agent, live-migrated and stopped through
 * the agent. Guests are slow under TCG (about a minute to SSH), so both VMs boot at once,
 * each serves several checks, and every wait is a generous deadline, never a timed assertion.
 */
import { randomBytes } from "node:crypto";
import { chmodSync, rmSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { join } from "node:path";
import { $ } from "dax-sh";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { LAUNCHER_PROBE_PORT } from "../../src/api/index.js";
import { TRANSIT_HOST_IP } from "../../src/local/containerd/plan.js";
import { cloudConfig, debianVm, type KeyPair, makeKeyPair, sshUntil } from "./guests-lib.js";
import {
  createNamespace,
  followPodLog,
  getJson,
  getVm,
  hostPathScratch,
  kc,
  kubectl,
  vmManifest,
  waitFor,
  waitForVmPhase,
} from "./lib.js";
import { applyJson, migrationManifest, waitForMigration } from "./migration-lib.js";

const NS = "e2e-guests";
const BOOT_MS = 600_000;
const MARKER_FILE = "/var/tmp/kubevisor-userdata-marker";
/** Written by user-data that only the Secret holds: its presence proves the Secret was used. */
const token = `kv-${randomBytes(12).toString("hex")}`;
const scratch = hostPathScratch("kv-e2e-guests-");
let key: KeyPair;

interface GuestVm {
  status?: {
    phase?: string;
    ipAddress?: string;
    nodeName?: string;
    launcherPod?: string;
    guestOSInfo?: { id?: string; name?: string; version?: string; kernelRelease?: string };
    interfaces?: { name: string; mac?: string; ipAddresses?: string[] }[];
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
  };
}

const guestVm = (name: string) => getJson<GuestVm>("vm", name, "-n", NS);
const address = async (name: string) => (await guestVm(name)).status?.ipAddress;
const condition = (vm: GuestVm, type: string) =>
  vm.status?.conditions?.find((c) => c.type === type);

beforeAll(async () => {
  key = await makeKeyPair();
  await createNamespace(NS);
  // UEFI: user-data from a Secret (key `userdata`), with a marker only the Secret carries.
  await applyJson(
    JSON.stringify({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "uefi-user-data", namespace: NS },
      stringData: {
        userdata: cloudConfig(
          key.publicKey,
          ["write_files:", `  - path: ${MARKER_FILE}`, `    content: ${token}`].join("\n"),
        ),
      },
    }),
  );
  // Both boot at once: each takes about a minute to SSH under TCG.
  await applyJson(
    JSON.stringify(
      debianVm(NS, "deb-uefi", "UEFI", { userDataSecretRef: { name: "uefi-user-data" } }),
    ),
  );
  await applyJson(
    JSON.stringify(debianVm(NS, "deb-bios", "BIOS", { userData: cloudConfig(key.publicKey) })),
  );
}, 120_000);

afterAll(async () => {
  await kubectl(["delete", "namespace", NS, "--wait=false"]);
  await kubectl(["delete", "pv", "e2e-guests-backing", "--wait=false"]);
  key?.dispose();
  rmSync(scratch, { recursive: true, force: true });
});

describe.each(["deb-bios", "deb-uefi"])("Debian 12 guest %s", (name) => {
  it(
    "reaches Running and answers SSH at the address in its status with the key cloud-init was given",
    async () => {
      const vm = await waitForVmPhase(NS, name, "Running", BOOT_MS);
      expect(vm.status?.ipAddress).toBeTruthy();
      const osRelease = await sshUntil(key, () => address(name), "cat /etc/os-release", BOOT_MS);
      expect(osRelease).toMatch(/^ID=debian$/m);
      expect(osRelease).toMatch(/^VERSION_ID="12"$/m);
    },
    BOOT_MS * 2,
  );

  it(
    "shows the guest agent's OS info and interfaces in its status",
    async () => {
      const vm = await waitFor(
        `the guest agent of ${name} in status`,
        async () => {
          const v = await guestVm(name);
          return condition(v, "AgentConnected")?.status === "True" && v.status?.guestOSInfo
            ? v
            : undefined;
        },
        BOOT_MS,
        2000,
      );
      expect(vm.status?.guestOSInfo).toMatchObject({ id: "debian", version: "12" });
      expect(vm.status?.guestOSInfo?.kernelRelease).toMatch(/\S/);
      const nics = vm.status?.interfaces ?? [];
      const withIp = nics.find((n) => n.name !== "lo" && (n.ipAddresses ?? []).length > 0);
      expect(withIp, JSON.stringify(nics)).toBeDefined();
      expect(withIp?.mac).toMatch(/^([0-9a-f]{2}:){5}[0-9a-f]{2}$/i);
      // The address users connect to stays the pod's, where the VM's ports answer.
      const pod = await getJson<{ status: { podIP: string } }>(
        "pod",
        vm.status?.launcherPod ?? "",
        "-n",
        NS,
      );
      expect(vm.status?.ipAddress).toBe(pod.status.podIP);
    },
    BOOT_MS,
  );
});

describe("cloud-init user-data from a Secret", () => {
  it(
    "is applied in the guest and appears in neither the VM, its pod nor their annotations",
    async () => {
      await waitForVmPhase(NS, "deb-uefi", "Running", BOOT_MS);
      const marker = await sshUntil(key, () => address("deb-uefi"), `cat ${MARKER_FILE}`, BOOT_MS);
      expect(marker.trim()).toBe(token);
      const vm = await getVm(NS, "deb-uefi");
      const pod = await kc("get", "pod", vm.status?.launcherPod ?? "", "-n", NS, "-o", "json");
      expect(JSON.stringify(vm)).not.toContain(token);
      expect(pod).not.toContain(token);
      expect(pod).toContain("uefi-user-data");
    },
    BOOT_MS,
  );
});

describe("guest egress on this machine (guest.outbound: deny)", () => {
  it(
    "a guest cannot open a connection out of its pod, even to listeners on this host",
    async () => {
      // The attacker is the guest. On the stand-in it tries the host's loopback through the
      // user-mode gateway (10.0.2.2, which QEMU maps to 127.0.0.1) and the pod's own address,
      // both on this host. On real nodes the pod has a network of its own: it tries the host
      // (the nodes' side of the transit link, where the apiserver listens) and, through
      // 10.0.2.2, the pod's loopback, where its launcher's probe port answers. Only this
      // machine is ever the target; with outbound allowed each would connect.
      const pod = (await address("deb-bios")) ?? "";
      let reached = 0;
      const listen = async (host: string, target: string) => {
        const server = createServer((sock) => {
          reached++;
          sock.destroy();
        });
        await new Promise<void>((resolve, reject) => {
          server.once("error", reject);
          server.listen(0, host, resolve);
        });
        return { server, target: `${target}/${(server.address() as AddressInfo).port}` };
      };
      const realNodes = inject("runtime") === "containerd";
      const listeners = realNodes
        ? [await listen(TRANSIT_HOST_IP, TRANSIT_HOST_IP)]
        : [await listen("127.0.0.1", "10.0.2.2"), await listen(pod, pod)];
      const targets = listeners.map((l) => l.target);
      if (realNodes) targets.push(`10.0.2.2/${LAUNCHER_PROBE_PORT}`);
      try {
        const tries = targets.map(
          (t) => `timeout 5 bash -c 'echo x > /dev/tcp/${t}' && echo CONNECTED-${t}`,
        );
        const out = await sshUntil(
          key,
          () => address("deb-bios"),
          `${tries.join("; ")}; true`,
          BOOT_MS,
        );
        expect(out).not.toContain("CONNECTED");
        expect(reached).toBe(0);
      } finally {
        for (const l of listeners) l.server.close();
      }
    },
    BOOT_MS,
  );
});

describe("live migration of a real guest", () => {
  it(
    "moves deb-bios: SSH answers on the new address, same boot, uptime continues",
    async () => {
      const name = "deb-bios";
      await waitForVmPhase(NS, name, "Running", BOOT_MS);
      const read = "cat /proc/sys/kernel/random/boot_id /proc/uptime";
      const before = (await sshUntil(key, () => address(name), read, BOOT_MS)).split("\n");
      const from = await getVm(NS, name);
      await applyJson(migrationManifest(NS, "deb-bios-move", name));
      const m = await waitForMigration(NS, "deb-bios-move", ["Succeeded", "Failed"], BOOT_MS);
      expect(m.status, JSON.stringify(m.status)).toMatchObject({ phase: "Succeeded" });
      const moved = await waitFor(
        "the VM on its new pod",
        async () => {
          const v = await getVm(NS, name);
          return v.status?.phase === "Running" && v.status.launcherPod !== from.status?.launcherPod
            ? v
            : undefined;
        },
        BOOT_MS,
      );
      expect(moved.status?.nodeName).not.toBe(from.status?.nodeName);
      expect(moved.status?.ipAddress).not.toBe(from.status?.ipAddress);
      const after = (await sshUntil(key, () => moved.status?.ipAddress, read, 180_000)).split("\n");
      expect(after[0]).toBe(before[0]);
      expect(Number(after[1]?.split(" ")[0])).toBeGreaterThan(Number(before[1]?.split(" ")[0]));
    },
    BOOT_MS * 2,
  );
});

describe("graceful stop", () => {
  it("shuts deb-uefi down through its guest agent and ends Stopped", async () => {
    const name = "deb-uefi";
    await waitFor(
      "the agent of deb-uefi",
      async () =>
        condition(await guestVm(name), "AgentConnected")?.status === "True" ? true : undefined,
      BOOT_MS,
      2000,
    );
    const pod = (await getVm(NS, name)).status?.launcherPod ?? "";
    const log = followPodLog(NS, pod);
    await kc(
      "patch",
      "vm",
      name,
      "-n",
      NS,
      "--type=merge",
      "-p",
      '{"spec":{"runStrategy":"Halted"}}',
    );
    const stopped = await waitForVmPhase(NS, name, "Stopped", 180_000);
    expect(stopped.status?.ipAddress).toBeUndefined();
    expect((stopped.status as GuestVm["status"])?.guestOSInfo).toBeUndefined();
    const text = await log.text();
    // The launcher's last word says how the guest went down: through its agent, not ACPI,
    // and not by being killed after the grace period.
    expect(text).toMatch(/the guest shut down on request through its agent/);
  }, 300_000);
});

describe("what is refused", () => {
  it("refuses a VM with no kernel and no bootable disk at apply", async () => {
    const r = await kubectl(
      ["apply", "-f", "-"],
      JSON.stringify({
        apiVersion: "kubevisor.io/v1alpha1",
        kind: "VirtualMachine",
        metadata: { name: "nothing", namespace: NS },
        spec: {
          memory: { size: "256Mi" },
          disks: [{ name: "ci", cloudInitNoCloud: { userData: "#cloud-config\n" } }],
        },
      }),
    );
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/nothing to boot/);
  });

  it("refuses a disk image with a backing file, saying so on the VM", async () => {
    // A qcow2 whose backing file is a host path: followed, it would read any host file.
    await $`qemu-img create -q -f raw ${join(scratch, "base.raw")} 16M`.quiet();
    await $`qemu-img create -q -f qcow2 -b ${join(scratch, "base.raw")} -F raw ${join(scratch, "disk.img")}`;
    chmodSync(join(scratch, "disk.img"), 0o666);
    await applyJson(
      JSON.stringify({
        apiVersion: "v1",
        kind: "PersistentVolume",
        metadata: { name: "e2e-guests-backing" },
        spec: {
          capacity: { storage: "16Mi" },
          accessModes: ["ReadWriteOnce"],
          storageClassName: "e2e-guests",
          hostPath: { path: scratch },
        },
      }),
    );
    await applyJson(
      JSON.stringify({
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: { name: "backed", namespace: NS },
        spec: {
          accessModes: ["ReadWriteOnce"],
          storageClassName: "e2e-guests",
          resources: { requests: { storage: "16Mi" } },
        },
      }),
    );
    await applyJson(
      JSON.stringify({
        apiVersion: "kubevisor.io/v1alpha1",
        kind: "VirtualMachine",
        metadata: { name: "backed", namespace: NS },
        spec: {
          runStrategy: "Once",
          memory: { size: "256Mi" },
          firmware: { type: "BIOS" },
          disks: [{ name: "root", persistentVolumeClaim: { claimName: "backed" } }],
          terminationGracePeriodSeconds: 5,
        },
      }),
    );
    const vm = await waitForVmPhase(NS, "backed", "Failed", 240_000);
    const failure = vm.status?.conditions?.find((c) => c.type === "Failure");
    expect(failure, JSON.stringify(vm.status)).toMatchObject({
      status: "True",
      reason: "ConfigError",
    });
    expect(failure?.message).toMatch(/backing/i);
  }, 300_000);

  it("names a missing user-data Secret on the VM, and starts once it exists", async () => {
    await applyJson(
      vmManifest(NS, "wants-secret", {
        disks: [{ name: "ci", cloudInitNoCloud: { userDataSecretRef: { name: "not-yet" } } }],
      }),
    );
    const waiting = await waitFor("the SecretNotFound condition", async () => {
      const f = (await getVm(NS, "wants-secret")).status?.conditions?.find(
        (c) => c.type === "Failure",
      );
      return f?.reason === "SecretNotFound" ? f : undefined;
    });
    expect(waiting.message).toContain('Secret "not-yet"');
    expect(waiting.message).toContain("userDataSecretRef");
    expect((await getVm(NS, "wants-secret")).status?.phase).toBe("Pending");
    await kc(
      "create",
      "secret",
      "generic",
      "not-yet",
      "-n",
      NS,
      "--from-literal=userdata=#cloud-config",
    );
    await waitForVmPhase(NS, "wants-secret", "Running", 240_000);
    await kc("delete", "vm", "wants-secret", "-n", NS, "--wait=false");
  }, 300_000);
});
