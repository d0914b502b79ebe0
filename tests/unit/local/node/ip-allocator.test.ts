import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { IpAllocator, nthPodIp } from "../../../../src/local/node/ip-allocator.js";

describe("nthPodIp", () => {
  it("walks 127.1.0.0/16 upwards, skipping .0 and .255 and never touching 127.0.0.0/16", () => {
    expect([0, 1, 253, 254].map(nthPodIp)).toEqual([
      "127.1.0.1",
      "127.1.0.2",
      "127.1.0.254",
      "127.1.1.1",
    ]);
    expect(nthPodIp(254 * 256)).toBe("127.2.0.1");
  });
});

describe("IpAllocator", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  const owner = (podUid: string, node = "n1") => ({ cluster: "c", node, podUid });

  it("never hands one address to two pods, across allocators sharing the directory", () => {
    const dir = mkdtempSync(join(tmpdir(), "ips-"));
    dirs.push(dir);
    const a = new IpAllocator(dir);
    const b = new IpAllocator(dir);
    const ips = [a.allocate(owner("p1")), b.allocate(owner("p2", "n2")), a.allocate(owner("p3"))];
    expect(new Set(ips).size).toBe(3);
    expect(a.allocate(owner("p1"))).toBe(ips[0]);
  });

  it("releases an address only for the pod holding it", () => {
    const dir = mkdtempSync(join(tmpdir(), "ips-"));
    dirs.push(dir);
    const a = new IpAllocator(dir);
    const ip = a.allocate(owner("p1"));
    a.release(ip, "someone-else");
    expect(a.owned(() => true).map((h) => h.ip)).toEqual([ip]);
    a.release(ip, "p1");
    expect(a.owned(() => true)).toEqual([]);
    expect(a.allocate(owner("p2"))).toBe(ip);
  });
});
