import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { Console, createNamespace, getVm, kc, kubectl, vmManifest, waitForVmPhase } from "./lib.js";
import { applyJson, expectCounterContinues, nodes } from "./migration-lib.js";

const NS = "e2e-drain";
const VMS = ["drain-a", "drain-b", "drain-c"];
let from = "";
let to = "";

beforeAll(async () => {
  await createNamespace(NS);
  [from = "", to = ""] = await nodes();
});

afterAll(async () => {
  await kubectl(["uncordon", from]);
  await kubectl(["uncordon", to]);
  await kubectl(["delete", "namespace", NS, "--wait=false"]);
});

describe("kubectl drain", () => {
  it("completes for a node carrying three VMs; all three end Running on the other node, none restarted", async () => {
    // Put all three on one node: keep the other cordoned while they start.
    await kc("cordon", to);
    for (const name of VMS) await applyJson(vmManifest(NS, name));
    const consoles = new Map<string, Console>();
    for (const name of VMS) {
      const vm = await waitForVmPhase(NS, name, "Running", 300_000);
      expect(vm.status?.nodeName).toBe(from);
      const c = await Console.open(NS, name, vm.status?.ipAddress ?? "");
      await c.waitFor(/kubevisor-counter \d+/);
      consoles.set(name, c);
    }
    await kc("uncordon", to);

    const started = Date.now();
    const drain = await kubectl([
      "drain",
      from,
      "--ignore-daemonsets",
      "--delete-emptydir-data",
      "--timeout=600s",
    ]);
    const seconds = ((Date.now() - started) / 1000).toFixed(1);
    expect(drain.code, drain.stderr).toBe(0);
    console.log(`[e2e] drain of ${from} with ${VMS.length} VMs: ${seconds} s`);

    for (const name of VMS) {
      const vm = await getVm(NS, name);
      expect(vm.status).toMatchObject({ phase: "Running", nodeName: to });
      const seen = await expectCounterContinues(NS, name, consoles.get(name) as Console);
      expect(seen.rebooted).toBe(false);
      expect(seen.first).toBeGreaterThan(seen.last);
      consoles.get(name)?.close();
    }
  });
});
