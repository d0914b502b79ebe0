/**
 * Migration benchmark: a 256 MiB guest moved between the two local nodes through Kubevisor
 * (VirtualMachineMigration created → Succeeded; the status's downtime and total time; the
 * channel is mutual TLS), beside plain QEMU migrating the same guest between two processes
 * in the same run with the same QEMU TLS (like for like) and in plaintext (what a migration
 * cost before the channel was encrypted), and the time `kubectl drain` takes for a node with
 * three VMs. Brings up its own local cluster (control plane, two nodes, the chart).
 *
 *   npm run bench -- migration [--runtime local|containerd]        (BENCH_MIG_RUNS, default 3)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startProduct } from "../src/local/product.js";
import { createProgress } from "../src/local/progress.js";
import { getJson, kc, vmManifest, waitFor, waitForVmPhase } from "../tests/e2e/lib.js";
import { applyJson, getMigration, migrationManifest, nodes } from "../tests/e2e/migration-lib.js";
import { type Figures, formatTable, resultLine, summarize } from "./lib/report.js";
import { benchRuntime } from "./lib/runtime.js";
import { benchTls, plainMigration, retried } from "./vmm.js";

const RUNS = Number(process.env.BENCH_MIG_RUNS ?? 3);
const NS = "bench-migration";
/** The bench guest boots the PVH vmlinux, like bench/vmm.ts's, so both boot alike. */
const vmJson = (name: string) =>
  vmManifest(NS, name, {
    boot: {
      kernel: {
        image: "kubevisor/test-guest:0.1.0",
        kernelPath: "/boot/vmlinux",
        initrdPath: "/boot/initrd.img",
        cmdline: "console=ttyS0 panic=-1 quiet",
      },
    },
  });

const running = (name: string) => waitForVmPhase(NS, name, "Running", 300_000);

/** One migration through Kubevisor: created → Succeeded by our clock, plus the status figures. */
async function kubevisorMigration(vm: string, i: number) {
  await running(vm);
  const name = `${vm}-${i}`;
  const t0 = Date.now();
  await applyJson(migrationManifest(NS, name, vm));
  // Polled every 100 ms: the poll interval bounds how exactly created → Succeeded is timed.
  const m = await waitFor(
    `migration ${name} to end`,
    async () => {
      const m = await getMigration(NS, name);
      return m.status?.phase === "Succeeded" || m.status?.phase === "Failed" ? m : undefined;
    },
    300_000,
    100,
  );
  if (m.status?.phase === "Failed") throw new Error(`${name} failed: ${m.status.message}`);
  return {
    endToEndMs: Date.now() - t0,
    downtimeMs: m.status?.downtimeMs ?? Number.NaN,
    totalMs: m.status?.totalTimeMs ?? Number.NaN,
  };
}

async function drainThree(from: string, to: string): Promise<number> {
  await kc("cordon", to);
  const names = ["drain-a", "drain-b", "drain-c"];
  for (const n of names) await applyJson(vmJson(n));
  for (const n of names) await running(n);
  await kc("uncordon", to);
  const t0 = Date.now();
  await kc("drain", from, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=600s");
  const ms = Date.now() - t0;
  await kc("uncordon", from);
  return ms;
}

export default async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "kubevisor-bench-migration-"));
  const runtime = benchRuntime();
  const product = await startProduct({
    name: `bench-mig-${process.pid}`,
    runtime,
    dir,
    progress: createProgress(),
  });
  process.env.KUBECONFIG = product.kubeconfigPath;
  try {
    await kc("create", "namespace", NS);
    await applyJson(vmJson("mover"));
    const kv = [];
    const plain = [];
    const plaintext = [];
    const stalls = { layer: 0, plain: 0 };
    for (let i = 1; i <= RUNS; i++) {
      kv.push(await kubevisorMigration("mover", i));
      plain.push(await retried(stalls, "plain", async () => plainMigration(await benchTls())));
      plaintext.push(await retried(stalls, "plain", () => plainMigration()));
    }
    // The drain below should move exactly its three VMs: mover may sit on the drained node.
    await kc("delete", "vm", "mover", "-n", NS, "--wait=true");
    await waitFor(
      "mover's pods gone",
      async () => {
        const pods = await getJson<{ items: unknown[] }>(
          "pods",
          "-n",
          NS,
          "-l",
          "kubevisor.io/vm=mover",
        );
        return pods.items.length === 0 ? true : undefined;
      },
      300_000,
    );
    const [from = "", to = ""] = await nodes();
    const drainMs = await drainThree(from, to);

    const med = (xs: number[]) => Math.round(summarize(xs).median);
    const figures: Figures = {
      downtime_ms: med(kv.map((s) => s.downtimeMs)),
      total_ms: med(kv.map((s) => s.totalMs)),
      created_to_succeeded_ms: med(kv.map((s) => s.endToEndMs)),
      drain_3vms_ms: drainMs,
    };
    const baseline: Figures = {
      downtime_ms: med(plain.map((s) => s.pauseMs)),
      total_ms: med(plain.map((s) => s.totalMs)),
      // Plain QEMU has nothing around the migration: its whole time is the migration.
      created_to_succeeded_ms: med(plain.map((s) => s.totalMs)),
      // Three plain migrations one after another.
      drain_3vms_ms: med(plain.map((s) => s.totalMs)) * 3,
    };
    const plaintextFigures: Figures = {
      downtime_ms: med(plaintext.map((s) => s.pauseMs)),
      total_ms: med(plaintext.map((s) => s.totalMs)),
      created_to_succeeded_ms: med(plaintext.map((s) => s.totalMs)),
      drain_3vms_ms: med(plaintext.map((s) => s.totalMs)) * 3,
    };
    console.log(
      formatTable(
        [
          `256 MiB guest, median of ${RUNS}, ${runtime} nodes`,
          "Kubevisor (TLS)",
          "plain QEMU (TLS)",
          "plain QEMU (no TLS)",
        ],
        Object.keys(figures).map((k) => [
          k,
          String(figures[k]),
          String(baseline[k]),
          String(plaintextFigures[k]),
        ]),
      ),
    );
    // Ours against the plaintext baseline, under their own keys: what TLS costs overall.
    for (const k of ["downtime_ms", "total_ms"]) {
      figures[`${k.replace("_ms", "")}_vs_plaintext_ms`] = figures[k] ?? Number.NaN;
      baseline[`${k.replace("_ms", "")}_vs_plaintext_ms`] = plaintextFigures[k] ?? Number.NaN;
    }
    console.log(resultLine("migration", figures, baseline));
  } finally {
    await product.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
