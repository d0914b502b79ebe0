/** `kubectl vm start|stop|restart|status` on the local cluster, as an edit-bound user. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { bind, kubeconfigAs, run, waitForSubresourcesApi } from "./cli-helpers.js";
import { createNamespace, getVm, kubectl, vmManifest, waitFor, waitForVmPhase } from "./lib.js";

const NS = "e2e-cli";
const as = ["-n", NS, "--kubeconfig", kubeconfigAs("alice")];

beforeAll(async () => {
  await createNamespace(NS);
  await kubectl(["apply", "-f", "-"], vmManifest(NS, "demo"));
  await bind(NS, "alice", "edit");
  await waitForSubresourcesApi();
  await waitForVmPhase(NS, "demo", "Running", 240_000);
});

afterAll(async () => {
  await kubectl(["delete", "namespace", NS, "--wait=false"]);
});

describe("kubectl vm start|stop|restart|status", () => {
  it("stops the VM: runStrategy Halted, then Stopped", async () => {
    const stop = await run(["stop", "demo", ...as]);
    expect(stop.code, stop.stderr).toBe(0);
    expect((await getVm(NS, "demo")).spec.runStrategy).toBe("Halted");
    await waitForVmPhase(NS, "demo", "Stopped");
    expect((await run(["status", "demo", ...as])).stdout).toMatch(/Phase:\s+Stopped/);
  });

  it("starts it again: runStrategy Always, then Running", async () => {
    expect((await run(["start", "demo", ...as])).code).toBe(0);
    expect((await getVm(NS, "demo")).spec.runStrategy).toBe("Always");
    await waitForVmPhase(NS, "demo", "Running", 240_000);
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

  it("says when a VM does not exist (exit 3)", async () => {
    const r = await run(["stop", "nope", ...as]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('"nope" not found');
  });
});
