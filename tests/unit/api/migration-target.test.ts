import { describe, expect, it } from "vitest";
import {
  checkMigrationTarget,
  MigrationTargetError,
  migrationUri,
} from "../../../src/api/launcher-migration.js";

const target = "10.0.3.7";
const check = (migrationUri: string, nbd?: { host: string; port: number }) =>
  checkMigrationTarget({ migrationUri, targetIP: target, ...(nbd ? { nbd } : {}) });

describe("checkMigrationTarget: where a source may send its guest", () => {
  it("accepts tcp: to the target pod's IP, and rebuilds the same URI from the parts", () => {
    expect(check("tcp:10.0.3.7:41234")).toEqual({ host: target, port: 41234 });
    expect(migrationUri(check("tcp:10.0.3.7:41234"))).toBe("tcp:10.0.3.7:41234");
    expect(check("tcp:10.0.3.7:1", { host: target, port: 10809 })).toEqual({
      host: target,
      port: 1,
    });
  });

  it("accepts IPv6 pod IPs in brackets, however the address is spelled", () => {
    const t = checkMigrationTarget({
      migrationUri: "tcp:[fd00:0:0:0::12]:5000",
      targetIP: "fd00::12",
    });
    expect(t).toEqual({ host: "fd00:0:0:0::12", port: 5000 });
    expect(migrationUri(t)).toBe("tcp:[fd00:0:0:0::12]:5000");
  });

  it.each([
    ["exec: runs a command", "exec:nc 10.0.3.7 4444"],
    ["exec: hidden behind the IP", "exec:sh -c 'cat /dev/mem' #10.0.3.7"],
    ["unix: reaches a host socket", "unix:/var/run/kubevisor/qmp.sock"],
    ["fd: takes a descriptor", "fd:3"],
    ["file: writes guest memory to disk", "file:/tmp/guest.ram"],
    ["rdma:", "rdma:10.0.3.7:4444"],
    ["another host", "tcp:10.0.3.8:4444"],
    ["a host name", "tcp:evil.example.com:4444"],
    ["loopback", "tcp:127.0.0.1:4444"],
    ["no port", "tcp:10.0.3.7"],
    ["port 0", "tcp:10.0.3.7:0"],
    ["port out of range", "tcp:10.0.3.7:70000"],
    ["options appended", "tcp:10.0.3.7:4444,keep-alive=on"],
    ["a second URI after a newline", "tcp:10.0.3.7:4444\nexec:id"],
    ["leading space", " tcp:10.0.3.7:4444"],
    ["upper case scheme", "TCP:10.0.3.7:4444"],
  ])("refuses %s, naming migrationUri", (_, uri) => {
    expect(() => check(uri)).toThrow(MigrationTargetError);
    expect(() => check(uri)).toThrow(/^migrationUri: /);
  });

  it("refuses an NBD endpoint on any other host, naming nbd.host", () => {
    expect(() => check("tcp:10.0.3.7:4444", { host: "10.0.3.9", port: 10809 })).toThrow(
      /^nbd\.host: /,
    );
    expect(() => check("tcp:10.0.3.7:4444", { host: "localhost", port: 10809 })).toThrow(
      /^nbd\.host: /,
    );
  });

  it("refuses when the target IP itself is not an IP", () => {
    expect(() =>
      checkMigrationTarget({ migrationUri: "tcp:10.0.3.7:1", targetIP: "target-pod" }),
    ).toThrow(/migrationUri/);
  });
});
