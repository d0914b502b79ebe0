/**
 * Control-plane benchmark: cold build time of the binaries (from the build record that
 * `npm run kube:build` writes) and warm start/stop time of the local control plane.
 *
 * Warm = binaries cached and the cluster's state (certificates, etcd data) already present:
 * what `kubevisor local up` costs after the first time. Baseline: the same binaries with the
 * same flags, started and probed by a plain bash script with curl (no Node, no pid files, no
 * checks), so the difference is what our orchestration costs.
 *
 *   npx tsx bench/controlplane.ts         (or: npm run bench -- controlplane)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { availableParallelism, loadavg, tmpdir } from "node:os";
import { join } from "node:path";
import { pathToFileURL } from "node:url";
import { $ } from "dax-sh";
import { readBuildRecord } from "../src/local/build/record.js";
import { binaryPath, COMPONENT_NAMES, component } from "../src/local/build/targets.js";
import { startControlPlane, stopControlPlane } from "../src/local/controlplane.js";
import { apiserverUrl, componentArgs, healthUrl, type Ports } from "../src/local/flags.js";
import { type ClusterLayout, type COMPONENTS, clusterLayout } from "../src/local/layout.js";
import { readState } from "../src/local/state.js";

const RUNS = 3;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

const round = (x: number) => Math.round(x * 100) / 100;

async function timed(fn: () => Promise<unknown>): Promise<number> {
  const t = performance.now();
  await fn();
  return (performance.now() - t) / 1000;
}

function binary(c: (typeof COMPONENTS)[number]): string {
  return c === "etcd" ? binaryPath("etcd", "etcd") : binaryPath("kubernetes", c);
}

/**
 * The bare-shell equivalent of startControlPlane: start each binary in the background, poll
 * its readiness endpoint with curl every 100 ms (our poll interval too), same order and same
 * final check (the default service account).
 */
export function shellStartScript(l: ClusterLayout, ports: Ports): string {
  const q = (s: string) => `'${s.replaceAll("'", `'\\''`)}'`;
  const tls = `--cacert ${q(l.pki.caCert)} --cert ${q(l.pki.cert("admin"))} --key ${q(l.pki.key("admin"))}`;
  const start = (c: (typeof COMPONENTS)[number]) =>
    `setsid ${q(binary(c))} ${componentArgs(c, l, ports).map(q).join(" ")} >>${q(l.log(c))} 2>&1 & echo $! >${q(l.pidFile(c))}`;
  const waitOk = (url: string) =>
    `until curl -sf ${tls} -o /dev/null ${q(url)}; do sleep 0.1; done`;
  return [
    "set -e",
    `mkdir -p ${q(join(l.dir, "run"))}`,
    start("etcd"),
    waitOk(healthUrl("etcd", ports)),
    start("kube-apiserver"),
    waitOk(healthUrl("kube-apiserver", ports)),
    start("kube-controller-manager"),
    start("kube-scheduler"),
    waitOk(healthUrl("kube-controller-manager", ports)),
    waitOk(healthUrl("kube-scheduler", ports)),
    waitOk(`${apiserverUrl(ports)}/api/v1/namespaces/default/serviceaccounts/default`),
  ].join("\n");
}

/**
 * Stops what the script started in the order stopControlPlane uses (clients, then etcd: an
 * apiserver whose etcd vanished mid-shutdown can hang), SIGKILL after the same 10 s grace.
 */
export function shellStopScript(l: ClusterLayout): string {
  const pid = (c: (typeof COMPONENTS)[number]) => `$(cat '${l.pidFile(c)}')`;
  const clients = ["kube-scheduler", "kube-controller-manager", "kube-apiserver"] as const;
  // Exited-but-unreaped (zombie) processes count as gone, as in stopGroup: the orphans'
  // reaper here (pid 1) may take its time.
  const alive = `alive() { for x in $p; do s=$(cut -d' ' -f3 /proc/$x/stat 2>/dev/null); [ -n "$s" ] && [ "$s" != Z ] && return 0; done; return 1; }`;
  const stop = (pids: string) =>
    `p="${pids}"; kill -TERM $p; for i in $(seq 200); do alive || break; sleep 0.05; done; kill -KILL $p 2>/dev/null || true`;
  return [alive, stop(clients.map(pid).join(" ")), stop(pid("etcd"))].join("\n");
}

export default async function main(): Promise<void> {
  const record = readBuildRecord();
  const figures: Record<string, number> = {};
  const rows: string[][] = [];
  for (const name of COMPONENT_NAMES) {
    const c = component(name);
    const e = record[c.key];
    if (e) figures[`cold_build_${name}_s`] = e.seconds;
    rows.push([
      `cold build ${c.key}`,
      e ? `${e.seconds} s` : "not recorded",
      e
        ? `${e.binaries.join(", ")}; ${e.nproc ?? "?"} cores; ${e.source}${e.note ? `; ${e.note}` : ""}`
        : "",
    ]);
  }

  const dir = mkdtempSync(join(tmpdir(), "kubevisor-bench-"));
  const l = clusterLayout(dir);
  try {
    // First start creates certificates and the etcd data dir; that is not "warm".
    await startControlPlane({ name: "bench", dir, build: false });
    await stopControlPlane({ dir });
    const ports = readState(l.stateFile)?.ports as Ports;

    const starts: number[] = [];
    const stops: number[] = [];
    const shellStarts: number[] = [];
    const shellStops: number[] = [];
    // Interleaved, so load from anything else on the machine hits both sides alike.
    for (let i = 0; i < RUNS; i++) {
      starts.push(await timed(() => startControlPlane({ name: "bench", dir, build: false })));
      stops.push(await timed(() => stopControlPlane({ dir })));
      shellStarts.push(
        await timed(async () => await $`bash -c ${shellStartScript(l, ports)}`.quiet()),
      );
      shellStops.push(await timed(async () => await $`bash -c ${shellStopScript(l)}`.quiet()));
    }

    figures.warm_start_s = round(median(starts));
    figures.warm_stop_s = round(median(stops));
    const baseline = {
      warm_start_s: round(median(shellStarts)),
      warm_stop_s: round(median(shellStops)),
    };
    const fmt = (xs: number[]) => xs.map((x) => x.toFixed(2)).join(", ");
    rows.push(
      ["warm start (kubevisor)", `${figures.warm_start_s} s`, `median of ${fmt(starts)}`],
      ["warm start (bare shell)", `${baseline.warm_start_s} s`, `median of ${fmt(shellStarts)}`],
      ["stop (kubevisor)", `${figures.warm_stop_s} s`, `median of ${fmt(stops)}`],
      ["stop (bare shell)", `${baseline.warm_stop_s} s`, `median of ${fmt(shellStops)}`],
      [
        "load average",
        loadavg()
          .map((x) => x.toFixed(1))
          .join(" "),
        `${availableParallelism()} cores`,
      ],
    );

    const w0 = Math.max(...rows.map((r) => (r[0] as string).length));
    const w1 = Math.max(...rows.map((r) => (r[1] as string).length));
    for (const [a, b, c] of rows) {
      console.log(`${(a as string).padEnd(w0)}  ${(b as string).padStart(w1)}  ${c}`);
    }
    console.log(JSON.stringify({ bench: "controlplane", figures, baseline }));
  } finally {
    // Whatever an aborted run left, by pid file or /proc scan.
    await stopControlPlane({ dir });
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.env.KUBEVISOR_LOG_LEVEL ??= "warn";
  await main();
}
