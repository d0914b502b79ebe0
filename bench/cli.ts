/**
 * `npm run bench -- cli`: how fast `kubectl vm` answers. Median of 10 (BENCH_CLI_RUNS) wall
 * times of `--help`, a usage error and `status NAME` against a real control plane (the VM
 * object only: no operator needed to read it), for the tsc build (`dist/cli/kubectl-vm.js`,
 * what `npm link`/`npx` run) and the single-file plugin (`dist/plugin/kubectl-vm`, what krew
 * installs); baseline: `node -e 0` in the same run, the floor any Node.js CLI pays.
 * Needs `npm run build` first.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { KubeClient, paths } from "../src/kube/client.js";
import { startControlPlane } from "../src/local/controlplane.js";
import { applyCrds, packagedCrdsDir } from "../src/local/crds.js";
import { createProgress } from "../src/local/progress.js";
import { formatTable, resultLine, summarize } from "./lib/report.js";

const RUNS = Number(process.env.BENCH_CLI_RUNS ?? 10);
const REPO = join(import.meta.dirname, "..");
const TSC = join(REPO, "dist/cli/kubectl-vm.js");
const PLUGIN = join(REPO, "dist/plugin/kubectl-vm");

function timeMs(args: string[], env: NodeJS.ProcessEnv = process.env): number {
  const t0 = performance.now();
  const r = spawnSync(process.execPath, args, { env, stdio: "ignore" });
  const ms = performance.now() - t0;
  if (r.error) throw r.error;
  return ms;
}

function median(f: () => number): number {
  f(); // warm the page cache once
  return Math.round(summarize(Array.from({ length: RUNS }, f)).median * 10) / 10;
}

export default async function bench(): Promise<void> {
  for (const f of [TSC, PLUGIN])
    if (!existsSync(f)) throw new Error(`${f} is missing: run npm run build first`);
  const dir = mkdtempSync(join(tmpdir(), "kv-bench-cli-"));
  const cp = await startControlPlane({
    name: `bench-cli-${process.pid}`,
    dir,
    progress: createProgress(),
  });
  try {
    await applyCrds(cp.kubeconfigPath, packagedCrdsDir());
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    const client = new KubeClient(kc);
    await client.create(paths.custom("kubevisor.io", "v1alpha1", "virtualmachines", "default"), {
      apiVersion: "kubevisor.io/v1alpha1",
      kind: "VirtualMachine",
      metadata: { name: "demo" },
      spec: { memory: { size: "256Mi" }, runStrategy: "Halted", boot: { kernel: { image: "x" } } },
    });
    client.close();
    const env = { ...process.env, KUBECONFIG: cp.kubeconfigPath };
    const figures: Record<string, number> = {};
    const rows: string[][] = [];
    for (const [label, file] of [
      ["tsc build", TSC],
      ["single file", PLUGIN],
    ] as const) {
      const key = label === "tsc build" ? "tsc" : "bundle";
      figures[`${key}_help_ms`] = median(() => timeMs([file, "--help"], env));
      figures[`${key}_usage_error_ms`] = median(() => timeMs([file, "reboot", "x"], env));
      figures[`${key}_status_ms`] = median(() => timeMs([file, "status", "demo"], env));
      rows.push([
        label,
        String(figures[`${key}_help_ms`]),
        String(figures[`${key}_usage_error_ms`]),
        String(figures[`${key}_status_ms`]),
      ]);
    }
    const node0 = median(() => timeMs(["-e", "0"]));
    rows.push(["node -e 0", String(node0), String(node0), String(node0)]);
    console.log(`kubectl vm start-up, median of ${RUNS} (ms)\n`);
    console.log(formatTable(["", "--help", "usage error", "status"], rows));
    const baseline = Object.fromEntries(Object.keys(figures).map((k) => [k, node0]));
    console.log(resultLine("cli", figures, baseline));
  } finally {
    await cp.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
