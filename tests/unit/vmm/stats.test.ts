import { describe, expect, it } from "vitest";
import {
  blocksByNode,
  interfaceCounters,
  MAX_ENTRIES,
  migrationRates,
  parseProcStat,
  parseVmRss,
  type StatsSource,
  sampleQemu,
} from "../../../src/vmm/index.js";

const stat = (comm: string, utime: number, stime: number) =>
  `4242 (${comm}) S 1 4242 4242 0 -1 4194560 100 0 0 0 ${utime} ${stime} 0 0 20 0 3 0 123 456 789`;

describe("/proc parsing", () => {
  it("reads utime and stime in seconds (USER_HZ 100)", () => {
    expect(parseProcStat(stat("qemu-system-x86", 250, 50))).toEqual({
      userSeconds: 2.5,
      systemSeconds: 0.5,
    });
  });

  it("is not fooled by a process name with spaces and parentheses", () => {
    // A guest cannot name QEMU's threads, but a thread name is free text all the same.
    expect(parseProcStat(stat("CPU 0/TCG) 9 9 (x", 100, 0))).toEqual({
      userSeconds: 1,
      systemSeconds: 0,
    });
  });

  it("refuses what it cannot read instead of reporting garbage", () => {
    expect(() => parseProcStat("garbage")).toThrow(/unreadable/);
  });

  it("reads VmRSS in bytes", () => {
    expect(parseVmRss("Name:\tqemu\nVmRSS:\t  123456 kB\nThreads:\t5\n")).toBe(123456 * 1024);
    expect(() => parseVmRss("Name: x\n")).toThrow(/VmRSS/);
  });
});

const blockStats = (n: number) => ({
  rd_bytes: n,
  wr_bytes: 2 * n,
  rd_operations: 1,
  wr_operations: 2,
  flush_operations: 3,
  rd_total_time_ns: 1e9,
  wr_total_time_ns: 2e9,
  flush_total_time_ns: 0,
});

describe("query-blockstats", () => {
  it("names each backend by its node, or by the device id QEMU reports", () => {
    expect(
      blocksByNode([
        {
          device: "",
          "node-name": "disk0",
          qdev: "/machine/peripheral/disk0-dev/virtio-backend",
          stats: blockStats(1),
        },
        { device: "", qdev: "/machine/peripheral/disk1-dev/virtio-backend", stats: blockStats(2) },
        { device: "", stats: blockStats(3) },
      ]),
    ).toEqual([
      { node: "disk0", stats: blockStats(1) },
      { node: "disk1", stats: blockStats(2) },
    ]);
  });

  it("keeps at most MAX_ENTRIES of a flood", () => {
    const flood = Array.from({ length: 10_000 }, (_, i) => ({
      "node-name": `n${i}`,
      stats: blockStats(i),
    }));
    expect(blocksByNode(flood)).toHaveLength(MAX_ENTRIES);
  });
});

describe("query-migrate rates", () => {
  it("converts QEMU's megabits and dirty pages to bytes per second while a migration moves", () => {
    expect(
      migrationRates({
        status: "active",
        ram: {
          transferred: 1,
          remaining: 1,
          total: 2,
          mbps: 800,
          "dirty-pages-rate": 100,
          "page-size": 4096,
        },
      }),
    ).toEqual({ status: "active", transferRate: 100e6, dirtyRate: 409600 });
  });

  it("says nothing when no migration moves", () => {
    expect(migrationRates({ status: "none" })).toBeUndefined();
    expect(
      migrationRates({
        status: "completed",
        ram: { transferred: 1, remaining: 0, total: 1, mbps: 5 },
      }),
    ).toBeUndefined();
    expect(migrationRates({})).toBeUndefined();
  });
});

describe("guest agent NIC counters", () => {
  it("maps the agent's statistics, leaving out loopback and NICs without counters", () => {
    const statistics = {
      "rx-bytes": 10,
      "rx-packets": 1,
      "rx-errs": 0,
      "rx-dropped": 0,
      "tx-bytes": 20,
      "tx-packets": 2,
      "tx-errs": 0,
      "tx-dropped": 1,
    };
    expect(
      interfaceCounters([
        { name: "lo", statistics },
        { name: "eth0", statistics },
        { name: "eth1" },
      ]),
    ).toEqual([
      {
        name: "eth0",
        rxBytes: 10,
        txBytes: 20,
        rxPackets: 1,
        txPackets: 2,
        rxErrors: 0,
        txErrors: 0,
        rxDropped: 0,
        txDropped: 1,
      },
    ]);
  });
});

describe("sampleQemu", () => {
  const source = (overrides: Partial<StatsSource["query"]> = {}): StatsSource => ({
    pid: 4242,
    readProc: async (path) => {
      if (path === "/proc/4242/stat") return stat("qemu", 300, 100);
      if (path === "/proc/4242/status") return "VmRSS:\t1024 kB\n";
      if (path === "/proc/4242/task/4243/stat") return stat("CPU 0/TCG", 200, 0);
      throw new Error(`ENOENT ${path}`);
    },
    query: {
      blockstats: async () => [{ "node-name": "disk0", stats: blockStats(512) }],
      cpus: async () => [
        { "cpu-index": 0, "thread-id": 4243 },
        { "cpu-index": 1, "thread-id": 4244 },
      ],
      memory: async () => ({ "base-memory": 256 * 2 ** 20 }),
      migration: async () => ({ status: "none" }),
      ...overrides,
    },
  });

  it("gathers every part", async () => {
    const s = await sampleQemu(
      source({ cpus: async () => [{ "cpu-index": 0, "thread-id": 4243 }] }),
      1000,
    );
    expect(s).toEqual({
      errors: [],
      cpu: { userSeconds: 3, systemSeconds: 1 },
      rssBytes: 1024 * 1024,
      guestMemoryBytes: 256 * 2 ** 20,
      blocks: [{ node: "disk0", stats: blockStats(512) }],
      vcpus: [{ index: 0, seconds: 2 }],
    });
  });

  it("a part that fails is absent and named; the others still arrive", async () => {
    const s = await sampleQemu(
      source({
        blockstats: async (t) => {
          throw new Error(`QMP query-blockstats: no reply within ${t} ms`);
        },
      }),
      1000,
    );
    expect(s.blocks).toBeUndefined();
    expect(s.cpu).toBeDefined();
    // vCPU 1's thread vanished between the QMP answer and the read.
    expect(s.errors).toEqual(
      expect.arrayContaining([
        "blockstats: QMP query-blockstats: no reply within 1000 ms",
        expect.stringMatching(/^vcpus: ENOENT/),
      ]),
    );
  });
});
