import type { V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { GROUP, type LauncherMigrationState, VERSION } from "../../../src/api/index.js";
import type { RunningOperator } from "../../../src/operator/operator.js";
import type { RawVm } from "../../../src/operator/vm/reconciler.js";
import {
  createVm,
  type Env,
  expectNoDuplicates,
  FakeNode,
  getVm,
  launcherPods,
  setupEnv,
  start,
  teardownEnv,
  until,
  untilVm,
} from "./harness.js";

/**
 * The migration controller against a real API server and scheduler, with the launchers'
 * migration endpoints played by the stand-in launcher: it says what real QEMU rarely does
 * (a target that claims the guest while the source resumed it, a target lost after the
 * guest left), and each test checks the guest never runs twice and is never left behind.
 */
let env: Env;
let second: FakeNode;
let operator: RunningOperator | undefined;

const migrationsPath = (ns: string, name?: string) =>
  `/apis/${GROUP}/${VERSION}/namespaces/${ns}/virtualmachinemigrations${name ? `/${name}` : ""}`;

beforeAll(async () => {
  env = await setupEnv("mig", 150);
  second = new FakeNode(env.c, "node-mig-2");
  await second.start();
});

afterAll(async () => {
  second?.stop();
  await env.c.delete(`/api/v1/nodes/${second.name}`).catch(() => {});
  await teardownEnv(env, operator ? [operator] : []);
});

async function restartOperator(migration: Record<string, number>) {
  await operator?.stop();
  operator = await start(env, { migration: { pollMs: 200, ...migration } });
}

const podOfIp = (ip: string) => [...env.kubelet.ips].find(([, v]) => v === ip)?.[0] ?? "";
const isTarget = (ip: string) => podOfIp(ip).includes("-target-");

function createMigration(name: string, vmName: string) {
  return env.c.create(migrationsPath(env.ns), {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: "VirtualMachineMigration",
    metadata: { name, namespace: env.ns },
    spec: { vmName },
  });
}

const getMigration = (name: string) => env.c.get<RawVm>(migrationsPath(env.ns, name));

async function untilMigration(name: string, phases: string[], timeoutMs = 60_000) {
  let last: unknown;
  return await until(
    `migration ${name} in ${phases.join("|")}`,
    async () => {
      const m = await getMigration(name);
      last = m.status;
      return phases.includes(String(m.status?.phase)) ? m : undefined;
    },
    timeoutMs,
  ).catch((err: Error) => {
    throw new Error(`${err.message}; last status ${JSON.stringify(last)}`);
  });
}

async function runningVm(name: string, spec: Record<string, unknown> = {}) {
  await createVm(env.c, env.ns, name, spec);
  return untilVm(env.c, env.ns, name, "Running", (v) => v.status?.phase === "Running");
}

const livePods = async (vm: string) =>
  (await launcherPods(env.c, env.ns, vm)).filter(
    (p: V1Pod) => !["Succeeded", "Failed"].includes(p.status?.phase ?? ""),
  );

/**
 * Script the stand-in launchers: targets wait for the guest and listen; the source starts
 * when asked; after that each side answers what `after` says.
 */
function script(after: { source: LauncherMigrationState; target: () => LauncherMigrationState }) {
  const sent = new Set<string>();
  env.launcher.statusOf = (ip) =>
    isTarget(ip) ? { phase: "WaitingForMigration", acceleration: "TCG" } : undefined;
  env.launcher.migrate = (ip, method, path) => {
    if (isTarget(ip)) {
      if (method === "POST") return { migrationUri: `tcp:${ip}:4444`, diskIndexes: [] };
      return sent.size > 0 ? after.target() : { role: "target", phase: "None" };
    }
    if (method === "POST" && path === "/migrate") sent.add(ip);
    if (method === "DELETE") return { role: "source", phase: "Cancelled" };
    return sent.has(ip) ? after.source : { role: "source", phase: "None" };
  };
}

describe("deadlines", () => {
  it("a target that can never be scheduled ends the migration at the Scheduling deadline", async () => {
    await restartOperator({ targetScheduleTimeoutMs: 4000 });
    env.launcher.migrate = undefined;
    env.launcher.statusOf = undefined;
    // Pinned to one node: the target (never on the source's node) fits nowhere.
    const vm = await runningVm("pinned", {
      nodeSelector: { "kubernetes.io/hostname": env.node.name },
    });
    await createMigration("pin-1", "pinned");
    const m = await untilMigration("pin-1", ["Failed", "Succeeded"]);
    expect(m.status).toMatchObject({ phase: "Failed", reason: "TargetUnschedulable" });
    // Migration metrics are labelled with the VM.
    const metrics = await operator?.metrics.registry.metrics();
    const vm1 = `namespace="${env.ns}",vmi="pinned"`;
    expect(metrics).toContain(`kubevisor_vmi_migrations_total{${vm1},outcome="failed"} 1`);
    expect(metrics).toContain(`kubevisor_vmi_migrations_total{${vm1},outcome="succeeded"} 0`);
    expect(metrics).toContain(`kubevisor_vmi_migration_duration_seconds_count{${vm1}} 1`);
    await until("the target removed", async () => (await livePods("pinned")).length === 1);
    const after = await untilVm(
      env.c,
      env.ns,
      "pinned",
      "released",
      (v) => v.status?.migration?.phase === "Failed" && v.status.phase === "Running",
    );
    expect(after.status?.launcherPod).toBe(vm.status?.launcherPod);
  });
});

describe("the source's word decides", () => {
  it("target says Succeeded, source says Failed: the target is killed, the VM stays on the source", async () => {
    await restartOperator({});
    script({
      source: { role: "source", phase: "Failed", error: "the return path broke" },
      target: () => ({ role: "target", phase: "Succeeded" }),
    });
    const vm = await runningVm("split");
    await createMigration("split-1", "split");
    const m = await untilMigration("split-1", ["Failed", "Succeeded"]);
    expect(m.status).toMatchObject({ phase: "Failed", reason: "MigrationFailed" });
    expect(String(m.status?.message)).toMatch(/target also started the guest and was killed/);
    // Never switched over; the target gone: one guest, on the source.
    const after = await untilVm(
      env.c,
      env.ns,
      "split",
      "released",
      (v) => v.status?.migration?.phase === "Failed" && v.status.phase === "Running",
    );
    expect(after.status?.launcherPod).toBe(vm.status?.launcherPod);
    await until("only the source left", async () => (await livePods("split")).length === 1);
    expectNoDuplicates(await launcherPods(env.c, env.ns, "split"));
  });

  it("the guest left the source and the target is lost: TargetLost, and runStrategy starts the VM again", async () => {
    let targetAlive = true;
    script({
      source: { role: "source", phase: "Succeeded" },
      target: () => ({ role: "target", phase: targetAlive ? "Listening" : "Failed" }),
    });
    const vm = await runningVm("lost");
    await createMigration("lost-1", "lost");
    await untilMigration("lost-1", ["Running"]);
    // The guest left the source (it says Succeeded); now the target dies before it confirms.
    const target = await until("the target pod", async () =>
      (await livePods("lost")).find((p) => p.metadata?.name?.includes("-target-")),
    );
    targetAlive = false;
    await env.c.delete(`/api/v1/namespaces/${env.ns}/pods/${target.metadata?.name}`, {
      apiVersion: "v1",
      kind: "DeleteOptions",
      gracePeriodSeconds: 0,
    });
    const m = await untilMigration("lost-1", ["Failed", "Succeeded"]);
    expect(m.status).toMatchObject({ phase: "Failed", reason: "TargetLost" });
    const restarted = await untilVm(
      env.c,
      env.ns,
      "lost",
      "running a new launch",
      (v) =>
        v.status?.phase === "Running" &&
        (v.status.launchCount ?? 0) > (vm.status?.launchCount ?? 0),
    );
    expect(restarted.status?.launcherPod).not.toBe(vm.status?.launcherPod);
    expect(restarted.status?.restartCount).toBe(1);
    expectNoDuplicates(await launcherPods(env.c, env.ns, "lost"));
  });
});

describe("a migration that vanished", () => {
  it("finalizer removed and object deleted mid-way: the VM is released and its target removed", async () => {
    // The target waits for the guest forever: the migration stays in Scheduling.
    env.launcher.migrate = undefined;
    env.launcher.statusOf = undefined;
    await runningVm("orphan");
    await createMigration("orphan-1", "orphan");
    await untilVm(env.c, env.ns, "orphan", "Migrating", (v) => v.status?.phase === "Migrating");
    await until("a target pod", async () => (await livePods("orphan")).length === 2);
    const m = await getMigration("orphan-1");
    await env.c.mergePatch(migrationsPath(env.ns, "orphan-1"), {
      metadata: { resourceVersion: m.metadata.resourceVersion, finalizers: [] },
    });
    await env.c.delete(migrationsPath(env.ns, "orphan-1"));
    const after = await untilVm(
      env.c,
      env.ns,
      "orphan",
      "released",
      (v) => v.status?.phase === "Running" && v.status.migration === undefined,
    );
    expect(after.status?.launcherPod).toBe("orphan-launcher-1");
    await until("the stray target removed", async () => (await livePods("orphan")).length === 1);
    const vm = await getVm(env.c, env.ns, "orphan");
    expect(vm.status?.phase).toBe("Running");
  });
});
