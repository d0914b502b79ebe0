import type { V1Pod, V1Service } from "@kubernetes/client-node";
import { describe, expect, it } from "vitest";
import {
  desiredSlice,
  isLoopback,
  MANAGED_BY,
  sliceFingerprint,
} from "../../../src/local/endpoints/slice.js";

const svc = (spec: V1Service["spec"] = {}): V1Service => ({
  metadata: { name: "api", namespace: "ns", uid: "svc-uid" },
  spec: {
    selector: { app: "api" },
    ports: [{ name: "https", port: 443, targetPort: "https" as unknown as number }],
    ...spec,
  },
});

const pod = (name: string, over: { ip?: string; ready?: boolean; deleting?: boolean } = {}) =>
  ({
    metadata: {
      name,
      namespace: "ns",
      uid: `${name}-uid`,
      labels: { app: "api" },
      ...(over.deleting ? { deletionTimestamp: new Date() } : {}),
    },
    spec: {
      nodeName: "node-1",
      containers: [{ name: "c", ports: [{ name: "https", containerPort: 9443 }] }],
    },
    status: {
      phase: "Running",
      podIP: over.ip ?? "127.1.0.5",
      conditions: [{ type: "Ready", status: over.ready === false ? "False" : "True" }],
    },
  }) as V1Pod;

describe("desiredSlice", () => {
  it("publishes loopback pods in an FQDN slice owned by the Service", () => {
    const s = desiredSlice(svc(), [pod("b", { ip: "127.1.0.6" }), pod("a")]);
    expect(s?.metadata).toMatchObject({
      name: "api-local",
      namespace: "ns",
      labels: {
        "kubernetes.io/service-name": "api",
        "endpointslice.kubernetes.io/managed-by": MANAGED_BY,
      },
      ownerReferences: [{ kind: "Service", name: "api", uid: "svc-uid", controller: true }],
    });
    expect(s?.addressType).toBe("FQDN");
    expect(s?.ports).toEqual([{ name: "https", port: 9443, protocol: "TCP" }]);
    expect(s?.endpoints).toEqual([
      {
        addresses: ["127.1.0.5"],
        conditions: { ready: true, serving: true, terminating: false },
        nodeName: "node-1",
        targetRef: { kind: "Pod", namespace: "ns", name: "a", uid: "a-uid" },
      },
      expect.objectContaining({ addresses: ["127.1.0.6"] }),
    ]);
  });

  it("takes numeric and absent targetPorts as they are", () => {
    const s = desiredSlice(
      svc({
        ports: [
          { name: "a", port: 80, targetPort: 8080 },
          { name: "b", port: 81, protocol: "UDP" },
        ],
      }),
      [pod("a")],
    );
    expect(s?.ports).toEqual([
      { name: "a", port: 8080, protocol: "TCP" },
      { name: "b", port: 81, protocol: "UDP" },
    ]);
  });

  it("reports not-ready and terminating pods in the conditions", () => {
    const s = desiredSlice(svc(), [pod("a", { ready: false }), pod("b", { deleting: true })]);
    expect(s?.endpoints.map((e) => e.conditions)).toEqual([
      { ready: false, serving: false, terminating: false },
      { ready: false, serving: true, terminating: true },
    ]);
    const publish = desiredSlice(svc({ publishNotReadyAddresses: true }), [
      pod("a", { ready: false }),
    ]);
    expect(publish?.endpoints[0]?.conditions).toEqual({
      ready: true,
      serving: true,
      terminating: false,
    });
  });

  it("builds nothing without a selector or without loopback pods", () => {
    expect(desiredSlice(svc({ selector: undefined }), [pod("a")])).toBeUndefined();
    expect(desiredSlice(svc({ selector: {} }), [pod("a")])).toBeUndefined();
    expect(desiredSlice(svc(), [pod("a", { ip: "10.244.0.5" })])).toBeUndefined();
    const other = pod("a");
    other.metadata = { ...other.metadata, labels: { app: "other" } };
    expect(desiredSlice(svc(), [other])).toBeUndefined();
    const done = pod("a");
    done.status = { ...done.status, phase: "Succeeded" };
    expect(desiredSlice(svc(), [done])).toBeUndefined();
  });

  it("fingerprints only what it decides", () => {
    const s = desiredSlice(svc(), [pod("a")]);
    if (!s) throw new Error("no slice");
    const stored = { ...s, metadata: { ...s.metadata, resourceVersion: "7", generation: 2 } };
    expect(sliceFingerprint(stored)).toBe(sliceFingerprint(s));
    const notReady = desiredSlice(svc(), [pod("a", { ready: false })]);
    if (!notReady) throw new Error("no slice");
    expect(sliceFingerprint(notReady)).not.toBe(sliceFingerprint(s));
  });
});

it("isLoopback", () => {
  expect(["127.0.0.1", "127.1.200.3", "::1"].map(isLoopback)).toEqual([true, true, true]);
  expect(["10.0.0.1", "128.0.0.1", "127.example.com"].map(isLoopback)).toEqual([
    false,
    false,
    false,
  ]);
});
