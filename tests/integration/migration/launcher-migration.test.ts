import { afterEach, beforeAll, describe, expect, it } from "vitest";
import { LAUNCHER_PROBE_PORT, parseTerminationMessage } from "../../../src/api/launcher.js";
import { MIGRATION_PATH } from "../../../src/api/launcher-migration.js";
import { parsePromText, select } from "../../lib/prom-text.js";
import {
  type ConsoleClient,
  LauncherProcess,
  type Pki,
  qemuGone,
  testGuestSpec,
  testPki,
} from "../launcher/harness.js";
import {
  beginMigration,
  call,
  counts,
  launcherPhase,
  migrationState,
  migrationTls,
  startTarget,
  until,
} from "./launchers.js";

/**
 * Two real launcher processes on their own loopback addresses, as two pods on two nodes:
 * the operator's part (listen, send, poll, cancel) is played by the test over mutual TLS.
 */
let pki: Pki;
beforeAll(async () => {
  pki = await testPki();
});

const started: LauncherProcess[] = [];
const consoles: ConsoleClient[] = [];
afterEach(async () => {
  for (const c of consoles.splice(0)) c.close();
  await Promise.all(started.splice(0).map((l) => l.cleanup()));
});

async function scrapeMetrics(l: LauncherProcess) {
  const res = await fetch(`http://${l.ip}:${LAUNCHER_PROBE_PORT}/metrics`);
  return parsePromText(await res.text());
}

async function launch(name: string, spec: unknown): Promise<LauncherProcess> {
  const l = await LauncherProcess.start(pki, name, spec);
  started.push(l);
  await l.waitReady();
  return l;
}

async function target(source: LauncherProcess, spec: unknown, env?: Record<string, string>) {
  const t = await startTarget(pki, source, spec, env ? { env } : {});
  started.push(t);
  return t;
}

async function console(l: LauncherProcess): Promise<ConsoleClient> {
  const c = await l.console();
  consoles.push(c);
  return c;
}

describe("live migration between two launchers", () => {
  it("moves the guest with its local disk: the counter continues, the source exits Migrated", async () => {
    const spec = testGuestSpec({ disks: [{ name: "scratch", emptyDisk: { size: "32Mi" } }] });
    const source = await launch("mig-move", spec);
    const sourceConsole = await console(source);
    await sourceConsole.waitFor(/kubevisor-counter \d+/);
    // Something only the source's disk holds, to find again on the target.
    sourceConsole.type(
      "echo payload-$((6*7)) | dd of=/dev/vda bs=512 seek=100 conv=fsync 2>/dev/null; echo written-$((2+3))",
    );
    await sourceConsole.waitFor(/written-5/);

    const dest = await target(source, spec);
    expect((await migrationState(dest)).phase).toBe("None");
    const answer = await beginMigration(source, dest, { downtimeLimitMs: 100 });
    expect(answer.diskIndexes).toEqual([0]);
    expect(answer.migrationUri).toContain(dest.ip);

    // Asking again (an operator restarted mid-way, with fresh certificates) changes nothing.
    const again = await call(source, "POST", MIGRATION_PATH, {
      ...answer,
      targetIP: dest.ip,
      tls: (await migrationTls(pki)).source,
    });
    expect(again.status).toBe(202);

    const done = await until("the source to finish", async () => {
      const s = await migrationState(source);
      return s.phase === "Migrating" ? undefined : s;
    });
    expect(done).toMatchObject({ role: "source", phase: "Succeeded", qemuStatus: "completed" });
    expect(done.dataProcessedBytes).toBeGreaterThan(0);
    expect(done.totalTimeMs).toBeGreaterThan(0);
    await dest.waitReady(10_000);
    expect(await migrationState(dest)).toMatchObject({ role: "target", phase: "Succeeded" });
    expect(await launcherPhase(dest)).toBe("Running");

    const exit = await source.exited;
    expect(exit.code).toBe(0);
    expect(parseTerminationMessage(source.terminationMessage())?.reason).toBe("Migrated");
    const sourcePid = source.qemuPid();
    if (sourcePid) expect(await qemuGone(sourcePid)).toBe(true);

    // No reboot: the counter continues on the target from where the source left off.
    const destConsole = await console(dest);
    await destConsole.waitFor(/kubevisor-counter \d+/);
    const before = counts(sourceConsole);
    const after = counts(destConsole);
    const last = before.at(-1);
    const first = after[0];
    expect(last && first).toBeTruthy();
    expect(first?.n).toBe((last?.n ?? 0) + 1);
    expect(first?.uptime).toBeGreaterThanOrEqual(last?.uptime ?? 0);
    expect(destConsole.received).not.toContain("KUBEVISOR-GUEST-BOOTED");

    // The disk came along.
    destConsole.type("dd if=/dev/vda bs=512 skip=100 count=1 2>/dev/null | head -1");
    await destConsole.waitFor(/^payload-42/m);
  });

  it.each([
    ["without disks", undefined],
    ["with an empty disk", [{ name: "scratch", emptyDisk: { size: "32Mi" } }]],
  ])("sends a guest that arrived by migration on to a third launcher (%s)", async (_, disks) => {
    const spec = testGuestSpec(disks ? { disks } : {});
    const a = await launch("mig-hops", spec);
    const aConsole = await console(a);
    await aConsole.waitFor(/kubevisor-counter \d+/);
    if (disks) {
      aConsole.type(
        "echo hop-$((6*7)) | dd of=/dev/vda bs=512 seek=7 conv=fsync 2>/dev/null; echo wrote-$((2+3))",
      );
      await aConsole.waitFor(/wrote-5/);
    }
    const b = await target(a, spec);
    await beginMigration(a, b, { downtimeLimitMs: 100 });
    // Onward as soon as B says the guest arrived, as an operator would: A may still be up.
    await until("the guest to arrive on B", async () =>
      (await migrationState(b)).phase === "Succeeded" ? true : undefined,
    );
    // The operator reads A's final figures; A may go.
    await until("A's final figures", async () =>
      (await migrationState(a)).phase === "Succeeded" ? true : undefined,
    );

    // B started as a target; once the guest runs there it is a source like any other.
    const c = await target(b, spec);
    await beginMigration(b, c, { downtimeLimitMs: 100 });
    const done = await until("B to finish", async () => {
      const s = await migrationState(b);
      return s.phase === "Migrating" ? undefined : s;
    });
    expect(done).toMatchObject({ role: "source", phase: "Succeeded" });
    await c.waitReady(10_000);
    expect(await launcherPhase(c)).toBe("Running");
    expect((await a.exited).code).toBe(0);
    expect((await b.exited).code).toBe(0);
    expect(parseTerminationMessage(b.terminationMessage())?.reason).toBe("Migrated");

    const cConsole = await console(c);
    await cConsole.waitFor(/kubevisor-counter \d+/);
    expect(cConsole.received).not.toContain("KUBEVISOR-GUEST-BOOTED");
    expect(counts(cConsole)[0]?.n).toBeGreaterThan(counts(aConsole).at(-1)?.n ?? 0);
    if (disks) {
      // Copied twice: A's write reached C through B's disk.
      cConsole.type("dd if=/dev/vda bs=512 skip=7 count=1 2>/dev/null | head -1");
      await cConsole.waitFor(/^hop-42/m);
    }
  });

  it("cancels on request: the source keeps running, the target gives up", async () => {
    const spec = testGuestSpec();
    const source = await launch("mig-cancel", spec);
    const dest = await target(source, spec);
    // 1 MiB/s: far too slow to finish before the cancel.
    await beginMigration(source, dest, { bandwidthBytesPerSec: 1 << 20 });
    await until("bytes to flow", async () => {
      const s = await migrationState(source);
      return (s.dataProcessedBytes ?? 0) > 0 ? s : undefined;
    });
    expect(await launcherPhase(source)).toBe("Migrating");
    // The source's /metrics shows the transfer and dirty-page rates while it sends.
    const during = await until("migration rates on /metrics", async () => {
      const samples = await scrapeMetrics(source);
      const rate = select(samples, "kubevisor_vmi_migration_memory_transfer_rate_bytes")[0];
      return rate && rate.value > 0 ? samples : undefined;
    });
    expect(
      select(during, "kubevisor_vmi_migration_memory_transfer_rate_bytes")[0]?.labels,
    ).toMatchObject({ namespace: "tests", name: "mig-cancel" });
    expect(select(during, "kubevisor_vmi_migration_dirty_memory_rate_bytes")).toHaveLength(1);
    const cancelled = await call(source, "DELETE", MIGRATION_PATH);
    expect(cancelled.json).toMatchObject({ phase: "Cancelled" });
    expect(
      select(await scrapeMetrics(source), "kubevisor_vmi_migration_memory_transfer_rate_bytes"),
    ).toEqual([]);

    expect(await launcherPhase(source)).toBe("Running");
    expect((await source.get("/readyz")).status).toBe(200);
    const sourceConsole = await console(source);
    const seen = counts(sourceConsole).length;
    await until("the counter to go on", async () =>
      counts(sourceConsole).length > seen + 2 ? true : undefined,
    );
    const exit = await dest.exited;
    expect(exit.code).toBe(1);
    expect(parseTerminationMessage(dest.terminationMessage())?.reason).toBe("MigrationFailed");
  });

  it("survives the target dying mid-way: the migration fails and the source runs on", async () => {
    const spec = testGuestSpec();
    const source = await launch("mig-kill", spec);
    const dest = await target(source, spec);
    await beginMigration(source, dest, { bandwidthBytesPerSec: 1 << 20 });
    await until("bytes to flow", async () => {
      const s = await migrationState(source);
      return (s.dataProcessedBytes ?? 0) > 0 ? s : undefined;
    });
    dest.signal("SIGKILL");
    const failed = await until("the source to notice", async () => {
      const s = await migrationState(source);
      return s.phase === "Migrating" ? undefined : s;
    });
    expect(failed.phase).toBe("Failed");
    expect(await launcherPhase(source)).toBe("Running");
    expect((await source.get("/readyz")).status).toBe(200);
    const sourceConsole = await console(source);
    await sourceConsole.waitFor(/kubevisor-counter \d+/);
  });

  it("a target nobody migrates to exits MigrationFailed after its wait", async () => {
    const spec = testGuestSpec();
    const dest = await LauncherProcess.start(pki, "mig-noshow", spec, {
      env: { KUBEVISOR_MIGRATION_WAIT_SECONDS: "2" },
      specFiles: { "migration-target": "true" },
    });
    started.push(dest);
    expect((await fetch(`http://${dest.ip}:8444/readyz`).catch(() => null))?.status).not.toBe(200);
    const exit = await dest.exited;
    expect(exit.code).toBe(1);
    expect(parseTerminationMessage(dest.terminationMessage())).toMatchObject({
      reason: "MigrationFailed",
    });
  });
});
