import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, expectTypeOf, it } from "vitest";
import type { GuestAgent } from "../../../src/vmm/agent.js";
import { guestInterfaces, guestOSInfo } from "../../../src/vmm/agent-status.js";
import { prepareUefiVars } from "../../../src/vmm/firmware.js";
import { JsonLineDecoder } from "../../../src/vmm/json-wire.js";
import type { QmpClient, QmpEvent, RunState } from "../../../src/vmm/qmp.js";

/**
 * Compile-time contract of the typed maps: tsc checks this file (tests are in the project),
 * so each `@ts-expect-error` fails the build if the map ever accepts what it must refuse.
 */
function typedCalls(qmp: QmpClient, agent: GuestAgent) {
  expectTypeOf(qmp.execute("query-status")).resolves.toHaveProperty("status");
  expectTypeOf(qmp.execute("query-status")).resolves.toMatchTypeOf<{ status: RunState }>();
  expectTypeOf(qmp.execute("query-block-jobs")).resolves.toBeArray();
  // Optional-only arguments may be left out; required ones may not.
  void qmp.execute("migrate-set-parameters");
  void qmp.execute("quit", undefined, { timeoutMs: 1 });
  // @ts-expect-error: not a command in the map
  void qmp.execute("query-nothing");
  // @ts-expect-error: migrate needs its uri
  void qmp.execute("migrate");
  // @ts-expect-error: wrong argument type
  void qmp.execute("migrate", { uri: 1 });
  // @ts-expect-error: query-status takes no arguments
  void qmp.execute("query-status", { verbose: true });
  void qmp.waitForEvent("MIGRATION", {
    timeoutMs: 1,
    match: (e) => {
      expectTypeOf(e).toEqualTypeOf<QmpEvent<"MIGRATION">>();
      return e.data.status === "completed";
    },
  });
  // @ts-expect-error: not an event in the map
  void qmp.waitForEvent("NO_SUCH_EVENT", { timeoutMs: 1 });
  expectTypeOf(agent.execute("guest-get-host-name")).resolves.toEqualTypeOf<{
    "host-name": string;
  }>();
  // @ts-expect-error: a QMP command is not an agent command
  void agent.execute("query-status");
}

describe("typed command maps", () => {
  it("type-check (see typedCalls; never run)", () => {
    expect(typeof typedCalls).toBe("function");
  });
});

describe("JsonLineDecoder", () => {
  it("drops what precedes the agent's 0xFF sync sentinel and lines that do not parse", () => {
    const d = new JsonLineDecoder();
    const stale = Buffer.from('{"return": {}, "id": "old"'); // torn: no newline yet
    const synced = Buffer.concat([
      Buffer.from([0xff]),
      Buffer.from('{"return": 42}\r\n{"return": {"x": "é"}, "id": "a"}\n'),
    ]);
    expect(d.push(stale)).toEqual([]);
    expect(d.push(synced)).toEqual([{ return: 42 }, { return: { x: "é" }, id: "a" }]);
    expect(d.push("{not json}\n[1]\n")).toEqual([[1]]);
  });
});

describe("agent answers → VM status", () => {
  it("maps Debian's os-release to id, name, version and kernel release", () => {
    expect(
      guestOSInfo({
        name: "Debian GNU/Linux",
        "kernel-release": "6.1.0-28-cloud-amd64",
        version: "12 (bookworm)",
        "pretty-name": "Debian GNU/Linux 12 (bookworm)",
        "version-id": "12",
        "kernel-version": "#1 SMP PREEMPT_DYNAMIC Debian 6.1.119-1",
        machine: "x86_64",
        id: "debian",
      }),
    ).toEqual({
      id: "debian",
      name: "Debian GNU/Linux",
      version: "12",
      kernelRelease: "6.1.0-28-cloud-amd64",
    });
    expect(guestOSInfo({ version: "rolling" })).toEqual({ version: "rolling" });
    expect(guestOSInfo({})).toEqual({});
  });

  it("lists interfaces with MAC and bare addresses, without loopback", () => {
    expect(
      guestInterfaces([
        {
          name: "lo",
          "hardware-address": "00:00:00:00:00:00",
          "ip-addresses": [{ "ip-address-type": "ipv4", "ip-address": "127.0.0.1", prefix: 8 }],
        },
        {
          name: "Loopback Pseudo-Interface 1",
          "ip-addresses": [{ "ip-address-type": "ipv6", "ip-address": "::1", prefix: 128 }],
        },
        {
          name: "eth0",
          "hardware-address": "52:54:00:12:34:56",
          "ip-addresses": [
            { "ip-address-type": "ipv4", "ip-address": "10.0.2.15", prefix: 24 },
            { "ip-address-type": "ipv6", "ip-address": "fe80::5054:ff:fe12:3456", prefix: 64 },
          ],
        },
        { name: "eth1" },
      ]),
    ).toEqual([
      {
        name: "eth0",
        mac: "52:54:00:12:34:56",
        ipAddresses: ["10.0.2.15", "fe80::5054:ff:fe12:3456"],
      },
      { name: "eth1", ipAddresses: [] },
    ]);
  });
});

describe("prepareUefiVars", () => {
  const dirs: string[] = [];
  afterEach(() => {
    for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
  });
  function dir(): string {
    const d = mkdtempSync(join(tmpdir(), "kv-vars-"));
    dirs.push(d);
    return d;
  }

  it("copies the template once and then keeps the VM's own variables", () => {
    const d = dir();
    const template = join(d, "template.fd");
    const vars = join(d, "vm.vars.fd");
    writeFileSync(template, Buffer.alloc(4096, 1));
    expect(prepareUefiVars(template, vars)).toEqual({ created: true });
    expect(readFileSync(vars)).toEqual(readFileSync(template));
    writeFileSync(vars, Buffer.alloc(4096, 7)); // the guest wrote variables
    expect(prepareUefiVars(template, vars)).toEqual({ created: false });
    expect(readFileSync(vars)[0]).toBe(7);
  });

  it("refuses a vars file of another size, and a missing template", () => {
    const d = dir();
    const template = join(d, "template.fd");
    writeFileSync(template, Buffer.alloc(4096));
    writeFileSync(join(d, "small.fd"), Buffer.alloc(10));
    expect(() => prepareUefiVars(template, join(d, "small.fd"))).toThrow(/10 bytes/);
    expect(statSync(join(d, "small.fd")).size).toBe(10);
    expect(() => prepareUefiVars(join(d, "none.fd"), join(d, "v.fd"))).toThrow(/does not exist/);
  });
});
