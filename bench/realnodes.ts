/**
 * Real nodes (`--runtime containerd`) against the stand-in (`--runtime local`): time from a
 * fresh cluster directory to two Ready nodes (control plane included; binaries cached), and
 * the time `down` takes (for real nodes: processes, namespace, cgroups, host settings).
 * Baseline: the stand-in measured in the same run. Also prints the recorded build times of
 * the real-node binaries (~/.cache/kubevisor/build-record.json).
 *
 *   npm run bench -- realnodes        (needs root)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { readBuildRecord } from "../src/local/build/record.js";
import { component, REAL_NODE_COMPONENTS } from "../src/local/build/targets.js";
import { startRealCluster } from "../src/local/containerd/cluster.js";
import { startControlPlane } from "../src/local/controlplane.js";
import { startLocalNodes, stopLocalNodes } from "../src/local/node/lifecycle.js";

const round = (x: number) => Math.round(x * 100) / 100;
const now = () => performance.now() / 1000;

async function real(): Promise<{ upToReadyS: number; downS: number }> {
  const dir = mkdtempSync(join(tmpdir(), "kv-bench-rn-"));
  try {
    const t0 = now();
    const c = await startRealCluster({ name: "bench-rn", dir });
    const up = now() - t0;
    const t1 = now();
    await c.stop();
    return { upToReadyS: round(up), downS: round(now() - t1) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function standIn(): Promise<{ upToReadyS: number; downS: number }> {
  const dir = mkdtempSync(join(tmpdir(), "kv-bench-si-"));
  try {
    const t0 = now();
    const cp = await startControlPlane({ name: "bench-si", dir });
    await startLocalNodes({ clusterDir: dir });
    const up = now() - t0;
    const t1 = now();
    await stopLocalNodes({ clusterDir: dir });
    await cp.stop();
    return { upToReadyS: round(up), downS: round(now() - t1) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

export default async function main(): Promise<void> {
  const load = loadavg()[0] ?? 0;
  const r = await real();
  const s = await standIn();
  const record = readBuildRecord();
  const builds = Object.fromEntries(
    REAL_NODE_COMPONENTS.map((n) => [`build_${n}_s`, record[component(n).key]?.seconds ?? null]),
  );
  console.log(`load average at start: ${load.toFixed(1)}`);
  console.log("                          real nodes   stand-in");
  console.log(`up → 2 nodes Ready (s)    ${String(r.upToReadyS).padEnd(12)} ${s.upToReadyS}`);
  console.log(`down (s)                  ${String(r.downS).padEnd(12)} ${s.downS}`);
  for (const [k, v] of Object.entries(builds)) console.log(`${k.padEnd(26)}${v ?? "not built"}`);
  console.log(
    JSON.stringify({
      bench: "realnodes",
      figures: { ...r, ...builds },
      baseline: { upToReadyS: s.upToReadyS, downS: s.downS },
    }),
  );
}
