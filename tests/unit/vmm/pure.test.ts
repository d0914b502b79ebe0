import { describe, expect, it } from "vitest";
import {
  AccelError,
  decideAccel,
  type KvmProbeResult,
  probeIsFresh,
} from "../../../src/vmm/accel.js";
import { Channel } from "../../../src/vmm/channel.js";
import {
  guestPauseMs,
  isTerminal,
  listeningUri,
  progressFromQuery,
  shouldStartPostcopy,
} from "../../../src/vmm/migration-stats.js";
import { JsonLineDecoder } from "../../../src/vmm/qmp.js";
import { ByteRing } from "../../../src/vmm/ring.js";

describe("ByteRing", () => {
  it("keeps everything below capacity, in order", () => {
    const r = new ByteRing(8);
    r.push(Buffer.from("abc"));
    r.push(Buffer.from("de"));
    expect(r.contents().toString()).toBe("abcde");
  });

  it("keeps only the most recent bytes across wrap-around", () => {
    const r = new ByteRing(8);
    r.push(Buffer.from("abcdef"));
    r.push(Buffer.from("ghij"));
    expect(r.contents().toString()).toBe("cdefghij");
    r.push(Buffer.from("k"));
    expect(r.contents().toString()).toBe("defghijk");
    expect(r.size).toBe(8);
  });

  it("keeps the tail of a chunk larger than the ring", () => {
    const r = new ByteRing(4);
    r.push(Buffer.from("x"));
    r.push(Buffer.from("0123456789"));
    expect(r.contents().toString()).toBe("6789");
  });
});

describe("JsonLineDecoder", () => {
  it("splits QMP's CRLF-terminated messages across arbitrary chunk boundaries", () => {
    const d = new JsonLineDecoder();
    expect(d.push('{"return": {}, "id"')).toEqual([]);
    expect(d.push(': "kv-1"}\r\n{"event": "STOP", ')).toEqual([{ return: {}, id: "kv-1" }]);
    expect(d.push('"data": {}}\r\n\r\n')).toEqual([{ event: "STOP", data: {} }]);
  });
});

describe("Channel", () => {
  it("delivers items pushed before and after iteration starts, then ends on close", async () => {
    const c = new Channel<number>();
    c.push(1);
    const seen: number[] = [];
    const consumer = (async () => {
      for await (const n of c) seen.push(n);
    })();
    c.push(2);
    await Promise.resolve();
    c.push(3);
    c.close();
    await consumer;
    expect(seen).toEqual([1, 2, 3]);
  });
});

describe("migration statistics", () => {
  it("maps query-migrate to progress, keeping QEMU's figures beside our clock", () => {
    const p = progressFromQuery(
      {
        status: "completed",
        "total-time": 0, // QEMU 7.2 does report 0 on fast migrations
        downtime: 4,
        "setup-time": 1,
        ram: { transferred: 10, remaining: 0, total: 256, "dirty-sync-count": 3, mbps: 2000 },
      },
      312,
    );
    expect(p).toEqual({
      status: "completed",
      elapsedMs: 312,
      totalBytes: 256,
      transferredBytes: 10,
      remainingBytes: 0,
      dirtySyncCount: 3,
      mbps: 2000,
      qemuTotalTimeMs: 0,
      qemuDowntimeMs: 4,
      setupTimeMs: 1,
    });
    expect(progressFromQuery({}, 0)).toEqual({ status: "none", elapsedMs: 0 });
  });

  it("knows the terminal states", () => {
    expect(["completed", "failed", "cancelled"].every(isTerminal)).toBe(true);
    expect(["setup", "active", "pre-switchover", "postcopy-active"].some(isTerminal)).toBe(false);
  });

  it("reads the port QEMU picked for an incoming migration", () => {
    expect(
      listeningUri({ "socket-address": [{ type: "inet", host: "127.0.0.3", port: "40123" }] }),
    ).toBe("tcp:127.0.0.3:40123");
    expect(listeningUri({})).toBeUndefined();
    // An IPv6 pod IP: brackets, or the source's URI check (and QEMU) misread the port.
    expect(
      listeningUri({ "socket-address": [{ type: "inet", host: "fd00::5", port: "40123" }] }),
    ).toBe("tcp:[fd00::5]:40123");
  });

  it("switches to post-copy only after the first full pass", () => {
    expect(shouldStartPostcopy({ status: "active", elapsedMs: 1, dirtySyncCount: 1 })).toBe(false);
    expect(shouldStartPostcopy({ status: "active", elapsedMs: 1, dirtySyncCount: 2 })).toBe(true);
    expect(shouldStartPostcopy({ status: "device", elapsedMs: 1, dirtySyncCount: 5 })).toBe(false);
  });

  it("measures the guest pause from source STOP to target RESUME", () => {
    expect(guestPauseMs(1000, 1130)).toBe(130);
    expect(guestPauseMs(1000, 990)).toBe(0);
  });
});

describe("accelerator decision", () => {
  const ok = { ok: true, reason: "/dev/kvm is accessible" };
  const missing = { ok: false, reason: "/dev/kvm: ENOENT" };
  const probe = (usable: boolean): KvmProbeResult => ({
    usable,
    reason: usable ? "booted" : "test guest did not boot within 5000 ms",
    bootMs: usable ? 420 : undefined,
    probedAtMs: 0,
    hostKey: "h",
  });

  it("Emulation is always TCG", () => {
    expect(decideAccel("Emulation", ok, probe(true)).accel).toBe("tcg");
  });

  it("Auto falls back to TCG with the reason, and uses KVM only when the probe booted", () => {
    expect(decideAccel("Auto", missing, undefined)).toEqual({
      accel: "tcg",
      reason: "KVM unavailable (/dev/kvm: ENOENT)",
    });
    expect(decideAccel("Auto", ok, probe(false)).reason).toBe(
      "KVM present but unusable (test guest did not boot within 5000 ms)",
    );
    expect(decideAccel("Auto", ok, probe(true)).accel).toBe("kvm");
  });

  it("KVM is KVM or a clear failure", () => {
    expect(decideAccel("KVM", ok, probe(true)).accel).toBe("kvm");
    expect(() => decideAccel("KVM", missing, undefined)).toThrow(AccelError);
    expect(() => decideAccel("KVM", ok, probe(false))).toThrow(/cannot run guests here/);
  });

  it("reuses a probe only for the same host within its TTL", () => {
    const p = { ...probe(false), probedAtMs: 1000, hostKey: "a" };
    expect(probeIsFresh(p, "a", 1500, 1000)).toBe(true);
    expect(probeIsFresh(p, "a", 2500, 1000)).toBe(false);
    expect(probeIsFresh(p, "b", 1500, 1000)).toBe(false);
    expect(probeIsFresh(undefined, "a", 0, 1000)).toBe(false);
  });
});
