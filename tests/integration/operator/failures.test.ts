import type { V1Pod } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import { LAUNCHER_CONTAINER } from "../../../src/api/index.js";
import { paths } from "../../../src/kube/client.js";
import {
  createVm,
  eventsOf,
  getVm,
  launcherPods,
  operatorSuite,
  until,
  untilVm,
  vmPath,
} from "./harness.js";

const { env, operator } = operatorSuite("fail", 60);

const failure = (vm: { status?: { conditions?: Array<{ type: string }> } }) =>
  vm.status?.conditions?.find((c) => c.type === "Failure") as
    | { status: string; reason: string; message: string }
    | undefined;

describe("a spec that cannot run", () => {
  it("too little memory on every node: Failure Unschedulable and an Event, operator unharmed", async () => {
    await createVm(env.c, env.ns, "huge", { memory: { size: "64Gi" } });
    const vm = await untilVm(
      env.c,
      env.ns,
      "huge",
      "Unschedulable",
      (v) => failure(v)?.reason === "Unschedulable",
      30_000,
    );
    expect(vm.status?.phase).toBe("Scheduling");
    expect(failure(vm)).toMatchObject({ status: "True" });
    expect(failure(vm)?.message).toMatch(/Insufficient memory/);
    const events = await until("Unschedulable event", async () =>
      (await eventsOf(env.c, env.ns, "huge")).find((e) => e.reason === "Unschedulable"),
    );
    expect(events.type).toBe("Warning");
    // Still reconciling everything else.
    await createVm(env.c, env.ns, "small");
    await untilVm(env.c, env.ns, "small", "Running", (v) => v.status?.phase === "Running");
    expect(operator().isLeader()).toBe(true);
    // The pod stays pending (the scheduler retries when nodes change); one pod, not a loop.
    expect((await launcherPods(env.c, env.ns, "huge")).length).toBe(1);
  });

  it("a disk image that cannot be pulled: Failure ImageVolumeFailed naming the disk, and an Event", async () => {
    env.kubelet.autoRun = false;
    try {
      await createVm(env.c, env.ns, "noimage", {
        disks: [{ name: "root", containerDisk: { image: "registry.invalid/none:1" } }],
      });
      const pod = await until("bound pod", async () =>
        (await launcherPods(env.c, env.ns, "noimage")).find((p) => p.spec?.nodeName),
      );
      await imagePullFails(pod);
      const vm = await untilVm(
        env.c,
        env.ns,
        "noimage",
        "ImageVolumeFailed",
        (v) => failure(v)?.reason === "ImageVolumeFailed",
      );
      expect(vm.status?.phase).toBe("Starting");
      expect(failure(vm)?.message).toContain("disk root (image registry.invalid/none:1)");
      await until("ImageVolumeFailed event", async () =>
        (await eventsOf(env.c, env.ns, "noimage")).some(
          (e) => e.reason === "ImageVolumeFailed" && e.type === "Warning",
        ),
      );
    } finally {
      env.kubelet.autoRun = true;
    }
  });

  it("a spec the launcher refuses (exit 2, ConfigError) fails without a restart loop, and is retried after a spec change", async () => {
    await createVm(env.c, env.ns, "refused", { runStrategy: "Always" });
    const running = await untilVm(
      env.c,
      env.ns,
      "refused",
      "Running",
      (v) => v.status?.phase === "Running",
    );
    const pod = (await launcherPods(env.c, env.ns, "refused"))[0] as V1Pod;
    await env.kubelet.terminate(pod, 2, "ConfigError: disk root: image has no /disk/disk.img");
    const failed = await untilVm(
      env.c,
      env.ns,
      "refused",
      "Failed",
      (v) => v.status?.phase === "Failed",
    );
    expect(failure(failed)).toMatchObject({ status: "True", reason: "ConfigError" });
    expect(failure(failed)?.message).toContain("/disk/disk.img");
    await new Promise((r) => setTimeout(r, 1000));
    expect((await getVm(env.c, env.ns, "refused")).status?.launchCount).toBe(
      running.status?.launchCount,
    );

    await env.c.mergePatch(vmPath(env.ns, "refused"), { spec: { memory: { size: "192Mi" } } });
    const retried = await untilVm(
      env.c,
      env.ns,
      "refused",
      "retried",
      (v) => v.status?.launchCount === 2 && v.status.phase === "Running",
    );
    expect(failure(retried)?.status).toBe("False");
  });
});

describe("a VM the CRD accepts but the operator's schema refuses", () => {
  it("gets Failure InvalidSpec naming the field and a Warning Event; nothing is launched", async () => {
    // An int64 the apiserver keeps, but beyond what JSON numbers hold exactly.
    await createVm(env.c, env.ns, "unsafe", { memory: { size: 2 ** 53 + 2 } });
    const vm = await untilVm(
      env.c,
      env.ns,
      "unsafe",
      "InvalidSpec",
      (v) => failure(v)?.reason === "InvalidSpec",
    );
    expect(failure(vm)?.message).toContain("memory.size");
    await until("InvalidSpec event", async () =>
      (await eventsOf(env.c, env.ns, "unsafe")).some(
        (e) => e.reason === "InvalidSpec" && e.type === "Warning",
      ),
    );
    expect(await launcherPods(env.c, env.ns, "unsafe")).toEqual([]);
    expect(operator().isLeader()).toBe(true);
  });
});

/** What a kubelet reports when it cannot pull an image of the pod. */
async function imagePullFails(pod: V1Pod) {
  await env.c.request("PATCH", `${paths.pod(env.ns, pod.metadata?.name ?? "")}/status`, {
    contentType: "application/merge-patch+json",
    body: {
      status: {
        phase: "Pending",
        containerStatuses: [
          {
            name: LAUNCHER_CONTAINER,
            image: pod.spec?.containers[0]?.image,
            imageID: "",
            ready: false,
            restartCount: 0,
            state: {
              waiting: {
                reason: "ErrImagePull",
                message: 'failed to pull image "registry.invalid/none:1": not found',
              },
            },
          },
        ],
      },
    },
  });
}
