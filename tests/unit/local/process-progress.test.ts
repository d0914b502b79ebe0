import { describe, expect, it } from "vitest";
import { shellQuote } from "../../../src/cli/commands/local-args.js";
import { describeFailure } from "../../../src/local/controlplane.js";
import { mentionsDir, parseStat } from "../../../src/local/process.js";
import { createProgress, formatDuration } from "../../../src/local/progress.js";

describe("process helpers", () => {
  it("parses /proc/<pid>/stat even when the command name has spaces and parens", () => {
    expect(parseStat("1234 (kube (x) y) S 1 1234 1234 0 -1 4194560")).toEqual({
      state: "S",
      pgrp: 1234,
    });
    expect(parseStat("99 (etcd) Z 1 77 77 0")).toEqual({ state: "Z", pgrp: 77 });
  });

  it("matches a cluster dir only as a path prefix", () => {
    expect(mentionsDir(["etcd", "--data-dir=/tmp/kv/etcd"], "/tmp/kv")).toBe(true);
    expect(mentionsDir(["etcd", "--data-dir=/tmp/kv-other/etcd"], "/tmp/kv")).toBe(false);
    expect(mentionsDir(["etcd", "--data-dir=/tmp/kv/etcd"], "/tmp/kv/")).toBe(true);
  });
});

describe("readiness output", () => {
  it("names the failing readyz checks", () => {
    const body =
      "[+]ping ok\n[-]poststarthook/rbac/bootstrap-roles failed: reason withheld\n[-]etcd failed\n[-]x failed\n";
    expect(describeFailure(body)).toBe(
      "3 checks pending: poststarthook/rbac/bootstrap-roles, etcd, …",
    );
    expect(describeFailure("ok")).toBeUndefined();
  });
});

describe("progress", () => {
  it("formats durations", () => {
    expect(formatDuration(1234)).toBe("1.2s");
    expect(formatDuration(125_000)).toBe("2m05s");
  });

  it("throttles updates when not on a terminal", () => {
    let out = "";
    let t = 0;
    const stream = {
      isTTY: false,
      write: (s: string) => (out += s),
    } as unknown as NodeJS.WriteStream;
    const p = createProgress({ stream, interval: 1000, now: () => t });
    p.step("build");
    t = 500;
    p.update("a");
    t = 1500;
    p.update("b");
    t = 1600;
    p.update("c");
    p.done();
    expect(out).toBe("[build] started\n[build 1.5s] b\n[build 1.6s] done\n");
  });
});

describe("shellQuote", () => {
  it("leaves plain paths alone and quotes the rest", () => {
    expect(shellQuote("/home/a/.local/state/kubeconfig")).toBe("/home/a/.local/state/kubeconfig");
    expect(shellQuote("/home/a b/it's")).toBe("'/home/a b/it'\\''s'");
  });
});
