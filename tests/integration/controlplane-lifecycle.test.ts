/**
 * `kubevisor local` through the real CLI, on its own cluster in a temp state directory (so it
 * neither touches the run's shared control plane nor a developer's `default` one).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "dax-sh";
import { afterAll, describe, expect, it } from "vitest";
import { binaryPath } from "../../src/local/build/targets.js";
import { stopControlPlane } from "../../src/local/controlplane.js";
import { COMPONENTS, clusterLayout, defaultClusterDir } from "../../src/local/layout.js";
import { findProcesses } from "../../src/local/process.js";

const skip = process.env.KUBEVISOR_SKIP_CONTROL_PLANE === "1";
const state = mkdtempSync(join(tmpdir(), "kubevisor-cli-"));
const name = "lifecycle";

async function cli(...args: string[]) {
  const r = await $`node_modules/.bin/tsx src/cli/kubevisor.ts local ${args} --name ${name}`
    .env({ KUBEVISOR_STATE: state })
    .noThrow()
    .captureCombined()
    .quiet();
  return { code: r.code, out: r.combined };
}

function leftovers(): number[] {
  const dir = clusterLayout(withState(() => defaultClusterDir(name))).dir;
  return COMPONENTS.flatMap((c) =>
    findProcesses(c === "etcd" ? binaryPath("etcd", "etcd") : binaryPath("kubernetes", c), dir),
  );
}

/** defaultClusterDir reads KUBEVISOR_STATE; evaluate it as the CLI children see it. */
function withState<T>(fn: () => T): T {
  const saved = process.env.KUBEVISOR_STATE;
  process.env.KUBEVISOR_STATE = state;
  try {
    return fn();
  } finally {
    if (saved === undefined) delete process.env.KUBEVISOR_STATE;
    else process.env.KUBEVISOR_STATE = saved;
  }
}

describe.skipIf(skip)("kubevisor local up/down/env/status", () => {
  afterAll(async () => {
    await stopControlPlane({ dir: withState(() => defaultClusterDir(name)) });
    rmSync(state, { recursive: true, force: true });
  });

  it("starts, then reuses the running cluster", async () => {
    const first = await cli("up", "--no-crds");
    expect(first.out).toContain("is ready at https://127.0.0.1:");
    expect(first.code).toBe(0);
    const second = await cli("up", "--no-crds");
    expect(second.out).toContain("(already running)");
    expect(second.code).toBe(0);
    expect(leftovers()).toHaveLength(COMPONENTS.length);
  });

  it("prints an eval-able KUBECONFIG export and a ready status", async () => {
    const env = await cli("env");
    expect(env.out.trim()).toBe(`export KUBECONFIG=${join(state, "cluster", name, "kubeconfig")}`);
    const status = await cli("status");
    expect(status.out).toContain(`cluster ${name}: ready`);
    expect(status.code).toBe(0);
  });

  it("stops everything, and stopping again is a no-op", async () => {
    const down = await cli("down");
    expect(down.out).toContain("Stopped");
    expect(down.code).toBe(0);
    expect(leftovers()).toEqual([]);
    const again = await cli("down");
    expect(again.out).toContain("is not running");
    expect(again.code).toBe(0);
    const status = await cli("status");
    expect(status.code).toBe(3);
  });

  it("recovers from a stale pid file (pid now belongs to another process)", async () => {
    const l = clusterLayout(withState(() => defaultClusterDir(name)));
    writeFileSync(l.pidFile("kube-apiserver"), `${process.pid}\n`);
    const up = await cli("up", "--no-crds");
    expect(up.out).toContain("is ready at");
    expect(up.code).toBe(0);
    expect((await cli("down")).code).toBe(0);
    expect(leftovers()).toEqual([]);
  });

  it("names the port in use and leaves no process behind", async () => {
    const blocker: Server = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as { port: number }).port;
    try {
      const up = await cli("up", "--no-crds", "--port", String(port));
      expect(up.code).toBe(1);
      expect(up.out).toContain(`port ${port} on 127.0.0.1 (kube-apiserver secure port)`);
      expect(leftovers()).toEqual([]);
    } finally {
      blocker.close();
    }
  });
});
