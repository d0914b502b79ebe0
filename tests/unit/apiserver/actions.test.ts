import { describe, expect, it } from "vitest";
import { planMigration, planStateChange, type VmView } from "../../../src/apiserver/actions.js";
import { ConsoleSessions, consoleMode, truncateReason } from "../../../src/apiserver/console.js";

const vm = (runStrategy: VmView["spec"]["runStrategy"], phase = "Running"): VmView => ({
  metadata: { name: "demo", namespace: "default" },
  spec: { runStrategy },
  status: { phase },
});
const now = new Date("2030-01-02T03:04:05Z");
const user = { name: "alice", groups: [], extra: {} };

describe("start/stop/restart plans", () => {
  it("stops and starts Always VMs through spec.runStrategy", () => {
    expect(planStateChange(vm("Always"), "stop", now)).toMatchObject({
      kind: "patchVm",
      patch: { spec: { runStrategy: "Halted" } },
    });
    expect(planStateChange(vm("Halted", "Stopped"), "start", now)).toMatchObject({
      patch: { spec: { runStrategy: "Always" } },
    });
  });

  it("says so when there is nothing to do", () => {
    expect(planStateChange(vm("Always"), "start", now)).toMatchObject({
      kind: "answer",
      status: { code: 200 },
    });
    expect(planStateChange(vm("Halted", "Stopped"), "stop", now)).toMatchObject({ kind: "answer" });
  });

  it("uses the one-shot annotation for Manual and Once VMs", () => {
    expect(planStateChange(vm("Manual"), "start", now)).toMatchObject({
      patch: { metadata: { annotations: { "kubevisor.io/state-request": "start" } } },
    });
    expect(planStateChange(vm("Once"), "stop", now)).toMatchObject({
      patch: { metadata: { annotations: { "kubevisor.io/state-request": "stop" } } },
    });
  });

  it("asks for a restart with a fresh timestamp, only when running", () => {
    expect(planStateChange(vm("Always"), "restart", now)).toMatchObject({
      patch: {
        metadata: { annotations: { "kubevisor.io/restart-requested": "2030-01-02T03:04:05.000Z" } },
      },
    });
    expect(planStateChange(vm("Halted", "Stopped"), "restart", now)).toMatchObject({
      status: { code: 409 },
    });
  });
});

describe("migrate plan", () => {
  it("creates a migration for the VM, recording who asked", () => {
    expect(planMigration(vm("Always"), { bandwidth: "1Gi" }, user)).toMatchObject({
      kind: "createMigration",
      body: {
        kind: "VirtualMachineMigration",
        metadata: { generateName: "demo-", annotations: { "kubevisor.io/requested-by": "alice" } },
        spec: { vmName: "demo", bandwidth: "1Gi" },
      },
    });
  });

  it("refuses when not running, already migrating, or with bad options", () => {
    expect(planMigration(vm("Halted", "Stopped"), undefined, user)).toMatchObject({
      status: { code: 409 },
    });
    const migrating = {
      ...vm("Always"),
      status: { phase: "Running", migration: { name: "m1", phase: "Running" } },
    };
    expect(planMigration(migrating, undefined, user)).toMatchObject({
      status: { code: 409, message: expect.stringMatching(/m1/) },
    });
    expect(planMigration(vm("Always"), { completionTimeoutPerGiB: -1 }, user)).toMatchObject({
      status: { code: 400 },
    });
  });
});

describe("console sessions", () => {
  it("reads the mode from the query", () => {
    expect(consoleMode("/x/console?mode=watch")).toBe("watch");
    expect(consoleMode("/x/console")).toBe("interactive");
  });

  it("lets a new interactive session take over and tells the old one why", () => {
    const closed: [number, string][] = [];
    const ws = (id: number) =>
      ({ id, close: (c: number, r: string) => closed.push([c, r]) }) as never;
    const sessions = new ConsoleSessions();
    const first = ws(1);
    const second = ws(2);
    sessions.claim("default/demo", first, user);
    sessions.claim("default/demo", second, { ...user, name: "bob" });
    expect(closed).toEqual([[4001, "another interactive console session (user bob) took over"]]);
    sessions.release("default/demo", first);
    expect(sessions.size).toBe(1);
    sessions.release("default/demo", second);
    expect(sessions.size).toBe(0);
  });

  it("keeps close reasons within 123 bytes", () => {
    expect(Buffer.byteLength(truncateReason("é".repeat(100)))).toBeLessThanOrEqual(123);
  });
});
