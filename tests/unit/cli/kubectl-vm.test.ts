import { describe, expect, it } from "vitest";
import { duration, parseCommand, UsageError } from "../../../src/cli/vm/args.js";
import { exitCodeFor } from "../../../src/cli/vm/kube.js";
import { formatBytes, renderMigration } from "../../../src/cli/vm/progress.js";
import { remember, unseen } from "../../../src/cli/vm/replay.js";
import { describeVm } from "../../../src/cli/vm/status.js";

describe("kubectl vm arguments", () => {
  it("parses each command with its flags", () => {
    expect(parseCommand(["console", "demo", "-n", "ns", "--wait"])).toEqual({
      command: "console",
      name: "demo",
      namespace: "ns",
      wait: true,
      watch: false,
      lingerMs: 2000,
      timeoutMs: 300_000,
    });
    expect(parseCommand(["-n", "ns", "console", "demo"])).toMatchObject({
      command: "console",
      name: "demo",
      namespace: "ns",
    });
    expect(
      parseCommand(["migrate", "demo", "--wait", "--bandwidth", "1Gi", "--timeout", "90s"]),
    ).toEqual({
      command: "migrate",
      name: "demo",
      wait: true,
      bandwidth: "1Gi",
      timeoutMs: 90_000,
    });
    expect(parseCommand(["stop", "demo", "--kubeconfig", "/k"])).toEqual({
      command: "stop",
      name: "demo",
      kubeconfig: "/k",
      wait: false,
      timeoutMs: 300_000,
    });
  });

  it("answers --help for the tool and each command", () => {
    expect(parseCommand([])).toMatchObject({
      command: "help",
      text: expect.stringMatching(/^Usage: kubectl vm COMMAND/),
    });
    expect(parseCommand(["console", "--help"])).toMatchObject({
      text: expect.stringMatching(/Ctrl-\]/),
    });
  });

  it("refuses bad usage", () => {
    expect(() => parseCommand(["reboot", "demo"])).toThrow(UsageError);
    expect(() => parseCommand(["stop"])).toThrow(/exactly one VM name/);
    expect(() => parseCommand(["status", "demo", "--wait"])).toThrow(
      /--wait is not a flag of status/,
    );
    expect(() => parseCommand(["console", "demo", "--bogus"])).toThrow(UsageError);
    expect(() => duration("--linger", "soon")).toThrow(/not a duration/);
    expect(duration("--linger", "500ms")).toBe(500);
  });

  it("maps refusals to exit codes", () => {
    expect([404, 401, 403, 409, 500].map(exitCodeFor)).toEqual([3, 4, 4, 1, 1]);
  });
});

describe("migration progress", () => {
  it("shows bytes transferred and remaining while copying", () => {
    const line = renderMigration(
      "demo-x",
      {
        phase: "Running",
        progress: {
          dataTotalBytes: 400 * 2 ** 20,
          dataProcessedBytes: 100 * 2 ** 20,
          dataRemainingBytes: 300 * 2 ** 20,
        },
      },
      { barWidth: 10 },
    );
    expect(line).toBe("[==>       ]  25%  100.0 MiB transferred, 300.0 MiB remaining");
  });

  it("ends with downtime and total time, or the reason", () => {
    expect(
      renderMigration("m", {
        phase: "Succeeded",
        downtimeMs: 42,
        totalTimeMs: 3400,
        targetNode: "n2",
      }),
    ).toBe("migration m Succeeded: downtime 42 ms, total 3.4 s, now on n2");
    expect(renderMigration("m", { phase: "Failed", reason: "Timeout", message: "too slow" })).toBe(
      "migration m Failed: Timeout: too slow",
    );
    expect(renderMigration("m", { phase: "Scheduling", sourceNode: "a", targetNode: "b" })).toBe(
      "migration m: Scheduling (a → b)",
    );
    expect(formatBytes(1023)).toBe("1023 B");
  });
});

describe("console replay after a reconnect", () => {
  const b = (s: string) => Buffer.from(s);
  it("prints only what the user has not seen", () => {
    expect(unseen(b("tick 1\ntick 2\n"), b("tick 1\ntick 2\ntick 3\n")).toString()).toBe(
      "tick 3\n",
    );
    expect(unseen(b("boot\ntick 1\ntick 2"), b("ick 2\ntick 3")).toString()).toBe("\ntick 3");
    // A new launcher (after a migration) replays output the user never saw.
    expect(unseen(b("tick 1\n"), b("tick 9\n")).toString()).toBe("tick 9\n");
    expect(unseen(Buffer.alloc(0), b("x")).toString()).toBe("x");
  });

  it("remembers a bounded tail", () => {
    expect(remember(Buffer.alloc(4000), Buffer.alloc(200)).length).toBe(4096);
  });
});

describe("status", () => {
  it("describes a VM", () => {
    const lines = describeVm({
      metadata: { name: "demo", namespace: "default" },
      spec: { runStrategy: "Always" },
      status: {
        phase: "Running",
        nodeName: "n1",
        ipAddress: "127.1.0.2",
        acceleration: "TCG",
        conditions: [{ type: "Ready", status: "True" }],
      },
    });
    expect(lines).toContain("Phase:     Running");
    expect(lines).toContain("Condition: Ready=True");
  });
});
