import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import { issueMigrationTls } from "../src/operator/migration/tls.js";
import { createCA, type PemPair } from "../src/util/pki.js";
import type { MachineType } from "../src/vmm/config.js";
import { GUEST_BOOT_MARKER } from "../src/vmm/guest-image.js";
import { acceptMigration, DEFAULT_MAX_BANDWIDTH, migrate } from "../src/vmm/migration.js";
import { guestPauseMs } from "../src/vmm/migration-stats.js";
import type { SourceTls, TargetTls } from "../src/vmm/migration-tls.js";
import { Vm } from "../src/vmm/vm.js";
import {
  BOOT_DEADLINE_MS,
  eventMs,
  guest,
  plainBoot,
  plainStart,
  plainStop,
  plainTls,
} from "./lib/plain-qemu.js";
import { type Figures, formatTable, resultLine, summarize } from "./lib/report.js";

const BOOT_RUNS = Number(process.env.BENCH_BOOT_RUNS ?? 5);
const MIG_RUNS = Number(process.env.BENCH_MIG_RUNS ?? 5);
const DOWNTIME_LIMIT_MS = 100;

// ---- measurements ----

export type Stalls = { layer: number; plain: number };

async function bootRuns(machine: MachineType, stalls: Stalls) {
  const layer: number[] = [];
  const plain: number[] = [];
  // Interleaved, so load from anything else on the machine hits both alike.
  while (layer.length < BOOT_RUNS || plain.length < BOOT_RUNS) {
    if (layer.length < BOOT_RUNS) {
      try {
        const vm = await Vm.start({
          accel: "tcg",
          config: guest(machine),
          readiness: { kind: "marker", marker: GUEST_BOOT_MARKER },
          bootTimeoutMs: BOOT_DEADLINE_MS,
          exitOnReboot: true,
        });
        layer.push(vm.bootMs ?? Number.NaN);
        await vm.kill();
      } catch {
        stalls.layer++;
      }
    }
    if (plain.length < BOOT_RUNS) {
      try {
        const { ms, p } = await plainBoot(guest(machine));
        plain.push(ms);
        plainStop(p);
      } catch {
        stalls.plain++;
      }
    }
    process.stderr.write(
      `  ${machine} boot: ${layer.length}/${BOOT_RUNS} layer, ${plain.length}/${BOOT_RUNS} plain\r`,
    );
  }
  process.stderr.write("\n");
  return { layer, plain };
}

export interface MigSample {
  totalMs: number;
  qemuDowntimeMs: number;
  pauseMs: number;
}

/** One migration's certificates, as the operator issues them. */
export interface MigTls {
  target: TargetTls;
  source: SourceTls;
}

let issued = 0;
let benchCA: Promise<PemPair> | undefined;
export async function benchTls(): Promise<MigTls> {
  benchCA ??= createCA("kubevisor-bench-ca");
  return issueMigrationTls(await benchCA, `bench-${process.pid}-${++issued}`, 600_000);
}

async function layerMigration(tls: MigTls): Promise<MigSample> {
  const source = await Vm.start({
    accel: "tcg",
    config: guest("q35"),
    readiness: { kind: "marker", marker: GUEST_BOOT_MARKER },
    bootTimeoutMs: BOOT_DEADLINE_MS,
  });
  const target = await Vm.startIncoming({ accel: "tcg", config: guest("q35") });
  try {
    await sleep(500); // let the guest settle into its counter loop
    const incoming = await acceptMigration(target, {
      host: "127.0.0.1",
      port: 0,
      tls: tls.target,
    });
    const m = migrate(source, {
      uri: incoming.uri,
      downtimeLimitMs: DOWNTIME_LIMIT_MS,
      tls: tls.source,
    });
    const out = await m.outcome;
    const arrived = await incoming.outcome;
    if (out.status !== "completed") throw new Error(`layer migration ${out.status}: ${out.error}`);
    return {
      totalMs: out.totalMs,
      qemuDowntimeMs: out.final.qemuDowntimeMs ?? Number.NaN,
      pauseMs: guestPauseMs(out.sourceStoppedAtMs ?? 0, arrived.resumedAtMs ?? 0),
    };
  } finally {
    await Promise.all([source.kill(), target.kill()]);
  }
}

/** Plain QEMU, with QEMU's own TLS when `tls` is given (the like-for-like baseline). */
export async function plainMigration(tls?: MigTls): Promise<MigSample> {
  const { p: source } = await plainBoot(guest("q35"));
  const target = await plainStart(guest("q35"), true);
  try {
    await sleep(500);
    if (tls) {
      await plainTls(target, { endpoint: "server", material: tls.target });
      await plainTls(source, { endpoint: "client", material: tls.source });
    }
    await target.qmp.cmd("migrate-set-capabilities", {
      capabilities: [{ capability: "events", state: true }],
    });
    await target.qmp.cmd("migrate-incoming", { uri: "tcp:127.0.0.1:0" });
    const info = (await target.qmp.cmd("query-migrate")).return as {
      "socket-address": { host: string; port: string }[];
    };
    const addr = info["socket-address"][0];
    await source.qmp.cmd("migrate-set-capabilities", {
      capabilities: [{ capability: "events", state: true }],
    });
    await source.qmp.cmd("migrate-set-parameters", {
      "max-bandwidth": DEFAULT_MAX_BANDWIDTH,
      "downtime-limit": DOWNTIME_LIMIT_MS,
    });
    const t0 = Date.now();
    await source.qmp.cmd("migrate", { uri: `tcp:${addr?.host}:${addr?.port}` });
    const done = await source.qmp.event("MIGRATION", (d) => d.status === "completed");
    const resumed = await target.qmp.event("RESUME");
    const stopped = await source.qmp.event("STOP");
    const q = (await source.qmp.cmd("query-migrate")).return as { downtime?: number };
    return {
      totalMs: eventMs(done) - t0,
      qemuDowntimeMs: q.downtime ?? Number.NaN,
      pauseMs: eventMs(resumed) - eventMs(stopped),
    };
  } finally {
    plainStop(source);
    plainStop(target);
  }
}

const r0 = (x: number) => Math.round(x);

/** A boot that stalls past its deadline (TCG on a loaded host) is counted and tried again. */
export async function retried<T>(
  stalls: Stalls,
  side: keyof Stalls,
  run: () => Promise<T>,
  attempts = 3,
): Promise<T> {
  for (let i = 1; ; i++) {
    try {
      return await run();
    } catch (err) {
      stalls[side]++;
      if (i >= attempts) throw err;
    }
  }
}

export default async function main(): Promise<void> {
  const figures: Figures = {};
  const baseline: Figures = {};
  const rows: string[][] = [];
  const stalls: Stalls = { layer: 0, plain: 0 };

  for (const machine of ["q35", "microvm"] as const) {
    const { layer, plain } = await bootRuns(machine, stalls);
    const l = summarize(layer);
    const b = summarize(plain);
    for (const k of ["median", "min", "max"] as const) {
      figures[`boot_${machine}_${k}_ms`] = r0(l[k]);
      baseline[`boot_${machine}_${k}_ms`] = r0(b[k]);
    }
    rows.push([
      `boot to marker, ${machine} (n=${BOOT_RUNS})`,
      `${r0(l.median)} (${r0(l.min)}–${r0(l.max)})`,
      `${r0(b.median)} (${r0(b.min)}–${r0(b.max)})`,
      `${((l.median / b.median - 1) * 100).toFixed(1)}%`,
    ]);
  }

  // Interleaved: the layer (always TLS now), plain QEMU with the same TLS, and plain QEMU
  // in plaintext, which is what migrations cost before the channel was encrypted.
  const layerMig: MigSample[] = [];
  const plainMig: MigSample[] = [];
  const plaintextMig: MigSample[] = [];
  for (let i = 0; i < MIG_RUNS; i++) {
    layerMig.push(await retried(stalls, "layer", async () => layerMigration(await benchTls())));
    plainMig.push(await retried(stalls, "plain", async () => plainMigration(await benchTls())));
    plaintextMig.push(await retried(stalls, "plain", () => plainMigration()));
    process.stderr.write(`  migration: ${i + 1}/${MIG_RUNS}\r`);
  }
  process.stderr.write("\n");
  const migFigures: [keyof MigSample, string, string][] = [
    ["totalMs", "migration_total_median_ms", "migration total time (own clock)"],
    ["qemuDowntimeMs", "migration_downtime_median_ms", "migration downtime (QEMU)"],
    ["pauseMs", "migration_pause_median_ms", "guest pause STOP→RESUME"],
  ];
  const migRows: string[][] = [];
  for (const [field, key, label] of migFigures) {
    const l = summarize(layerMig.map((s) => s[field])).median;
    const b = summarize(plainMig.map((s) => s[field])).median;
    const p = summarize(plaintextMig.map((s) => s[field])).median;
    figures[key] = r0(l);
    baseline[key] = r0(b);
    // Same figure of ours against the plaintext baseline: what TLS costs end to end.
    const vsPlaintext = key.replace("_median_ms", "_vs_plaintext_median_ms");
    figures[vsPlaintext] = r0(l);
    baseline[vsPlaintext] = r0(p);
    migRows.push([
      `${label}, 256 MiB (n=${MIG_RUNS})`,
      `${r0(l)}`,
      `${r0(b)}`,
      `${r0(p)}`,
      `${r0(l - b)} ms`,
      `${r0(l - p)} ms`,
    ]);
  }
  figures.boot_stalls = stalls.layer;
  baseline.boot_stalls = stalls.plain;

  console.log(
    formatTable(["ms, TCG, 1 vCPU, 256 MiB", "kubevisor vmm", "plain QEMU", "difference"], rows),
  );
  console.log();
  console.log(
    formatTable(
      [
        "ms, TCG, 1 vCPU, 256 MiB",
        "kubevisor vmm (TLS)",
        "plain QEMU (TLS)",
        "plain QEMU (no TLS)",
        "vs plain TLS",
        "vs no TLS",
      ],
      migRows,
    ),
  );
  console.log(
    `boot stalls past the ${BOOT_DEADLINE_MS} ms deadline (retried): layer ${stalls.layer}, plain ${stalls.plain}`,
  );
  console.log(resultLine("vmm", figures, baseline));
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? "").href) {
  process.env.KUBEVISOR_LOG_LEVEL ??= "warn";
  await main();
}
