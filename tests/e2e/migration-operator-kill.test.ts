import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RELEASE_NAMESPACE } from "../../src/local/product.js";
import {
  counters,
  createNamespace,
  getJson,
  getVm,
  kc,
  kubectl,
  vmManifest,
  waitFor,
} from "./lib.js";
import {
  applyJson,
  deletePodNow,
  expectCounterContinues,
  migrationManifest,
  phaseSeen,
  pidsOfPod,
  qemusOfGuest,
  runningWithConsole,
  waitForMigration,
} from "./migration-lib.js";

/**
 * The operator dies at the moment a migration reaches each phase. Its successor (the same
 * pod's container restarted, or a new pod that must first wait out the old leader's lease)
 * picks the migration up from its persisted phase: the guest ends running exactly once,
 * on the target (Succeeded) or still on the source (Failed), and never restarts.
 */
const NS = "e2e-operator-kill";
const VM = "hardy";

beforeAll(async () => {
  await createNamespace(NS);
  await applyJson(vmManifest(NS, VM));
});

afterAll(async () => {
  await kubectl(["delete", "namespace", NS, "--wait=false"]);
});

interface PodList {
  items: {
    metadata: { name: string; deletionTimestamp?: string };
    status: { phase?: string; conditions?: { type: string; status: string }[] };
  }[];
}

async function operatorPod(): Promise<string> {
  return await waitFor("a ready operator pod", async () => {
    const pods = await getJson<PodList>(
      "pods",
      "-n",
      RELEASE_NAMESPACE,
      "-l",
      "app.kubernetes.io/component=operator",
    );
    const ready = pods.items.find(
      (p) =>
        !p.metadata.deletionTimestamp &&
        p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
    );
    return ready?.metadata.name;
  });
}

const kills = {
  /** SIGKILL to the operator's process: the pod restarts it under the same identity. */
  process: (pod: string) => {
    const pids = pidsOfPod(pod, /operator\/main\.js/);
    expect(pids.length).toBeGreaterThan(0);
    for (const pid of pids) process.kill(pid, "SIGKILL");
  },
  /** The pod itself, no grace: a new pod must wait until the old leader's lease lapses. */
  pod: (pod: string) => deletePodNow(RELEASE_NAMESPACE, pod),
};

describe("the operator killed mid-migration", () => {
  it.each([
    ["Scheduling", "process", undefined],
    ["TargetReady", "process", undefined],
    // Slow enough that the guest is still on its way when the operator dies.
    ["Running", "pod", "4Mi"],
  ] as const)(
    "at %s (%s killed): the VM ends running exactly once, counter continuing",
    async (phase, how, bandwidth) => {
      const { vm, console: serial } = await runningWithConsole(NS, VM);
      const name = `kill-at-${phase.toLowerCase()}`;
      try {
        const operator = await operatorPod();
        await applyJson(migrationManifest(NS, name, VM, bandwidth ? { bandwidth } : {}));
        await phaseSeen(NS, name, phase);
        await kills[how](operator);

        const m = await waitForMigration(NS, name, ["Succeeded", "Failed"], 300_000);
        console.log(
          `[e2e] operator killed at ${phase}: ${m.status?.phase} (${m.status?.reason}) downtime ${m.status?.downtimeMs} ms, total ${m.status?.totalTimeMs} ms`,
        );
        const after = await waitFor("the VM to settle Running", async () => {
          const v = await getVm(NS, VM);
          return v.status?.phase === "Running" && v.status.migration?.phase === m.status?.phase
            ? v
            : undefined;
        });
        if (m.status?.phase === "Succeeded") {
          expect(after.status?.launcherPod).toBe(m.status.targetPod);
          expect(after.status?.nodeName).not.toBe(vm.status?.nodeName);
        } else {
          // Failed only with the guest still where it was.
          expect(after.status?.launcherPod).toBe(vm.status?.launcherPod);
        }

        // Exactly one QEMU runs the guest, in the VM's launcher pod (a source's postmigrate
        // QEMU or a failed target's waiting one are gone soon after the end).
        const qemus = await waitFor("one QEMU for the guest", async () => {
          const q = qemusOfGuest(NS, VM);
          return q.length === 1 ? q : undefined;
        });
        expect(qemus[0]?.pod).toBe(after.status?.launcherPod);
        // ... and one live launcher pod: a source whose guest left ends Migrated by itself
        // once its final figures were read (or FINAL_READ_WAIT_MS passed without an operator).
        let seen: string[][] = [];
        const alive = await waitFor(
          "one live launcher pod",
          async () => {
            const live = await getJson<PodList>("pods", "-n", NS, "-l", `kubevisor.io/vm=${VM}`);
            seen = live.items.map((p) => [p.metadata.name, p.status.phase ?? ""]);
            const names = live.items
              .filter((p) => p.status.phase === "Pending" || p.status.phase === "Running")
              .map((p) => p.metadata.name);
            return names.length === 1 ? names : undefined;
          },
          60_000,
        ).catch((err: Error) => {
          throw new Error(`${err.message}: ${JSON.stringify(seen)}`);
        });
        expect(alive).toEqual([after.status?.launcherPod]);

        if (m.status?.phase === "Succeeded") {
          const counted = await expectCounterContinues(NS, VM, serial);
          expect(counted.rebooted).toBe(false);
          expect(counted.first).toBeGreaterThan(counted.last);
        } else {
          // Still the same guest: its counter goes on from where it was, no reboot.
          const last = counters(serial.output).at(-1) ?? 0;
          await waitFor("the counter to go on", async () =>
            (counters(serial.output).at(-1) ?? 0) > last + 2 ? true : undefined,
          );
        }
        await kc("delete", "virtualmachinemigrations", name, "-n", NS, "--wait=true");
      } finally {
        serial.close();
      }
    },
  );
});
