/**
 * Operator benchmark: 1,000 VirtualMachines against a real control plane (etcd, apiserver,
 * scheduler, controller-manager). No pods really run: the benchmark plays the kubelet (pods
 * bound by the real scheduler are patched Running and Ready). The operator runs as its own
 * process (`src/operator/main.ts` under tsx), so its memory is its own.
 *
 * Figures: time from the first create until every VM is Running, VMs reaching Running per
 * second, per-VM time to Running (p50/p95), reconcile passes and errors, operator RSS (peak)
 * and heap. Baseline, same run, same client, same stand-in kubelet and scheduler: 1,000
 * launcher-shaped pods created directly — what the control plane alone costs.
 *
 *   npx tsx bench/operator.ts          (or: npm run bench -- operator)
 *   KUBECONFIG=… reuses a running cluster instead of starting one; BENCH_VMS=N for fewer.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { KubeConfig, type V1Node, type V1Pod } from "@kubernetes/client-node";
import { GROUP, LAUNCHER_CONTAINER, VERSION, VirtualMachine } from "../src/api/index.js";
import { isAlreadyExists, KubeClient, paths } from "../src/kube/client.js";
import { Informer } from "../src/kube/informer.js";
import { freePort } from "../src/launcher/migration/net.js";
import { type ControlPlane, startControlPlane } from "../src/local/controlplane.js";
import { applyCrds, packagedCrdsDir } from "../src/local/crds.js";
import { createProgress } from "../src/local/progress.js";
import { buildLauncherPod } from "../src/operator/vm/launcher-pod.js";
import { logger } from "../src/util/log.js";
import { type Figures, formatTable, resultLine, summarize } from "./lib/report.js";

const COUNT = Number(process.env.BENCH_VMS ?? 1000);
const CONCURRENCY = 32;
const NODE = "bench-node";
const log = logger("bench-operator");

const stamp = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
const round = (x: number, digits = 2) => Math.round(x * 10 ** digits) / 10 ** digits;

async function pool<T>(items: T[], limit: number, fn: (item: T) => Promise<unknown>) {
  let next = 0;
  await Promise.all(
    Array.from({ length: limit }, async () => {
      while (next < items.length) await fn(items[next++] as T);
    }),
  );
}

/** A node big enough for every pod of the run, kept Ready by a heartbeat. */
async function registerNode(c: KubeClient): Promise<NodeJS.Timeout> {
  const capacity = { cpu: "2000", memory: "4Ti", pods: String(COUNT * 2 + 100) };
  const node: V1Node = {
    apiVersion: "v1",
    kind: "Node",
    metadata: { name: NODE, labels: { "kubernetes.io/hostname": NODE } },
  };
  await c.create(paths.nodes(), node).catch((err) => {
    if (!isAlreadyExists(err)) throw err;
  });
  const beat = async () => {
    const now = stamp();
    await c.request("PATCH", `${paths.nodes()}/${NODE}/status`, {
      contentType: "application/strategic-merge-patch+json",
      body: {
        status: {
          capacity,
          allocatable: capacity,
          conditions: [
            {
              type: "Ready",
              status: "True",
              reason: "KubeletReady",
              message: "",
              lastHeartbeatTime: now,
              lastTransitionTime: now,
            },
          ],
        },
      },
    });
    const lease = {
      holderIdentity: NODE,
      leaseDurationSeconds: 40,
      renewTime: new Date().toISOString().replace(/Z$/, "000Z"),
    };
    await c
      .mergePatch(`/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${NODE}`, {
        spec: lease,
      })
      .catch(() =>
        c.create("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", {
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: NODE, namespace: "kube-node-lease" },
          spec: lease,
        }),
      );
  };
  await beat();
  // Wait for the node lifecycle controller to lift the not-ready taint.
  for (;;) {
    const n = await c.get<V1Node>(`${paths.nodes()}/${NODE}`);
    if (!(n.spec?.taints ?? []).some((t) => t.key.startsWith("node.kubernetes.io/"))) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return setInterval(() => void beat().catch(() => {}), 5000);
}

/**
 * The kubelet's part: every pod bound to the node is reported Running and Ready, a few at
 * a time, with the time it first appeared bound; graceful deletions are finished.
 */
class StandInKubelet {
  private readonly informer: Informer<V1Pod>;
  private readonly pending: V1Pod[] = [];
  private readonly seen = new Set<string>();
  private ip = 0;
  private workers: Promise<void>[] = [];
  private stopped = false;

  constructor(
    private readonly c: KubeClient,
    namespace: string,
  ) {
    this.informer = new Informer<V1Pod>(c, paths.pods(namespace), log);
    this.informer.on("change", (pod) => {
      const key = pod.metadata?.uid ?? "";
      if (!pod.spec?.nodeName || pod.status?.phase !== "Pending" || this.seen.has(key)) return;
      this.seen.add(key);
      this.pending.push(pod);
    });
  }

  async start() {
    await this.informer.start();
    this.workers = Array.from({ length: 16 }, () => this.work());
  }

  async stop() {
    this.stopped = true;
    await Promise.all(this.workers);
    await this.informer.stop();
  }

  private async work() {
    while (!this.stopped) {
      const pod = this.pending.shift();
      if (!pod) {
        await new Promise((r) => setTimeout(r, 20));
        continue;
      }
      const n = this.ip++;
      const ip = `127.1.${n >> 8}.${n & 255}`;
      const now = stamp();
      const cond = (type: string) => ({ type, status: "True", lastTransitionTime: now });
      await this.c
        .request(
          "PATCH",
          `${paths.pod(pod.metadata?.namespace ?? "", pod.metadata?.name ?? "")}/status`,
          {
            contentType: "application/merge-patch+json",
            body: {
              status: {
                phase: "Running",
                podIP: ip,
                podIPs: [{ ip }],
                hostIP: "127.0.0.1",
                startTime: now,
                conditions: [
                  cond("PodScheduled"),
                  cond("Initialized"),
                  cond("ContainersReady"),
                  cond("Ready"),
                ],
                containerStatuses: [
                  {
                    name: LAUNCHER_CONTAINER,
                    image: pod.spec?.containers[0]?.image,
                    imageID: "",
                    ready: true,
                    restartCount: 0,
                    started: true,
                    state: { running: { startedAt: now } },
                  },
                ],
              },
            },
          },
        )
        .catch((err) => log.warn({ err: String(err) }, "kubelet patch failed"));
    }
  }
}

function benchVm(name: string, namespace: string) {
  return {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: "VirtualMachine",
    metadata: { name, namespace },
    spec: {
      memory: { size: "128Mi" },
      disks: [{ name: "root", containerDisk: { image: "kubevisor/test-guest:bench" } }],
    },
  };
}

/** The baseline's pods: what the operator would create, minus the owner (no VM exists). */
function benchPod(name: string, namespace: string): V1Pod {
  const vm = VirtualMachine.parse({
    ...benchVm(name, namespace),
    metadata: { name, namespace, uid: "none" },
  });
  const pod = buildLauncherPod(vm, 1, { image: "kubevisor:bench" });
  if (pod.metadata) delete pod.metadata.ownerReferences;
  return pod;
}

/** Waits until `count` objects of the informer satisfy `done`, recording when each did. */
function convergence<T extends { metadata?: { name?: string } }>(
  informer: Informer<T>,
  count: number,
  done: (o: T) => boolean,
  keyOf: (name: string) => string,
) {
  const reached = new Map<string, number>();
  return {
    reached,
    promise: new Promise<void>((resolve) => {
      const check = (o: T) => {
        const name = keyOf(o.metadata?.name ?? "");
        if (!reached.has(name) && done(o)) reached.set(name, performance.now());
        if (reached.size >= count) resolve();
      };
      informer.on("change", check);
    }),
  };
}

/** CPU time (user + system) the process has used, in seconds. */
function cpuSecondsOf(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]?.split(" ") ?? [];
  // utime and stime are fields 14 and 15 of stat, in clock ticks (100 per second on Linux).
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function memoryOf(pid: number): { rssMiB: number; peakMiB: number } {
  const status = readFileSync(`/proc/${pid}/status`, "utf8");
  const kib = (key: string) =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, "m").exec(status)?.[1] ?? 0);
  return { rssMiB: kib("VmRSS") / 1024, peakMiB: kib("VmHWM") / 1024 };
}

async function scrape(port: number): Promise<Map<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const values = new Map<string, number>();
  for (const line of text.split("\n")) {
    const m = /^([a-z_]+(?:\{[^}]*\})?) (\S+)$/.exec(line);
    if (m?.[1] && m[2]) values.set(m[1], Number(m[2]));
  }
  return values;
}

interface Run {
  seconds: number;
  perSecond: number;
  p50: number;
  p95: number;
  submitSeconds: number;
}

async function timeToRunning<T extends { metadata?: { name?: string } }>(
  informer: Informer<T>,
  running: (o: T) => boolean,
  create: (name: string) => Promise<unknown>,
  prefix: string,
  keyOf: (name: string) => string = (n) => n,
): Promise<Run> {
  const names = Array.from({ length: COUNT }, (_, i) => `${prefix}-${String(i).padStart(4, "0")}`);
  const created = new Map<string, number>();
  const { reached, promise } = convergence(informer, COUNT, running, keyOf);
  const t0 = performance.now();
  await pool(names, CONCURRENCY, async (name) => {
    created.set(name, performance.now());
    await create(name);
  });
  const submitSeconds = (performance.now() - t0) / 1000;
  await promise;
  const seconds = (performance.now() - t0) / 1000;
  const latencies = names.map((n) => ((reached.get(n) ?? 0) - (created.get(n) ?? 0)) / 1000);
  const sorted = [...latencies].sort((a, b) => a - b);
  return {
    seconds,
    perSecond: COUNT / seconds,
    p50: summarize(latencies).median,
    p95: sorted[Math.floor(sorted.length * 0.95)] ?? Number.NaN,
    submitSeconds,
  };
}

export default async function main() {
  let cp: ControlPlane | undefined;
  let dir: string | undefined;
  let kubeconfig = process.env.KUBECONFIG;
  if (!kubeconfig) {
    dir = mkdtempSync(join(tmpdir(), "kubevisor-bench-operator-"));
    cp = await startControlPlane({ name: "bench-operator", dir, progress: createProgress() });
    await applyCrds(cp.kubeconfigPath, packagedCrdsDir());
    kubeconfig = cp.kubeconfigPath;
  }
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfig);
  const c = new KubeClient(kc, { maxSockets: CONCURRENCY });
  const suffix = process.pid.toString(36);
  const vmNs = `bench-vms-${suffix}`;
  const podNs = `bench-pods-${suffix}`;
  const opNs = `bench-operator-${suffix}`;
  for (const ns of [vmNs, podNs, opNs])
    await c.create("/api/v1/namespaces", {
      apiVersion: "v1",
      kind: "Namespace",
      metadata: { name: ns },
    });
  const heartbeat = await registerNode(c);
  const kubelets = [new StandInKubelet(c, podNs), new StandInKubelet(c, vmNs)];
  await Promise.all(kubelets.map((k) => k.start()));
  let operator: ChildProcess | undefined;
  try {
    // Baseline: the control plane alone, pods created directly.
    const pods = new Informer<V1Pod>(c, paths.pods(podNs), log);
    await pods.start();
    console.error(`baseline: ${COUNT} pods…`);
    const baseline = await timeToRunning(
      pods,
      (p) => p.status?.phase === "Running",
      (name) => c.create(paths.pods(podNs), benchPod(name, podNs)),
      "pod",
      (podName) => podName.replace(/-launcher-1$/, ""),
    );
    await pods.stop();

    // The operator, as a process of its own.
    const port = await freePort("127.0.0.1");
    operator = spawn(
      process.execPath,
      [
        "--import",
        "tsx",
        "src/operator/main.ts",
        "--launcher-image",
        "kubevisor:bench",
        "--namespace",
        opNs,
        "--http-port",
        String(port),
        "--http-host",
        "127.0.0.1",
        "--leader-elect",
        "true",
      ],
      {
        env: {
          ...process.env,
          KUBECONFIG: kubeconfig,
          KUBEVISOR_LOG_LEVEL: process.env.BENCH_OPERATOR_LOG_LEVEL ?? "warn",
        },
        stdio: ["ignore", "inherit", "inherit"],
      },
    );
    const pid = operator.pid ?? 0;
    for (;;) {
      const ok = await fetch(`http://127.0.0.1:${port}/readyz`).then(
        (r) => r.ok,
        () => false,
      );
      if (ok) break;
      await new Promise((r) => setTimeout(r, 100));
    }
    const idle = memoryOf(pid);
    const cpuBefore = cpuSecondsOf(pid);
    const vms = new Informer<{ metadata?: { name?: string }; status?: { phase?: string } }>(
      c,
      paths.custom(GROUP, VERSION, "virtualmachines", vmNs),
      log,
    );
    await vms.start();
    console.error(`operator: ${COUNT} VMs…`);
    const run = await timeToRunning(
      vms,
      (v) => v.status?.phase === "Running",
      (name) =>
        c.create(paths.custom(GROUP, VERSION, "virtualmachines", vmNs), benchVm(name, vmNs)),
      "vm",
    );
    const mem = memoryOf(pid);
    const cpu = cpuSecondsOf(pid) - cpuBefore;
    const metrics = await scrape(port);
    await vms.stop();

    const reconciles =
      metrics.get('kubevisor_workqueue_work_duration_seconds_count{name="vm"}') ?? 0;
    const figures: Figures = {
      vms: COUNT,
      converge_seconds: round(run.seconds),
      running_per_second: round(run.perSecond),
      p50_seconds: round(run.p50),
      p95_seconds: round(run.p95),
      submit_seconds: round(run.submitSeconds),
      operator_rss_mib: round(mem.rssMiB, 1),
      operator_peak_rss_mib: round(mem.peakMiB, 1),
      operator_idle_rss_mib: round(idle.rssMiB, 1),
      operator_heap_mib: round((metrics.get("nodejs_heap_size_used_bytes") ?? 0) / 2 ** 20, 1),
      operator_cpu_seconds: round(cpu, 1),
      reconciles,
      reconcile_errors:
        metrics.get('kubevisor_operator_reconcile_errors_total{controller="vm"}') ?? 0,
    };
    const base: Figures = {
      vms: COUNT,
      converge_seconds: round(baseline.seconds),
      running_per_second: round(baseline.perSecond),
      p50_seconds: round(baseline.p50),
      p95_seconds: round(baseline.p95),
      submit_seconds: round(baseline.submitSeconds),
    };
    console.log(
      formatTable(
        ["measure", "operator (VMs)", "baseline (bare pods)"],
        [
          ["objects", String(COUNT), String(COUNT)],
          ["all submitted after", `${figures.submit_seconds} s`, `${base.submit_seconds} s`],
          ["all Running after", `${figures.converge_seconds} s`, `${base.converge_seconds} s`],
          [
            "Running per second",
            String(figures.running_per_second),
            String(base.running_per_second),
          ],
          ["time to Running p50", `${figures.p50_seconds} s`, `${base.p50_seconds} s`],
          ["time to Running p95", `${figures.p95_seconds} s`, `${base.p95_seconds} s`],
          ["reconcile passes (errors)", `${reconciles} (${figures.reconcile_errors})`, "-"],
          [
            "operator RSS idle / end / peak",
            `${figures.operator_idle_rss_mib} / ${figures.operator_rss_mib} / ${figures.operator_peak_rss_mib} MiB`,
            "-",
          ],
          ["operator heap used", `${figures.operator_heap_mib} MiB`, "-"],
          ["operator CPU time during the run", `${figures.operator_cpu_seconds} s`, "-"],
          [
            "load average, cores",
            `${loadavg()
              .map((x) => x.toFixed(1))
              .join(" ")}`,
            String(availableParallelism()),
          ],
        ],
      ),
    );
    console.log(resultLine("operator", figures, base));
  } finally {
    if (operator && operator.exitCode === null) {
      const exited = new Promise((r) => operator?.once("exit", r));
      operator.kill("SIGTERM");
      await exited;
    }
    await Promise.all(kubelets.map((k) => k.stop()));
    clearInterval(heartbeat);
    if (cp) {
      await cp.stop();
      if (dir) rmSync(dir, { recursive: true, force: true });
    } else {
      // A borrowed cluster: drop what the run made (VM finalizers first: the operator is gone).
      const list = await c.list<{ metadata: { name: string } }>(
        paths.custom(GROUP, VERSION, "virtualmachines", vmNs),
      );
      await pool(list.items, CONCURRENCY, (vm) =>
        c
          .mergePatch(paths.custom(GROUP, VERSION, "virtualmachines", vmNs, vm.metadata.name), {
            metadata: { finalizers: null },
          })
          .catch(() => {}),
      );
      for (const ns of [vmNs, podNs, opNs]) {
        await c
          .request("DELETE", `${paths.pods(ns)}`, { query: { gracePeriodSeconds: 0 } })
          .catch(() => {});
        await c.delete(`/api/v1/namespaces/${ns}`).catch(() => {});
      }
      await c.delete(`${paths.nodes()}/${NODE}`).catch(() => {});
    }
    c.close();
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.env.KUBEVISOR_LOG_LEVEL ??= "warn";
  await main();
}
