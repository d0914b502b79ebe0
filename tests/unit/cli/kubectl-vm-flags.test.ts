import { mkdtempSync, writeFileSync } from "node:fs";
import type { RequestOptions } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { parseCommand, usage } from "../../../src/cli/vm/args.js";
import { complete, completionOutput, connectionWords } from "../../../src/cli/vm/complete.js";
import { loadKubeConfig } from "../../../src/cli/vm/kube.js";
import { age, vmTable } from "../../../src/cli/vm/output.js";
import { renderMigration, transferRate } from "../../../src/cli/vm/progress.js";
import { actionProgress } from "../../../src/cli/vm/wait.js";

describe("flags as kubectl takes them", () => {
  it("reads flags before, between and after the command", () => {
    for (const argv of [
      ["-n", "ns", "--as", "bob", "status", "demo", "-o", "json"],
      ["status", "-n", "ns", "demo", "--as=bob", "--output=json"],
      ["--as", "bob", "status", "demo", "-o", "json", "-n", "ns"],
    ]) {
      expect(parseCommand(argv)).toEqual({
        command: "status",
        name: "demo",
        namespace: "ns",
        as: "bob",
        output: "json",
      });
    }
  });

  it("takes kubectl's connection flags", () => {
    expect(
      parseCommand([
        "list",
        "--server",
        "https://127.0.0.1:6443",
        "--token",
        "t0k",
        "--insecure-skip-tls-verify",
        "--as-group",
        "g1",
        "--as-group",
        "g2",
        "--request-timeout",
        "5s",
        "-A",
      ]),
    ).toEqual({
      command: "list",
      server: "https://127.0.0.1:6443",
      token: "t0k",
      insecureSkipTlsVerify: true,
      asGroups: ["g1", "g2"],
      requestTimeoutMs: 5000,
      allNamespaces: true,
    });
  });

  it("gives start/stop/restart --wait with a timeout, and names bad values", () => {
    expect(parseCommand(["stop", "demo", "--wait", "--timeout", "90s"])).toMatchObject({
      wait: true,
      timeoutMs: 90_000,
    });
    expect(() => parseCommand(["status", "demo", "-o", "table"])).toThrow(/--output: "table"/);
    expect(() => parseCommand(["list", "demo"])).toThrow(/list takes no VM name/);
    expect(() => parseCommand(["list", "--bandwidth", "1Gi"])).toThrow(/not a flag of list/);
  });

  it("writes help from the same tables the parser reads", () => {
    expect(usage()).toMatch(/migrate-cancel NAME/);
    expect(usage("status")).toMatch(/-o, --output FORMAT/);
    expect(usage("stop")).toMatch(/--as-group GROUP/);
  });
});

describe("connection flags applied to the kubeconfig", () => {
  const dir = mkdtempSync(join(tmpdir(), "kubevisor-cli-"));
  const file = join(dir, "kubeconfig");
  writeFileSync(
    file,
    JSON.stringify({
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "c", cluster: { server: "https://127.0.0.1:1" } }],
      users: [{ name: "u", user: { token: "from-file" } }],
      contexts: [{ name: "x", context: { cluster: "c", user: "u", namespace: "team" } }],
      "current-context": "x",
    }),
  );

  it("sends --token, --as and --as-group, keeps the context's namespace", async () => {
    const kc = loadKubeConfig({
      kubeconfig: file,
      token: "flag",
      as: "alice",
      asGroups: ["devs", "ops"],
      server: "https://127.0.0.1:2",
    });
    const opts: RequestOptions = {};
    await kc.applyToHTTPSOptions(opts);
    expect(opts.headers).toMatchObject({
      Authorization: "Bearer flag",
      "Impersonate-User": "alice",
      "Impersonate-Group": ["devs", "ops"],
    });
    expect(kc.getCurrentCluster()?.server).toBe("https://127.0.0.1:2");
    expect(kc.getContextObject(kc.getCurrentContext())?.namespace).toBe("team");
  });
});

describe("list and status output", () => {
  const now = new Date("2026-11-29T12:00:00Z");
  const vm = (name: string, ns = "default") => ({
    metadata: { name, namespace: ns, creationTimestamp: "2026-11-29T11:55:00Z" },
    spec: {},
    status: {
      phase: "Running" as const,
      nodeName: "n1",
      acceleration: "TCG" as const,
      ipAddress: "127.1.0.2",
    },
  });

  it("prints the printer columns, aligned", () => {
    expect(
      vmTable([vm("demo"), vm("a-longer-name")], { wide: false, allNamespaces: false, now }),
    ).toEqual([
      "NAME            PHASE     NODE   ACCEL   IP          AGE",
      "demo            Running   n1     TCG     127.1.0.2   5m",
      "a-longer-name   Running   n1     TCG     127.1.0.2   5m",
    ]);
    expect(vmTable([vm("demo", "t")], { wide: true, allNamespaces: true, now })[0]).toMatch(
      /^NAMESPACE\s+NAME\s+PHASE.*POD\s+MIGRATION\s+READY$/,
    );
  });

  it("formats ages like kubectl", () => {
    const at = (s: number) => new Date(now.getTime() - s * 1000).toISOString();
    expect([30, 150, 3600, 4 * 3600 + 60, 3 * 86400].map((s) => age(at(s), now))).toEqual([
      "30s",
      "2m30s",
      "60m",
      "4h1m",
      "3d",
    ]);
  });
});

describe("waiting for an action", () => {
  it("start waits for Running, stop for the guest down, restart for a later launch", () => {
    expect(actionProgress("start", undefined, { phase: "Starting" })).toEqual({ done: false });
    expect(actionProgress("start", undefined, { phase: "Running" })).toEqual({ done: true });
    expect(actionProgress("stop", undefined, { phase: "Stopping" })).toEqual({ done: false });
    expect(actionProgress("stop", undefined, { phase: "Stopped" })).toEqual({ done: true });
    const before = { phase: "Running" as const, launchCount: 3 };
    expect(actionProgress("restart", before, { phase: "Running", launchCount: 3 })).toEqual({
      done: false,
    });
    expect(actionProgress("restart", before, { phase: "Running", launchCount: 4 })).toEqual({
      done: true,
    });
    expect(
      actionProgress("start", undefined, {
        phase: "Failed",
        conditions: [{ type: "Failure", status: "True", reason: "ConfigError", message: "x" }],
      }),
    ).toEqual({ done: false, failed: "ConfigError: x" });
  });
});

describe("migration progress with rate and time left", () => {
  it("measures the rate between samples and never wraps", () => {
    const rate = transferRate({ bytes: 0, atMs: 0 }, { bytes: 100 * 2 ** 20, atMs: 1000 });
    expect(rate).toBe(100 * 2 ** 20);
    const status = {
      phase: "Running" as const,
      progress: {
        dataTotalBytes: 400 * 2 ** 20,
        dataProcessedBytes: 100 * 2 ** 20,
        dataRemainingBytes: 300 * 2 ** 20,
      },
    };
    expect(renderMigration("m", status, { barWidth: 10, bytesPerSecond: rate })).toBe(
      "[==>       ]  25%  100.0 MiB transferred, 300.0 MiB remaining, 100.0 MiB/s, 3.0 s left",
    );
    const narrow = renderMigration("m", status, { columns: 40, bytesPerSecond: rate });
    expect(narrow.length).toBeLessThanOrEqual(39);
    expect(narrow.endsWith("…")).toBe(true);
  });
});

describe("shell completion (kubectl_complete-vm)", () => {
  const sources = {
    vms: async (ns: string | undefined) => (ns === "other" ? ["x1"] : ["demo", "db"]),
    namespaces: async () => ["default", "other"],
    contexts: () => ["kind"],
  };

  it("completes commands, VM names, flags and flag values", async () => {
    expect(await complete(["mi"], sources)).toEqual(["migrate", "migrate-cancel"]);
    expect(await complete(["console", "d"], sources)).toEqual(["demo", "db"]);
    expect(await complete(["-n", "other", "console", ""], sources)).toEqual(["x1"]);
    expect(await complete(["console", "demo", ""], sources)).toEqual([]);
    expect(await complete(["status", "demo", "-o", ""], sources)).toEqual(["json", "yaml", "wide"]);
    expect(await complete(["-n", "o"], sources)).toEqual(["other"]);
    const flags = await complete(["migrate", "demo", "--b"], sources);
    expect(flags).toEqual(["--bandwidth"]);
    expect(await complete(["status", "--w"], sources)).toEqual([]);
  });

  it("answers nothing rather than failing when the cluster cannot be asked", async () => {
    const broken = { ...sources, vms: async () => Promise.reject(new Error("down")) };
    expect(await complete(["console", ""], broken)).toEqual([]);
  });

  it("speaks cobra's protocol and keeps only connection flags for lookups", () => {
    expect(completionOutput(["a", "b"])).toBe("a\nb\n:4\n");
    expect(
      connectionWords(["--kubeconfig", "/k", "-n", "x", "console", "--wait", "--as=bob", ""]),
    ).toEqual(["--kubeconfig", "/k", "--as=bob"]);
  });
});
