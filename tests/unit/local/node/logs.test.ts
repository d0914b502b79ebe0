import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { nodeLayout } from "../../../../src/local/node/layout.js";
import { findPodLogs, readFrom, tail } from "../../../../src/local/node/logs.js";

describe("tail", () => {
  it("keeps the last lines, bounded in bytes", () => {
    expect(tail("a\nb\nc\n", 2, 100)).toBe("b\nc");
    expect(tail("abcdef", 5, 3)).toBe("def");
  });
});

describe("findPodLogs", () => {
  const dir = mkdtempSync(join(tmpdir(), "logs-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it("finds a pod's container logs on whichever node ran it", () => {
    const l = nodeLayout(dir, "kubevisor-node-2");
    const file = l.containerLog("default", "web", "uid1", "main");
    mkdirSync(join(file, ".."), { recursive: true });
    writeFileSync(file, "hello\n");
    mkdirSync(nodeLayout(dir, "kubevisor-node-1").logsDir, { recursive: true });
    const [m, ...rest] = findPodLogs(dir, "default", "web");
    expect(rest).toEqual([]);
    expect(m).toMatchObject({ node: "kubevisor-node-2", containers: ["main"] });
    expect(readFrom(file, 2)).toBe("llo\n");
    expect(findPodLogs(dir, "other", "web")).toEqual([]);
  });
});
