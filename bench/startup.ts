/**
 * Startup benchmark: `kubectl apply` of a VM → phase Running → the guest's boot marker on
 * its serial console, through the whole product (control plane, local nodes, the chart
 * installed with Helm), beside plain QEMU booting the same guest to the same marker in the
 * same run. Also the memory of the operator and of each launcher (Node.js process and QEMU).
 *
 *   npm run bench -- startup [--runtime local|containerd]        (BENCH_STARTUP_VMS, default 10)
 *
 * Also: local up → product ready (control plane, nodes, chart; binaries and, for real
 * nodes, the image built beforehand).
 */
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startProduct } from "../src/local/product.js";
import { createProgress } from "../src/local/progress.js";
import { GUEST_BOOT_MARKER } from "../src/vmm/guest-image.js";
import { Console, getVm, kc, kubectl, vmManifest, waitFor } from "../tests/e2e/lib.js";
import { pidsOfPod } from "../tests/e2e/migration-lib.js";
import { guest, plainBoot, plainStop } from "./lib/plain-qemu.js";
import { type Figures, formatTable, resultLine, summarize } from "./lib/report.js";
import { benchRuntime } from "./lib/runtime.js";

const VMS = Number(process.env.BENCH_STARTUP_VMS ?? 10);
const NS = "bench-startup";

function percentile(values: number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return (
    sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)] ?? Number.NaN
  );
}

/** Resident memory (MiB) of the pod's host processes whose command matches. */
function rssOfPod(pod: string, command: RegExp): number {
  let kib = 0;
  for (const pid of pidsOfPod(pod, command)) {
    try {
      kib += Number(
        /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"))?.[1] ?? 0,
      );
    } catch {
      // Gone while we looked.
    }
  }
  return Math.round(kib / 1024);
}

async function startOne(
  name: string,
): Promise<{ runningMs: number; markerMs: number; pod: string }> {
  const t0 = Date.now();
  const r = await kubectl(["apply", "-f", "-"], vmManifest(NS, name));
  if (r.code !== 0) throw new Error(r.stderr);
  const vm = await waitFor(
    `${name} Running`,
    async () => {
      const v = await getVm(NS, name);
      return v.status?.phase === "Running" ? v : undefined;
    },
    300_000,
    50,
  );
  const runningMs = Date.now() - t0;
  const console_ = await Console.open(NS, name, vm.status?.ipAddress ?? "");
  try {
    // The launcher replays the console from the start, so an early marker is not missed.
    await console_.waitFor(GUEST_BOOT_MARKER, 120_000);
  } finally {
    console_.close();
  }
  return { runningMs, markerMs: Date.now() - t0, pod: vm.status?.launcherPod ?? "" };
}

export default async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "kv-bench-startup-"));
  const runtime = benchRuntime();
  // Built (or found) first, so local up → product ready measures the cluster, not a build.
  if (runtime === "containerd")
    await (await import("../src/local/image/index.js")).buildProductImage();
  const upStart = Date.now();
  const product = await startProduct({
    name: `bench-${process.pid}`,
    dir,
    runtime,
    progress: createProgress(),
  });
  const productReadyMs = Date.now() - upStart;
  process.env.KUBECONFIG = product.kubeconfigPath;
  try {
    await kc("create", "namespace", NS);
    const running: number[] = [];
    const marker: number[] = [];
    const plain: number[] = [];
    const pods: string[] = [];
    // Interleaved, so both see the same load: each new VM starts beside the ones already running.
    for (let i = 0; i < VMS; i++) {
      const s = await startOne(`vm-${i}`);
      running.push(s.runningMs);
      marker.push(s.markerMs);
      pods.push(s.pod);
      const { ms, p } = await plainBoot(guest("q35"));
      plainStop(p);
      plain.push(ms);
      process.stderr.write(
        `  ${i + 1}/${VMS} VMs: apply→Running ${s.runningMs} ms, →marker ${s.markerMs} ms, plain ${ms} ms\n`,
      );
    }
    // By label: the node agent's pods (real nodes) share the namespace. The leader is the
    // replica doing the work: the largest.
    const operatorPods = (
      await kc(
        "get",
        "pods",
        "-n",
        "kubevisor-system",
        "-l",
        "app.kubernetes.io/component=operator",
        "-o",
        "jsonpath={.items[*].metadata.name}",
      )
    )
      .split(" ")
      .filter(Boolean);
    const operatorMiB = Math.max(0, ...operatorPods.map((p) => rssOfPod(p, /operator\/main\.js/)));
    const launcherMiB = pods.map((p) => rssOfPod(p, /launcher\/main\.js/));
    const qemuMiB = pods.map((p) => rssOfPod(p, /qemu-system/));

    const burstStart = Date.now();
    await Promise.all(
      Array.from({ length: VMS }, (_, i) =>
        kubectl(["apply", "-f", "-"], vmManifest(NS, `burst-${i}`)),
      ),
    );
    await waitFor(
      "the burst to run",
      async () => {
        const phases = await Promise.all(
          Array.from({ length: VMS }, (_, i) => getVm(NS, `burst-${i}`)),
        );
        return phases.every((v) => v.status?.phase === "Running") ? true : undefined;
      },
      600_000,
      200,
    );
    const burstMs = Date.now() - burstStart;

    const r = summarize(running);
    const m = summarize(marker);
    const b = summarize(plain);
    const l = summarize(launcherMiB);
    const q = summarize(qemuMiB);
    const figures: Figures = {
      up_to_product_ready_ms: productReadyMs,
      apply_to_running_median_ms: r.median,
      apply_to_running_p95_ms: percentile(running, 95),
      apply_to_marker_median_ms: m.median,
      apply_to_marker_p95_ms: percentile(marker, 95),
      burst_all_running_ms: burstMs,
      operator_rss_mib: operatorMiB,
      launcher_rss_median_mib: l.median,
      launcher_rss_max_mib: l.max,
      qemu_rss_median_mib: q.median,
    };
    const baseline: Figures = {
      apply_to_marker_median_ms: b.median,
      apply_to_marker_p95_ms: percentile(plain, 95),
    };
    console.log(
      formatTable(
        [`${VMS} VMs, 256 MiB, 1 vCPU, TCG, ${runtime} nodes`, "kubevisor", "plain QEMU"],
        [
          ["local up → product ready (ms)", `${productReadyMs}`, "–"],
          [
            "apply → Running, median / p95 (ms)",
            `${r.median} / ${figures.apply_to_running_p95_ms}`,
            "–",
          ],
          [
            "apply → boot marker, median / p95 (ms)",
            `${m.median} / ${figures.apply_to_marker_p95_ms}`,
            `${b.median} / ${baseline.apply_to_marker_p95_ms}`,
          ],
          [`${VMS} applied at once → all Running (ms)`, `${burstMs}`, "–"],
          ["operator RSS (MiB)", `${operatorMiB}`, "–"],
          ["launcher (Node.js) RSS, median / max (MiB)", `${l.median} / ${l.max}`, "–"],
          ["QEMU RSS per VM, median (MiB)", `${q.median}`, "–"],
        ],
      ),
    );
    console.log(resultLine("startup", figures, baseline));
  } finally {
    await product.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
