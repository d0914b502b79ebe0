import { mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, describe, expect, it } from "vitest";
import { issueMigrationTls } from "../../../src/operator/migration/tls.js";
import { createCA } from "../../../src/util/pki.js";
import type { Accelerator, GuestConfig } from "../../../src/vmm/config.js";
import { acceptMigration, migrate } from "../../../src/vmm/migration.js";
import { guestPauseMs, type MigrationProgress } from "../../../src/vmm/migration-stats.js";
import { Vm } from "../../../src/vmm/vm.js";
import {
  acceleratorsUnderTest,
  bootTestGuest,
  CounterLog,
  freePort,
  testGuest,
  track,
} from "./helpers.js";

const accels = await acceleratorsUnderTest();
/**
 * Slack on top of the measured pause: the guest's uptime has 10 ms resolution, its output
 * crosses two sockets, and the target's TCG translates the guest's code afresh on resume.
 */
const STALL_SLACK_MS = 150;

const scratch = mkdtempSync(join(tmpdir(), "kv-vmm-mig-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

/** Start a target identical to the source except where it listens on the host. */
function startTarget(accel: Accelerator, config: GuestConfig): Promise<Vm> {
  return Vm.startIncoming({ accel, config, bootTimeoutMs: 30_000, exitOnReboot: true }).then(track);
}

describe.each(accels)("live migration under %s", (accel) => {
  it("moves a running guest: the counter continues with no reboot and no gap beyond the pause", async () => {
    const sourcePort = await freePort("127.0.0.1");
    const targetPort = await freePort("127.0.0.2");
    const forward = (hostAddress: string, hostPort: number): GuestConfig =>
      testGuest({
        name: "mig-ram",
        network: { ports: [{ protocol: "tcp", hostAddress, hostPort, guestPort: 80 }] },
      });
    const source = await bootTestGuest(accel, { config: forward("127.0.0.1", sourcePort) });
    const counter = new CounterLog();
    counter.listen(source, true);
    await counter.waitForMore(5);

    const target = await startTarget(accel, forward("127.0.0.2", targetPort));
    counter.listen(target);
    const incoming = await acceptMigration(target, { host: "127.0.0.1", port: 0 });
    const migration = migrate(source, { uri: incoming.uri, downtimeLimitMs: 100 });
    const samples: MigrationProgress[] = [];
    for await (const p of migration.progress) samples.push(p);
    const outcome = await migration.outcome;
    const arrived = await incoming.outcome;

    expect(outcome.status).toBe("completed");
    expect(arrived.status).toBe("completed");
    expect(samples.at(-1)?.status).toBe("completed");
    expect(samples.at(-1)?.transferredBytes).toBeGreaterThan(0);
    expect(await source.runState()).toBe("postmigrate");
    expect(await target.runState()).toBe("running");

    const migratedAt = Date.now();
    await counter.waitForMore(10);
    const pauseMs = guestPauseMs(outcome.sourceStoppedAtMs ?? 0, arrived.resumedAtMs ?? 0);
    const maxGap = counter.maxGapMs();
    const stall = counter.maxStallMs();
    console.log(
      `[vmm tests] ${accel} migration 256 MiB: total ${outcome.totalMs.toFixed(0)} ms (QEMU ${outcome.final.qemuTotalTimeMs} ms), ` +
        `QEMU downtime ${outcome.final.qemuDowntimeMs} ms, STOP→RESUME ${pauseMs.toFixed(0)} ms, ` +
        `largest counter gap ${maxGap} ms of which the guest did not run ${stall.toFixed(0)} ms`,
    );
    // No reboot and nothing lost: every number once, in order, and guest uptime never reset.
    expect(counter.breaks()).toEqual([]);
    const uptimes = counter.samples.map((s) => s.uptime);
    expect(uptimes).toEqual([...uptimes].sort((a, b) => a - b));
    expect(counter.samples.some((s) => s.atMs > migratedAt)).toBe(true);
    expect(stall).toBeLessThanOrEqual(pauseMs + STALL_SLACK_MS);

    // The target forwards the declared port from its own address.
    const page = await fetch(`http://127.0.0.2:${targetPort}/`).then((r) => r.text());
    expect(page).toBe("kubevisor-guest\n");
    await source.quit();
  });

  it("copies a writable local disk to the target before switching over", async () => {
    const srcDisk = join(scratch, "src.img");
    const dstDisk = join(scratch, "dst.img");
    for (const f of [srcDisk, dstDisk]) {
      writeFileSync(f, "");
      truncateSync(f, 64 << 20); // the target gets an empty disk of the same size
    }
    const withDisk = (path: string) =>
      testGuest({
        name: "mig-disk",
        disks: [{ name: "data", path, format: "raw", readOnly: false }],
      });
    const source = await bootTestGuest(accel, { config: withDisk(srcDisk) });
    const written = source.console.waitFor("wrote-2", { timeoutMs: 10_000 });
    source.console.write(
      "echo disk-payload-$((6*7)) | dd of=/dev/vda bs=512 seek=1000 conv=fsync 2>/dev/null; echo wrote-$((1+1))\n",
    );
    await written;

    const target = await startTarget(accel, withDisk(dstDisk));
    const nbd = { host: "127.0.0.1", port: await freePort("127.0.0.1") };
    const incoming = await acceptMigration(target, {
      host: "127.0.0.1",
      port: 0,
      receiveDisks: { indexes: [0], nbd },
    });
    const migration = migrate(source, { uri: incoming.uri, sendDisks: { indexes: [0], nbd } });
    const outcome = await migration.outcome;
    expect(outcome).toMatchObject({ status: "completed" });
    const arrived = await incoming.outcome;
    expect(arrived, JSON.stringify(arrived)).toMatchObject({ status: "completed" });
    console.log(`[vmm tests] ${accel} disk mirror 64 MiB: ${outcome.diskCopyMs} ms before RAM`);

    // The bytes are in the target's file, not merely in the guest's migrated page cache.
    const block = readFileSync(dstDisk)
      .subarray(1000 * 512, 1000 * 512 + 16)
      .toString();
    expect(block).toBe("disk-payload-42\n");
    // And the guest on the target keeps using the disk.
    const reread = target.console.waitFor("after-9", { timeoutMs: 10_000 });
    target.console.write(
      "echo after-$((4+5)) | dd of=/dev/vda bs=512 seek=2000 conv=fsync 2>/dev/null\n",
    );
    await sleep(500);
    target.console.write("dd if=/dev/vda bs=512 skip=2000 count=1 2>/dev/null | head -1\n");
    await reread;
    await source.quit();
  });

  it("moves RAM and a local disk over mutual TLS; another migration's source is refused", async () => {
    const ca = await createCA("kubevisor-ca");
    const tls = await issueMigrationTls(ca, "vmm-mig-1", 600_000);
    const other = await issueMigrationTls(ca, "vmm-mig-2", 600_000);
    const disk = (name: string) => {
      const path = join(scratch, name);
      writeFileSync(path, "");
      truncateSync(path, 32 << 20);
      return path;
    };
    const withDisk = (path: string) =>
      testGuest({
        name: "mig-tls",
        disks: [{ name: "data", path, format: "raw", readOnly: false }],
      });
    const [srcDisk, dstDisk, intruderDisk] = [disk("tls-src"), disk("tls-dst"), disk("tls-x")];
    const source = await bootTestGuest(accel, { config: withDisk(srcDisk) });
    const written = source.console.waitFor("wrote-3", { timeoutMs: 10_000 });
    source.console.write(
      "echo tls-payload-$((6*7)) | dd of=/dev/vda bs=512 seek=300 conv=fsync 2>/dev/null; echo wrote-$((1+2))\n",
    );
    await written;
    const target = await startTarget(accel, withDisk(dstDisk));
    const nbd = { host: "127.0.0.1", port: await freePort("127.0.0.1") };
    const incoming = await acceptMigration(target, {
      host: "127.0.0.1",
      port: 0,
      receiveDisks: { indexes: [0], nbd },
      tls: tls.target,
    });

    // A real QEMU holding a valid certificate for another migration, from the same CA.
    const intruder = await bootTestGuest(accel, { config: withDisk(intruderDisk) });
    const refused = await migrate(intruder, {
      uri: incoming.uri,
      sendDisks: { indexes: [0], nbd },
      tls: other.source,
      timeoutMs: 30_000,
    }).outcome;
    expect(refused.status).toBe("failed");
    // The RAM stream alone, too.
    const refusedRam = await migrate(intruder, {
      uri: incoming.uri,
      tls: other.source,
      timeoutMs: 30_000,
    }).outcome;
    expect(refusedRam.status).toBe("failed");
    // Its guest stays where it was; the target still waits for the right source.
    expect(await intruder.runState()).toBe("running");
    expect(target.hasExited).toBe(false);

    const outcome = await migrate(source, {
      uri: incoming.uri,
      sendDisks: { indexes: [0], nbd },
      tls: tls.source,
    }).outcome;
    expect(outcome, JSON.stringify(outcome)).toMatchObject({ status: "completed" });
    expect(await incoming.outcome).toMatchObject({ status: "completed" });
    const block = readFileSync(dstDisk)
      .subarray(300 * 512, 300 * 512 + 15)
      .toString();
    expect(block).toBe("tls-payload-42\n");
    expect(await target.runState()).toBe("running");
    console.log(
      `[vmm tests] ${accel} TLS migration with a 32 MiB disk: mirror ${outcome.diskCopyMs} ms, ` +
        `RAM ${outcome.totalMs.toFixed(0)} ms, QEMU downtime ${outcome.final.qemuDowntimeMs} ms`,
    );
    await source.quit();
  });

  it("cancels a migration: the source keeps running and the target reports failure", async () => {
    const source = await bootTestGuest(accel, { config: testGuest({ name: "mig-cancel" }) });
    const counter = new CounterLog();
    counter.listen(source);
    const target = await startTarget(accel, testGuest({ name: "mig-cancel" }));
    const incoming = await acceptMigration(target, { host: "127.0.0.1", port: 0 });
    // 1 MiB/s: far too slow to finish before we cancel.
    const migration = migrate(source, { uri: incoming.uri, maxBandwidth: 1 << 20 });
    for await (const p of migration.progress) {
      if (p.status === "active" && (p.transferredBytes ?? 0) > 0) break;
    }
    await migration.cancel();
    expect(await migration.outcome).toMatchObject({ status: "cancelled" });
    expect((await incoming.outcome).status).toBe("failed");
    expect(await source.runState()).toBe("running");
    await counter.waitForMore(3);
    expect(counter.breaks()).toEqual([]);
  });
});
