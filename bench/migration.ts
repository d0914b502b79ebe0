/**
 * Migration benchmark: a 256 MiB guest moved between the two local nodes through Kubevisor
 * (VirtualMachineMigration created → Succeeded; the status's downtime and total time),
 * beside plain QEMU migrating the same guest between two processes in the same run
 * (bench/vmm.ts's raw-socket helper), and the time `kubectl drain` takes for a node with
 * three VMs. Brings up its own local cluster (control plane, two nodes, the chart).
 *
 *   npm run bench -- migration        (BENCH_MIG_RUNS, default 3)
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import { startProduct } from "../src/local/product.js";
import { createProgress } from "../src/local/progress.js";
import { type Figures, formatTable, resultLine, summarize } from "./lib/report.js";
import { plainMigration } from "./vmm.js";

const RUNS = Number(process.env.BENCH_MIG_RUNS ?? 3);
const NS = "bench-migration";
const run = promisify(execFile);

async function kubectl(args: string[], input?: string): Promise<string> {
  const child = run("kubectl", args, { env: process.env, maxBuffer: 64 << 20 });
  if (input !== undefined) child.child.stdin?.end(input);
  return (await child).stdout;
}

async function json<T>(...args: string[]): Promise<T> {
  return JSON.parse(await kubectl(["get", ...args, "-o", "json"])) as T;
}

async function until<T>(what: string, probe: () => Promise<T | undefined>, ms = 300_000) {
  const deadline = Date.now() + ms;
  while (Date.now() < deadline) {
    const v = await probe().catch(() => undefined);
    if (v !== undefined) return v;
    await sleep(100);
  }
  throw new Error(`timed out waiting for ${what}`);
}

interface Vm {
  status?: { phase?: string; nodeName?: string };
}
interface Migration {
  status?: { phase?: string; downtimeMs?: number; totalTimeMs?: number; message?: string };
}

function vmJson(name: string): string {
  return JSON.stringify({
    apiVersion: "kubevisor.io/v1alpha1",
    kind: "VirtualMachine",
    metadata: { name, namespace: NS },
    spec: {
      memory: { size: "256Mi" },
      terminationGracePeriodSeconds: 10,
      boot: {
        kernel: {
          image: "kubevisor/test-guest:latest",
          kernelPath: "/boot/vmlinux",
          initrdPath: "/boot/initrd.img",
          cmdline: "console=ttyS0 panic=-1 quiet",
        },
      },
    },
  });
}

const running = (name: string) =>
  until(`VM ${name} Running`, async () => {
    const vm = await json<Vm>("vm", name, "-n", NS);
    return vm.status?.phase === "Running" ? vm : undefined;
  });

/** One migration through Kubevisor: created → Succeeded by our clock, plus the status figures. */
async function kubevisorMigration(vm: string, i: number) {
  await running(vm);
  const name = `${vm}-${i}`;
  const t0 = Date.now();
  await kubectl(
    ["apply", "-f", "-"],
    JSON.stringify({
      apiVersion: "kubevisor.io/v1alpha1",
      kind: "VirtualMachineMigration",
      metadata: { name, namespace: NS },
      spec: { vmName: vm },
    }),
  );
  const m = await until(`migration ${name}`, async () => {
    const m = await json<Migration>("virtualmachinemigrations", name, "-n", NS);
    if (m.status?.phase === "Failed") throw new Error(`${name} failed: ${m.status.message}`);
    return m.status?.phase === "Succeeded" ? m : undefined;
  });
  return {
    endToEndMs: Date.now() - t0,
    downtimeMs: m.status?.downtimeMs ?? Number.NaN,
    totalMs: m.status?.totalTimeMs ?? Number.NaN,
  };
}

async function drainThree(from: string, to: string): Promise<number> {
  await kubectl(["cordon", to]);
  const names = ["drain-a", "drain-b", "drain-c"];
  for (const n of names) await kubectl(["apply", "-f", "-"], vmJson(n));
  for (const n of names) await running(n);
  await kubectl(["uncordon", to]);
  const t0 = Date.now();
  await kubectl(["drain", from, "--ignore-daemonsets", "--delete-emptydir-data", "--timeout=600s"]);
  const ms = Date.now() - t0;
  await kubectl(["uncordon", from]);
  return ms;
}

export default async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "kubevisor-bench-migration-"));
  const product = await startProduct({
    name: `bench-mig-${process.pid}`,
    dir,
    progress: createProgress(),
  });
  process.env.KUBECONFIG = product.kubeconfigPath;
  try {
    await kubectl(["create", "namespace", NS]);
    await kubectl(["apply", "-f", "-"], vmJson("mover"));
    const kv = [];
    const plain = [];
    for (let i = 1; i <= RUNS; i++) {
      kv.push(await kubevisorMigration("mover", i));
      plain.push(await plainMigration());
    }
    // The drain below should move exactly its three VMs: mover may sit on the drained node.
    await kubectl(["delete", "vm", "mover", "-n", NS, "--wait=true"]);
    await until("mover's pods gone", async () => {
      const pods = await json<{ items: unknown[] }>(
        "pods",
        "-n",
        NS,
        "-l",
        "kubevisor.io/vm=mover",
      );
      return pods.items.length === 0 ? true : undefined;
    });
    const nodes = (await json<{ items: { metadata: { name: string } }[] }>("nodes")).items
      .map((n) => n.metadata.name)
      .sort();
    const drainMs = await drainThree(nodes[0] ?? "", nodes[1] ?? "");

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
    console.log(
      formatTable(
        [`256 MiB guest, median of ${RUNS}`, "Kubevisor", "plain QEMU"],
        Object.keys(figures).map((k) => [k, String(figures[k]), String(baseline[k])]),
      ),
    );
    console.log(resultLine("migration", figures, baseline));
  } finally {
    await product.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
