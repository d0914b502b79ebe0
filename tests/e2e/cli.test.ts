/** `kubectl vm start|stop|restart|status` on the local cluster, as an edit-bound user. */
import { spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, inject, it } from "vitest";
import { bind, kubeconfigAs, run, waitForSubresourcesApi } from "./cli-helpers.js";
import { createNamespace, getVm, kc, kubectl, vmManifest, waitFor, waitForVmPhase } from "./lib.js";

const NS = "e2e-cli";
const as = ["-n", NS, "--kubeconfig", kubeconfigAs("alice")];

beforeAll(async () => {
  await createNamespace(NS);
  await kubectl(["apply", "-f", "-"], vmManifest(NS, "demo"));
  await bind(NS, "alice", "edit");
  await kc(
    "create",
    "rolebinding",
    "viewers-view",
    "-n",
    NS,
    "--clusterrole=view",
    "--group=e2e-viewers",
  );
  await waitForSubresourcesApi();
  await waitForVmPhase(NS, "demo", "Running", 240_000);
});

afterAll(async () => {
  await kubectl(["delete", "namespace", NS, "--wait=false"]);
});

describe("kubectl vm start|stop|restart|status", () => {
  it("stops the VM with --wait: runStrategy Halted, and Stopped when the command returns", async () => {
    const stop = await run(["stop", "demo", "--wait", "--timeout", "4m", ...as]);
    expect(stop.code, stop.stderr).toBe(0);
    const vm = await getVm(NS, "demo");
    expect(vm.spec.runStrategy).toBe("Halted");
    expect(vm.status?.phase).toBe("Stopped");
    expect((await run(["status", "demo", ...as])).stdout).toMatch(/Phase:\s+Stopped/);
  });

  it("starts it again with --wait: Running when the command returns", async () => {
    const start = await run(["start", "demo", "--wait", "--timeout", "4m", ...as]);
    expect(start.code, start.stderr).toBe(0);
    const vm = await getVm(NS, "demo");
    expect(vm.spec.runStrategy).toBe("Always");
    expect(vm.status?.phase).toBe("Running");
  });

  it("restarts it in a new launcher pod", async () => {
    const before = (await getVm(NS, "demo")).status?.launcherPod;
    expect((await run(["restart", "demo", ...as])).code).toBe(0);
    await waitFor(
      "a new launcher running demo",
      async () => {
        const vm = await getVm(NS, "demo");
        return vm.status?.phase === "Running" && vm.status.launcherPod !== before ? vm : undefined;
      },
      240_000,
    );
  });

  it("takes flags before the command, -o json, list, and impersonation with --as", async () => {
    const admin = inject("kubeconfig");
    const json = await run([
      "-n",
      NS,
      "--kubeconfig",
      admin,
      "--as",
      "alice",
      "status",
      "demo",
      "-o",
      "json",
    ]);
    expect(json.code, json.stderr).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({ metadata: { name: "demo", namespace: NS } });
    const list = await run(["list", "-n", NS, "--kubeconfig", admin, "--as", "alice"]);
    expect(list.code, list.stderr).toBe(0);
    expect(list.stdout).toMatch(/^NAME\s+PHASE\s+NODE\s+ACCEL\s+IP\s+AGE$/m);
    expect(list.stdout).toMatch(/^demo\s+Running\s+\S+\s+(TCG|KVM)\s+\S+\s+\S+$/m);
    // bob is bound to nothing: impersonating him must be refused, as RBAC decides.
    const bob = await run(["list", "-n", NS, "--kubeconfig", admin, "--as", "bob"]);
    expect(bob.code).toBe(4);
    const group = await run([
      "status",
      "demo",
      "-n",
      NS,
      "--kubeconfig",
      admin,
      "--as",
      "carol",
      "--as-group",
      "e2e-viewers",
    ]);
    expect(group.code, group.stderr).toBe(0);
  });

  it("completes VM names from the cluster (kubectl_complete-vm)", async () => {
    const r = await runCompletion([
      "-n",
      NS,
      "--kubeconfig",
      kubeconfigAs("alice"),
      "console",
      "de",
    ]);
    expect(r).toBe("demo\n:4\n");
  });

  it("cancels a migration in progress: the guest stays in its pod", async () => {
    const before = await getVm(NS, "demo");
    const started = await run(["migrate", "demo", "--bandwidth", "1Mi", ...as]);
    expect(started.code, started.stderr).toBe(0);
    const migration = started.stdout.match(/migration (\S+) of VM/)?.[1];
    await waitFor("the VM to name its migration", async () =>
      (await getVm(NS, "demo")).status?.migration?.name === migration ? true : undefined,
    );
    const cancel = await run(["migrate-cancel", "demo", ...as]);
    expect(cancel.code, cancel.stderr).toBe(0);
    const after = await waitFor("the migration to end", async () => {
      const vm = await getVm(NS, "demo");
      const m = vm.status?.migration;
      return vm.status?.phase === "Running" && (!m || m.phase === "Failed") ? vm : undefined;
    });
    expect(after.status?.launcherPod).toBe(before.status?.launcherPod);
    expect(after.status?.nodeName).toBe(before.status?.nodeName);
    const again = await run(["migrate-cancel", "demo", ...as]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/no migration in progress/);
  });

  it("says when a VM does not exist (exit 3)", async () => {
    const r = await run(["stop", "nope", ...as]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('"nope" not found');
  });
});

/** Runs the completion entry point as kubectl would; returns its stdout. */
function runCompletion(words: string[]): Promise<string> {
  const repo = join(import.meta.dirname, "..", "..");
  const child = spawn(
    process.execPath,
    ["--import", "tsx", join(repo, "src/cli/kubectl_complete-vm.ts"), ...words],
    { cwd: repo, stdio: ["ignore", "pipe", "inherit"], env: { ...process.env, KUBECONFIG: "" } },
  );
  let out = "";
  child.stdout.on("data", (c: Buffer) => {
    out += c.toString();
  });
  return new Promise((resolve) => child.once("exit", () => resolve(out)));
}
