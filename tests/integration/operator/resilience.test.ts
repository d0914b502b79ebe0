import { type ChildProcess, spawn } from "node:child_process";
import type { V1Pod } from "@kubernetes/client-node";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { GROUP, LABEL_COMPONENT, LABEL_VM, VERSION } from "../../../src/api/index.js";
import { paths } from "../../../src/kube/client.js";
import { FencedError } from "../../../src/kube/controller.js";
import { Informer } from "../../../src/kube/informer.js";
import { freePort } from "../../../src/launcher/migration/net.js";
import type { RunningOperator } from "../../../src/operator/operator.js";
import { VM_FINALIZER } from "../../../src/operator/vm/decide.js";
import { logger } from "../../../src/util/log.js";
import {
  createVm,
  type Env,
  getVm,
  launcherPods,
  setupEnv,
  start,
  teardownEnv,
  until,
  untilVm,
  vmPath,
} from "./harness.js";

let env: Env;
let operators: RunningOperator[] = [];
/** Highest number of live launcher pods ever seen at once, per VM. */
const maxLive = new Map<string, number>();
let podWatch: Informer<V1Pod>;

beforeAll(async () => {
  env = await setupEnv("res", 20);
  podWatch = new Informer<V1Pod>(
    env.c,
    paths.pods(env.ns),
    logger("test"),
    `${LABEL_COMPONENT}=launcher`,
  );
  podWatch.on("change", () => {
    const live = new Map<string, number>();
    for (const pod of podWatch.list()) {
      if (["Succeeded", "Failed"].includes(pod.status?.phase ?? "")) continue;
      const vm = pod.metadata?.labels?.[LABEL_VM] ?? "";
      live.set(vm, (live.get(vm) ?? 0) + 1);
    }
    for (const [vm, n] of live) maxLive.set(vm, Math.max(maxLive.get(vm) ?? 0, n));
  });
  await podWatch.start();
});

afterEach(async () => {
  await Promise.all(operators.map((o) => o.stop()));
  operators = [];
});

afterAll(async () => {
  await podWatch.stop();
  const cleaner = await start(env);
  await teardownEnv(env, [cleaner]);
});

const run = async (extra: Parameters<typeof start>[1] = {}) => {
  const o = await start(env, extra);
  operators.push(o);
  return o;
};

const running = (vm: string, launch: number) =>
  untilVm(
    env.c,
    env.ns,
    vm,
    `launch ${launch} Running`,
    (v) => v.status?.launchCount === launch && v.status.phase === "Running",
  );

async function failGuest(vm: string) {
  const v = await getVm(env.c, env.ns, vm);
  const pod = (await launcherPods(env.c, env.ns, vm)).find(
    (p) => p.metadata?.name === v.status?.launcherPod,
  );
  if (!pod) throw new Error(`no pod for ${vm}`);
  await env.kubelet.terminate(pod, 1, "GuestCrashed: test");
}

describe("operator restarts", () => {
  it("a claim whose pod was never created (operator killed between the two) is replaced, not doubled", async () => {
    // What a killed operator leaves behind: finalizer, and a claim for launch 1, no pod.
    await env.c.create(vmPath(env.ns), {
      apiVersion: `${GROUP}/${VERSION}`,
      kind: "VirtualMachine",
      metadata: { name: "orphan-claim", namespace: env.ns, finalizers: [VM_FINALIZER] },
      spec: { memory: { size: "128Mi" }, boot: { kernel: { image: "kubevisor/test-guest" } } },
    });
    const vm = await getVm(env.c, env.ns, "orphan-claim");
    await env.c.mergePatch(`${vmPath(env.ns, "orphan-claim")}/status`, {
      metadata: { resourceVersion: vm.metadata.resourceVersion },
      status: {
        launchCount: 1,
        launcherPod: "orphan-claim-launcher-1",
        launchClaimedAt: new Date().toISOString().replace(/\.\d+Z/, "Z"),
        phase: "Scheduling",
      },
    });
    await run();
    const v = await running("orphan-claim", 2);
    expect(
      (await launcherPods(env.c, env.ns, "orphan-claim")).map((p) => p.metadata?.name),
    ).toEqual(["orphan-claim-launcher-2"]);
    expect(v.status?.restartCount ?? 0).toBe(0);
  });

  it("an operator killed between pod create and UID record: that pod never starts, the VM runs once", async () => {
    // Launchers at their start gate: /status says awaitingStart until POST /start.
    env.launcher.gated = true;
    try {
      let fired!: () => void;
      const created = new Promise<void>((r) => (fired = r));
      let release!: () => void;
      const released = new Promise<void>((r) => (release = r));
      const first = await run({
        faults: {
          afterPodCreate: async () => {
            fired();
            await released;
            // The process is gone: nothing after the create runs (no UID record, no retry).
            throw new FencedError("injected: operator killed after its pod create");
          },
        },
      });
      await createVm(env.c, env.ns, "killed");
      await created;
      const stopping = first.stop();
      release();
      await stopping;
      operators = operators.filter((o) => o !== first);
      const orphan = await until("the orphan pod runs", async () => {
        const [p] = await launcherPods(env.c, env.ns, "killed");
        return p?.status?.phase === "Running" ? p : undefined;
      });
      expect(orphan.metadata?.name).toBe("killed-launcher-1");
      const left = await getVm(env.c, env.ns, "killed");
      expect(left.status?.launcherPodUID).toBe("");

      // A new operator: no clock of the dead one matters, and the orphan is never started.
      await run();
      const v = await running("killed", 2);
      const pods = await launcherPods(env.c, env.ns, "killed");
      const own = pods.find((p) => p.metadata?.name === "killed-launcher-2");
      expect(v.status?.launcherPodUID).toBe(own?.metadata?.uid);
      // Only this VM's pods count: the fake launchers are shared with the file's other VMs.
      const ours = new Set(pods.map((p) => p.status?.podIP));
      expect(new Set(env.launcher.started.filter((ip) => ours.has(ip)))).toEqual(
        new Set([own?.status?.podIP]),
      );
      expect(env.launcher.started).not.toContain(orphan.status?.podIP);
      // Started once: no restart was counted, and the orphan (a superseded launch) goes.
      expect(v.status?.restartCount ?? 0).toBe(0);
      await until("the orphan is gone", async () =>
        (await launcherPods(env.c, env.ns, "killed")).every(
          (p) =>
            p.metadata?.name !== "killed-launcher-1" ||
            ["Succeeded", "Failed"].includes(p.status?.phase ?? ""),
        ),
      );
      expect(env.launcher.started).not.toContain(orphan.status?.podIP);
    } finally {
      env.launcher.gated = false;
    }
  });

  it("an operator stopped right after creating the pod is succeeded by one that adopts it", async () => {
    const first = await run();
    await createVm(env.c, env.ns, "adopt");
    env.kubelet.autoRun = false;
    try {
      await until(
        "pod created",
        async () => (await launcherPods(env.c, env.ns, "adopt")).length === 1,
      );
      await first.stop();
      operators = operators.filter((o) => o !== first);
    } finally {
      env.kubelet.autoRun = true;
    }
    await run();
    await running("adopt", 1);
    expect((await launcherPods(env.c, env.ns, "adopt")).map((p) => p.metadata?.name)).toEqual([
      "adopt-launcher-1",
    ]);
  });
});

describe("several operators at once", () => {
  it("without leader election, launches stay single through repeated failures", async () => {
    await Promise.all([run(), run(), run()]);
    const names = ["multi-a", "multi-b", "multi-c", "multi-d"];
    await Promise.all(names.map((n) => createVm(env.c, env.ns, n)));
    for (let launch = 1; launch <= 3; launch++) {
      await Promise.all(names.map((n) => running(n, launch)));
      if (launch < 3) await Promise.all(names.map((n) => failGuest(n)));
    }
    for (const n of names) {
      expect(maxLive.get(n), n).toBe(1);
      const vm = await getVm(env.c, env.ns, n);
      expect(vm.status).toMatchObject({ launchCount: 3, restartCount: 2 });
    }
  });

  it("with leader election, one leads; when it stops, another takes over", async () => {
    const lease = { durationMs: 3000, renewDeadlineMs: 2000, retryPeriodMs: 300 };
    const a = await run({ leaderElection: true, lease });
    const b = await run({ leaderElection: true, lease });
    const leader = await until("a leader", async () => {
      const leading = [a, b].filter((o) => o.isLeader());
      return leading.length === 1 ? leading[0] : undefined;
    });
    const standby = leader === a ? b : a;
    await createVm(env.c, env.ns, "led");
    await running("led", 1);
    expect(standby.isLeader()).toBe(false);

    await leader.stop();
    operators = operators.filter((o) => o !== leader);
    await until("standby leads", async () => standby.isLeader(), 10_000);
    await failGuest("led");
    await running("led", 2);
    expect(maxLive.get("led")).toBe(1);
  });
});

describe("as a process", () => {
  let child: ChildProcess | undefined;
  afterEach(() => child?.kill("SIGKILL"));

  it("serves health and metrics, reconciles, and exits cleanly on SIGTERM", async () => {
    const port = await freePort("127.0.0.1");
    child = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "src/operator/main.ts",
        "--launcher-image",
        "kubevisor:test",
        "--namespace",
        env.operatorNs,
        "--http-port",
        String(port),
        "--http-host",
        "127.0.0.1",
        "--leader-elect",
        "true",
      ],
      {
        env: { ...process.env, KUBEVISOR_LOG_LEVEL: "warn" },
        stdio: ["ignore", "inherit", "inherit"],
      },
    );
    const exited = new Promise<number | null>((resolve) =>
      child?.on("exit", (code) => resolve(code)),
    );
    const get = async (path: string) => {
      const res = await fetch(`http://127.0.0.1:${port}${path}`);
      return { status: res.status, text: await res.text() };
    };
    await until("readyz", async () => (await get("/readyz")).status === 200, 30_000);
    expect((await get("/healthz")).status).toBe(200);
    await createVm(env.c, env.ns, "proc");
    await running("proc", 1);
    const metrics = (await get("/metrics")).text;
    expect(metrics).toMatch(
      new RegExp(
        `kubevisor_vmi_info\\{namespace="${env.ns}",name="proc",phase="Running",node="[^"]+"\\} 1`,
      ),
    );
    expect(metrics).toMatch(/kubevisor_info\{version="\d+\.\d+\.\d+[^"]*"\} 1/);
    expect(metrics).toMatch(/kubevisor_workqueue_adds_total\{name="vm"\} [1-9]/);
    expect(metrics).toMatch(/kubevisor_workqueue_work_duration_seconds_count\{name="vm"\} [1-9]/);
    expect(metrics).toContain('kubevisor_workqueue_longest_running_processor_seconds{name="vm"}');
    expect(metrics).toMatch(
      /kubevisor_vmi_non_evictable\{namespace="[^"]+",name="proc",node="[^"]+"\} [01]/,
    );
    expect(metrics).toContain(
      'kubevisor_vmi_phase_transition_time_from_creation_seconds_count{phase="Running"}',
    );
    expect(metrics).toContain("kubevisor_operator_leading_status 1");
    expect(metrics).toContain("kubevisor_operator_ready_status 1");
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });
});
