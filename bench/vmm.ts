import { setTimeout as sleep } from "node:timers/promises";
import { pathToFileURL } from "node:url";
import type { MachineType } from "../src/vmm/config.js";
import { GUEST_BOOT_MARKER } from "../src/vmm/guest-image.js";
import { acceptMigration, DEFAULT_MAX_BANDWIDTH, migrate } from "../src/vmm/migration.js";
import { guestPauseMs } from "../src/vmm/migration-stats.js";
import { Vm } from "../src/vmm/vm.js";
import {
  BOOT_DEADLINE_MS,
  eventMs,
  guest,
  plainBoot,
  plainStart,
  plainStop,
} from "./lib/plain-qemu.js";
import { type Figures, formatTable, resultLine, summarize } from "./lib/report.js";

const BOOT_RUNS = Number(process.env.BENCH_BOOT_RUNS ?? 5);
const MIG_RUNS = Number(process.env.BENCH_MIG_RUNS ?? 5);
const DOWNTIME_LIMIT_MS = 100;

// ---- measurements ----

type Stalls = { layer: number; plain: number };

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

async function layerMigration(): Promise<MigSample> {
  const source = await Vm.start({
    accel: "tcg",
    config: guest("q35"),
    readiness: { kind: "marker", marker: GUEST_BOOT_MARKER },
    bootTimeoutMs: BOOT_DEADLINE_MS,
  });
  const target = await Vm.startIncoming({ accel: "tcg", config: guest("q35") });
  try {
    await sleep(500); // let the guest settle into its counter loop
    const incoming = await acceptMigration(target, { host: "127.0.0.1", port: 0 });
    const m = migrate(source, { uri: incoming.uri, downtimeLimitMs: DOWNTIME_LIMIT_MS });
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

export async function plainMigration(): Promise<MigSample> {
  const { p: source } = await plainBoot(guest("q35"));
  const target = await plainStart(guest("q35"), true);
  try {
    await sleep(500);
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

  const layerMig: MigSample[] = [];
  const plainMig: MigSample[] = [];
  for (let i = 0; i < MIG_RUNS; i++) {
    layerMig.push(await layerMigration());
    plainMig.push(await plainMigration());
    process.stderr.write(`  migration: ${i + 1}/${MIG_RUNS}\r`);
  }
  process.stderr.write("\n");
  const migFigures: [keyof MigSample, string, string][] = [
    ["totalMs", "migration_total_median_ms", "migration total time (own clock)"],
    ["qemuDowntimeMs", "migration_downtime_median_ms", "migration downtime (QEMU)"],
    ["pauseMs", "migration_pause_median_ms", "guest pause STOP→RESUME"],
  ];
  for (const [field, key, label] of migFigures) {
    const l = summarize(layerMig.map((s) => s[field])).median;
    const b = summarize(plainMig.map((s) => s[field])).median;
    figures[key] = r0(l);
    baseline[key] = r0(b);
    rows.push([`${label}, 256 MiB (n=${MIG_RUNS})`, `${r0(l)}`, `${r0(b)}`, `${r0(l - b)} ms`]);
  }
  figures.boot_stalls = stalls.layer;
  baseline.boot_stalls = stalls.plain;

  console.log(
    formatTable(["ms, TCG, 1 vCPU, 256 MiB", "kubevisor vmm", "plain QEMU", "difference"], rows),
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
