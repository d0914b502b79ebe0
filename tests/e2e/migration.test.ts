import { chmodSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createNamespace,
  getVm,
  hostPathScratch,
  kc,
  kubectl,
  vmManifest,
  waitFor,
  waitForVmPhase,
} from "./lib.js";
import {
  applyJson,
  deletePodNow,
  expectCounterContinues,
  getMigration,
  MIGRATIONS,
  migrationManifest,
  qemusOfGuest,
  runningWithConsole,
  waitForMigration,
} from "./migration-lib.js";

const NS = "e2e-migration";
const scratch = hostPathScratch("kv-e2e-pv-");

beforeAll(async () => {
  await createNamespace(NS);
});

afterAll(async () => {
  await kubectl(["delete", "namespace", NS, "--wait=false"]);
  await kubectl(["delete", "pv", "e2e-migration-rwo", "--wait=false"]);
  rmSync(scratch, { recursive: true, force: true });
});

describe("live migration on the local cluster", () => {
  it("moves a running VM to the other node: counter continues, downtime and total time recorded", async () => {
    await applyJson(vmManifest(NS, "mover"));
    const { vm, console: serial } = await runningWithConsole(NS, "mover");
    const from = vm.status?.nodeName;
    try {
      await applyJson(migrationManifest(NS, "move-1", "mover"));
      const m = await waitForMigration(NS, "move-1", ["Succeeded", "Failed"]);
      expect(m.status, JSON.stringify(m.status)).toMatchObject({
        phase: "Succeeded",
        sourceNode: from,
      });
      expect(m.status?.targetNode).not.toBe(from);
      expect(m.status?.downtimeMs).toBeGreaterThanOrEqual(0);
      expect(m.status?.totalTimeMs).toBeGreaterThan(0);
      const moved = await waitForVmPhase(NS, "mover", "Running");
      expect(moved.status?.nodeName).toBe(m.status?.targetNode);
      expect(moved.status?.launcherPod).toBe(m.status?.targetPod);
      const seen = await expectCounterContinues(NS, "mover", serial);
      expect(seen.rebooted).toBe(false);
      expect(seen.first).toBeGreaterThan(seen.last);
      console.log(
        `[e2e] migration: downtime ${m.status?.downtimeMs} ms, total ${m.status?.totalTimeMs} ms`,
      );
      // The source pod ended Migrated and is cleaned up; exactly one launcher pod remains.
      await waitFor("one launcher pod", async () => {
        const pods = JSON.parse(
          await kc("get", "pods", "-n", NS, "-l", "kubevisor.io/vm=mover", "-o", "json"),
        ) as { items: unknown[] };
        return pods.items.length === 1 ? true : undefined;
      });
      // A second migration of the same VM while one is under way fails fast.
      await applyJson(migrationManifest(NS, "move-2", "mover", { bandwidth: "1Mi" }));
      await waitForMigration(NS, "move-2", ["Running"]);
      await applyJson(migrationManifest(NS, "move-3", "mover"));
      const dup = await waitForMigration(NS, "move-3", ["Failed"], 60_000);
      expect(dup.status?.reason).toBe("MigrationInProgress");
      // ... and deleting the running one cancels it: the VM stays where it is.
      await kc("delete", MIGRATIONS, "move-2", "-n", NS, "--wait=true", "--timeout=120s");
      const after = await getVm(NS, "mover");
      expect(after.status).toMatchObject({ phase: "Running", nodeName: m.status?.targetNode });
    } finally {
      serial.close();
    }
  });

  it("a target killed right after the switch-over: the VM runs again per runStrategy, once", async () => {
    await applyJson(vmManifest(NS, "phoenix"));
    const vm = await waitForVmPhase(NS, "phoenix", "Running", 240_000);
    await applyJson(migrationManifest(NS, "rise-1", "phoenix"));
    const m = await waitForMigration(NS, "rise-1", ["Succeeded", "Failed"]);
    expect(m.status?.phase).toBe("Succeeded");
    await deletePodNow(NS, m.status?.targetPod ?? "");
    // runStrategy Always: a new launch, not a stranded VM.
    const again = await waitFor("the VM running in a new launch", async () => {
      const v = await getVm(NS, "phoenix");
      const pod = v.status?.launcherPod;
      return v.status?.phase === "Running" && pod && pod !== m.status?.targetPod ? v : undefined;
    });
    expect(again.status?.launcherPod).not.toBe(vm.status?.launcherPod);
    const qemus = await waitFor("one QEMU for the guest", async () => {
      const q = qemusOfGuest(NS, "phoenix");
      return q.length === 1 ? q : undefined;
    });
    expect(qemus[0]?.pod).toBe(again.status?.launcherPod);
  });

  it("fails when the target is killed mid-way; the VM keeps running on the source", async () => {
    await applyJson(vmManifest(NS, "stayer"));
    const { vm, console: serial } = await runningWithConsole(NS, "stayer");
    try {
      await applyJson(migrationManifest(NS, "stay-1", "stayer", { bandwidth: "1Mi" }));
      const running = await waitForMigration(NS, "stay-1", ["Running"]);
      await waitFor("bytes to flow", async () => {
        const m = await getMigration(NS, "stay-1");
        return (m.status?.progress?.dataProcessedBytes ?? 0) > 0 ? m : undefined;
      });
      await deletePodNow(NS, running.status?.targetPod ?? "");
      const failed = await waitForMigration(NS, "stay-1", ["Failed", "Succeeded"]);
      expect(failed.status?.phase).toBe("Failed");
      expect(failed.status?.reason).toMatch(/TargetFailed|MigrationFailed/);
      const still = await getVm(NS, "stayer");
      expect(still.status).toMatchObject({
        phase: "Running",
        nodeName: vm.status?.nodeName,
        launcherPod: vm.status?.launcherPod,
      });
      const count = serial.output.length;
      await serial.waitFor(new RegExp(`[\\s\\S]{${count}}[\\s\\S]*kubevisor-counter`));
    } finally {
      serial.close();
    }
  });

  it("refuses a VM whose disk cannot move, with a clear condition, and keeps it running", async () => {
    writeFileSync(join(scratch, "disk.img"), "");
    truncateSync(join(scratch, "disk.img"), 16 << 20);
    chmodSync(join(scratch, "disk.img"), 0o666);
    await applyJson(
      JSON.stringify({
        apiVersion: "v1",
        kind: "PersistentVolume",
        metadata: { name: "e2e-migration-rwo" },
        spec: {
          capacity: { storage: "16Mi" },
          accessModes: ["ReadWriteOnce"],
          storageClassName: "e2e-manual",
          hostPath: { path: scratch },
        },
      }),
    );
    await applyJson(
      JSON.stringify({
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: { name: "rwo", namespace: NS },
        spec: {
          accessModes: ["ReadWriteOnce"],
          storageClassName: "e2e-manual",
          resources: { requests: { storage: "16Mi" } },
        },
      }),
    );
    await applyJson(
      vmManifest(NS, "pinned", {
        disks: [{ name: "data", persistentVolumeClaim: { claimName: "rwo" } }],
      }),
    );
    const vm = await waitForVmPhase(NS, "pinned", "Running", 240_000);
    await applyJson(migrationManifest(NS, "pin-1", "pinned"));
    const m = await waitForMigration(NS, "pin-1", ["Failed", "Succeeded"], 60_000);
    expect(m.status).toMatchObject({ phase: "Failed", reason: "NotMigratable" });
    expect(m.status?.message).toMatch(/claim rwo is ReadWriteOnce/);
    const after = await getVm(NS, "pinned");
    expect(after.status?.conditions?.find((c) => c.type === "Migratable")).toMatchObject({
      status: "False",
      reason: "DisksNotShared",
    });
    expect(after.status).toMatchObject({ phase: "Running", launcherPod: vm.status?.launcherPod });
  });
});
