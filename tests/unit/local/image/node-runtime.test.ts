import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { nodeRuntimeDir, nodeRuntimeVersion } from "../../../../src/local/image/node-runtime.js";

const root = join(import.meta.dirname, "..", "..", "..", "..");

describe("the pinned Node.js runtime", () => {
  it("is found in the same cache directory by setup (plain Node) and by src", async () => {
    // setup.mjs runs before npm install, so it computes the directory itself.
    const script = (await import(join(root, "scripts", "node-runtime.mjs"))) as {
      nodeRuntimeDir: () => string;
      nodeRuntimeVersion: () => string;
    };
    expect(script.nodeRuntimeVersion()).toBe(nodeRuntimeVersion(root));
    expect(script.nodeRuntimeDir()).toBe(nodeRuntimeDir(nodeRuntimeVersion(root)));
  });

  it("runs what package.json's test scripts start: node on PATH is the pinned major", () => {
    const out = execFileSync(
      "node",
      [join(root, "scripts", "node-runtime.mjs"), "exec", "node", "-p", "process.versions.node"],
      { encoding: "utf8", env: { ...process.env, KUBEVISOR_TEST_NODE: "" } },
    );
    const major = (v: string) => Number(v.split(".")[0]);
    expect(major(out.trim())).toBeGreaterThanOrEqual(major(nodeRuntimeVersion(root)));
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as {
      scripts: Record<string, string>;
    };
    expect(pkg.scripts.test).toContain("node scripts/node-runtime.mjs exec vitest run");
  });
});
