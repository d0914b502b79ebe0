import { describe, expect, it } from "vitest";
import type { MigrationPhase } from "../../../src/api/index.js";
import { evacuationName, planEvacuation } from "../../../src/operator/migration/drain.js";
import { type SlotUse, slotRefusal } from "../../../src/operator/migration/limits.js";
import { migratability } from "../../../src/operator/migration/migratable.js";
import {
  avoidNode,
  buildTargetPod,
  targetPodName,
} from "../../../src/operator/migration/target-pod.js";
import {
  advanceMark,
  completionTimeoutMs,
  downtimeMs,
  overrun,
} from "../../../src/operator/migration/timing.js";
import { sourcePod, state, vm } from "./fixtures.js";

const limits = { parallelPerCluster: 3, parallelPerNode: 2, parallelPerNamespace: 3 };
const use = (name: string, phase: MigrationPhase, sourceNode = "a"): SlotUse => ({
  name,
  namespace: "ns",
  phase,
  sourceNode,
});

describe("parallel limits", () => {
  it("admits until the per-node, then the cluster-wide limit", () => {
    const self = { name: "me", namespace: "ns" };
    expect(slotRefusal(self, "a", [use("x", "Running")], limits)).toBeUndefined();
    expect(slotRefusal(self, "a", [use("x", "Running"), use("y", "Scheduling")], limits)).toMatch(
      /leaving node a \(limit 2\)/,
    );
    expect(
      slotRefusal(
        self,
        "b",
        [use("x", "Running"), use("y", "TargetReady"), use("z", "Running", "c")],
        limits,
      ),
    ).toMatch(/cluster-wide \(limit 3\)/);
  });

  it("keeps one namespace from taking every cluster slot", () => {
    const self = { name: "me", namespace: "ns" };
    const fair = { parallelPerCluster: 4, parallelPerNode: 4, parallelPerNamespace: 2 };
    const busy = [use("x", "Running", "b"), use("y", "Running", "c")];
    expect(slotRefusal(self, "a", busy, fair)).toMatch(/in namespace ns \(limit 2 per namespace\)/);
    // Another tenant still gets the free cluster slots.
    expect(slotRefusal({ name: "me", namespace: "other" }, "a", busy, fair)).toBeUndefined();
  });

  it("counts neither itself nor migrations that are pending or over", () => {
    const self = { name: "me", namespace: "ns" };
    const all = [
      use("me", "Running"),
      use("p", "Pending"),
      use("s", "Succeeded"),
      use("f", "Failed"),
    ];
    expect(
      slotRefusal(self, "a", all, {
        parallelPerCluster: 1,
        parallelPerNode: 1,
        parallelPerNamespace: 1,
      }),
    ).toBeUndefined();
  });
});

describe("timeouts", () => {
  it("scales the completion budget with guest memory, a GiB at least", () => {
    expect(completionTimeoutMs("256Mi", 150)).toBe(150_000);
    expect(completionTimeoutMs("4Gi", 150)).toBe(600_000);
  });

  it("finds a migration over its budget or stalled", () => {
    const start = Date.parse("2026-01-01T00:00:00Z");
    const s = state("source", "Migrating", { startedAt: new Date(start).toISOString() });
    const mark = advanceMark(undefined, 100, start);
    expect(advanceMark(mark, 100, start + 5000)).toBe(mark);
    expect(advanceMark(mark, 200, start + 5000).atMs).toBe(start + 5000);
    const budget = { completionMs: 60_000, progressMs: 10_000 };
    expect(overrun(s, mark, start + 5000, budget)).toBeUndefined();
    expect(overrun(s, mark, start + 11_000, budget)?.reason).toBe("ProgressStalled");
    expect(overrun(s, advanceMark(mark, 9, start + 59_000), start + 61_000, budget)?.reason).toBe(
      "CompletionTimeout",
    );
  });

  it("measures downtime from the STOP and RESUME events, else QEMU's figure", () => {
    expect(
      downtimeMs(
        state("source", "Succeeded", { sourceStoppedAtMs: 1000, qemuDowntimeMs: 0 }),
        state("target", "Succeeded", { resumedAtMs: 1130 }),
      ),
    ).toBe(130);
    expect(downtimeMs(state("source", "Succeeded", { qemuDowntimeMs: 40 }), undefined)).toBe(40);
  });
});

describe("migratability", () => {
  it("copies pod-local disks and shares ReadWriteMany claims only", () => {
    const v = vm({
      disks: [
        { name: "root", containerDisk: { image: "img" } },
        { name: "scratch", emptyDisk: { size: "1Gi" } },
        { name: "seed", cloudInitNoCloud: { userData: "#cloud-config" } },
        { name: "shared", persistentVolumeClaim: { claimName: "rwx" } },
      ],
    });
    expect(migratability(v, () => ["ReadWriteMany"]).migratable).toBe(true);
    const rwo = migratability(v, () => ["ReadWriteOnce"]);
    expect(rwo).toMatchObject({ migratable: false, reason: "DisksNotShared" });
    expect(rwo.message).toMatch(/claim rwx is ReadWriteOnce, not ReadWriteMany/);
    expect(migratability(v, () => undefined).message).toMatch(/not found/);
  });
});

describe("the target pod", () => {
  const v = vm();
  const spec = { ...v.spec, cpu: { cores: 2 } };
  const pod = buildTargetPod(v, { name: "mig", uid: "uid-mig" }, sourcePod(spec), "node-a", {
    image: "kubevisor:dev",
  });

  it("is the source's launcher pod, flagged as target, kept off the source node", () => {
    expect(pod.metadata?.name).toBe(targetPodName("web", "uid-mig"));
    expect(pod.metadata?.annotations).toMatchObject({
      "kubevisor.io/migration-target": "true",
      "kubevisor.io/migration": "mig",
      "kubevisor.io/launch": "1",
    });
    expect(pod.metadata?.labels?.["kubevisor.io/component"]).toBe("launcher");
    expect(
      pod.spec?.affinity?.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution
        ?.nodeSelectorTerms,
    ).toEqual([
      {
        matchExpressions: [
          { key: "kubernetes.io/hostname", operator: "NotIn", values: ["node-a"] },
        ],
      },
    ]);
  });

  it("runs the spec the source runs, not an edited one", () => {
    const recorded = JSON.parse(pod.metadata?.annotations?.["kubevisor.io/vm-spec"] ?? "{}");
    expect(recorded.spec.cpu.cores).toBe(2);
  });

  it("adds the exclusion to every required term of the VM's own affinity", () => {
    const term = (zone: string) => ({
      matchExpressions: [{ key: "zone", operator: "In", values: [zone] }],
    });
    const merged = avoidNode(
      {
        nodeAffinity: {
          requiredDuringSchedulingIgnoredDuringExecution: {
            nodeSelectorTerms: [term("x"), term("y")],
          },
        },
      },
      "n1",
    );
    const terms =
      merged.nodeAffinity?.requiredDuringSchedulingIgnoredDuringExecution?.nodeSelectorTerms;
    expect(terms).toHaveLength(2);
    for (const t of terms ?? []) expect(t.matchExpressions?.at(-1)?.values).toEqual(["n1"]);
  });
});

describe("evacuating a cordoned node", () => {
  const on = (name: string, evictionStrategy: string, node = "node-a") => {
    const v = vm({ evictionStrategy }, { nodeName: node, launcherPod: `${name}-launcher-1` });
    v.metadata.name = name;
    return v;
  };
  const yes = () => ({ migratable: true, message: "" });
  const no = () => ({ migratable: false, message: "disk d: claim c is ReadWriteOnce" });

  it("migrates LiveMigrate VMs, leaves None to the eviction, skips other nodes", () => {
    const plan = planEvacuation(
      "node-a",
      [on("a", "LiveMigrate"), on("b", "None"), on("c", "LiveMigrate", "node-b")],
      [],
      yes,
      3,
    );
    expect(plan.create.map((c) => c.name)).toEqual([evacuationName("a", "a-launcher-1", 1)]);
    expect(plan.blocked).toEqual([]);
  });

  it("blocks (and says why) LiveMigrate VMs that cannot move; lets IfPossible ones be evicted", () => {
    const plan = planEvacuation(
      "node-a",
      [on("a", "LiveMigrate"), on("b", "LiveMigrateIfPossible")],
      [],
      no,
      3,
    );
    expect(plan.create).toEqual([]);
    expect(plan.blocked.map((b) => b.vm.metadata.name)).toEqual(["a"]);
    expect(plan.blocked[0]?.message).toMatch(/ReadWriteOnce/);
  });

  it("waits for a migration under way, retries a failed one, gives up after the attempts", () => {
    const mig = (name: string, phase: string) =>
      ({
        apiVersion: "kubevisor.io/v1alpha1",
        kind: "VirtualMachineMigration",
        metadata: { name },
        spec: { vmName: "a" },
        status: { phase, message: "boom" },
      }) as never;
    const first = evacuationName("a", "a-launcher-1", 1);
    const second = evacuationName("a", "a-launcher-1", 2);
    const vms = [on("a", "LiveMigrate")];
    expect(planEvacuation("node-a", vms, [mig(first, "Running")], yes, 2).create).toEqual([]);
    expect(planEvacuation("node-a", vms, [mig(first, "Failed")], yes, 2).create[0]?.name).toBe(
      second,
    );
    const gaveUp = planEvacuation(
      "node-a",
      vms,
      [mig(first, "Failed"), mig(second, "Failed")],
      yes,
      2,
    );
    expect(gaveUp.create).toEqual([]);
    expect(gaveUp.blocked[0]?.message).toMatch(/2 evacuation attempts failed/);
  });
});
