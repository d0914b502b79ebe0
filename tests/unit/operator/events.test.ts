import { describe, expect, it } from "vitest";
import { type KubeClient, KubeError } from "../../../src/kube/client.js";
import { EventRecorder } from "../../../src/operator/events.js";
import { logger } from "../../../src/util/log.js";

/** Records the writes an EventRecorder makes; `missing` names Events that 404 on patch. */
function fakeClient(missing = new Set<string>()) {
  const calls: Array<{ verb: string; path: string; body: Record<string, unknown> }> = [];
  const client = {
    create: async (path: string, body: Record<string, unknown>) => {
      calls.push({ verb: "create", path, body });
      return body;
    },
    mergePatch: async (path: string, body: Record<string, unknown>) => {
      if ([...missing].some((m) => path.endsWith(m))) throw new KubeError(404, "NotFound", "gone");
      calls.push({ verb: "patch", path, body });
      return body;
    },
  };
  return { client: client as unknown as KubeClient, calls };
}

const vm = {
  apiVersion: "kubevisor.io/v1alpha1",
  kind: "VirtualMachine",
  metadata: { name: "web", namespace: "ns", uid: "u1" },
};

describe("event recorder", () => {
  it("creates an Event about the object, then counts repeats instead of adding more", async () => {
    const { client, calls } = fakeClient();
    const r = new EventRecorder(client, "kubevisor-operator", "op-0", logger("test"));
    await Promise.all([
      r.record(vm, "Warning", "Unschedulable", "no node"),
      r.record(vm, "Warning", "Unschedulable", "no node"),
    ]);
    await r.record(vm, "Warning", "Unschedulable", "no node");
    expect(calls.map((c) => c.verb)).toEqual(["create", "patch", "patch"]);
    expect(calls[0]?.body).toMatchObject({
      involvedObject: { kind: "VirtualMachine", name: "web", namespace: "ns", uid: "u1" },
      type: "Warning",
      reason: "Unschedulable",
      message: "no node",
      count: 1,
      source: { component: "kubevisor-operator" },
    });
    expect(calls[2]?.body).toMatchObject({ count: 3 });
  });

  it("keeps different messages apart, and starts afresh when the old Event is gone", async () => {
    const missing = new Set<string>();
    const { client, calls } = fakeClient(missing);
    const r = new EventRecorder(client, "kubevisor-operator", "op-0", logger("test"));
    await r.record(vm, "Normal", "Started", "a");
    await r.record(vm, "Normal", "Started", "b");
    const first = calls[0]?.body.metadata as { name: string } | undefined;
    missing.add(first?.name ?? "");
    await r.record(vm, "Normal", "Started", "a");
    expect(calls.map((c) => c.verb)).toEqual(["create", "create", "create"]);
  });

  it("never throws: a failed write is only logged", async () => {
    const client = {
      create: async () => Promise.reject(new Error("apiserver down")),
    } as unknown as KubeClient;
    const r = new EventRecorder(client, "c", "i", logger("test"));
    await expect(r.record(vm, "Normal", "Started", "x")).resolves.toBeUndefined();
  });
});
