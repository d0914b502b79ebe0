import { describe, expect, it } from "vitest";
import {
  goArch,
  type HostFacts,
  nodeObject,
  nodeStatus,
} from "../../../../src/local/node/node-object.js";

const facts: HostFacts = {
  cpus: 4,
  memoryBytes: 8 * 2 ** 30,
  ephemeralStorageBytes: 100 * 2 ** 30,
  kvm: true,
  kernelVersion: "6.1",
  osImage: "Debian",
  machineID: "m",
  bootID: "b",
  kubeletVersion: "v1.36.3",
  arch: "amd64",
};

describe("node object", () => {
  it("carries the well-known labels and no spec (cordoning is kubectl's)", () => {
    expect(nodeObject("n1", facts)).toMatchObject({
      metadata: {
        name: "n1",
        labels: {
          "kubernetes.io/hostname": "n1",
          "kubernetes.io/os": "linux",
          "kubernetes.io/arch": "amd64",
        },
      },
      spec: {},
    });
    expect(goArch("x64")).toBe("amd64");
  });

  it("advertises capacity including pods and /dev/kvm only where it exists", () => {
    const s = nodeStatus("n1", facts, { now: "t", ready: true, since: "s" });
    expect(s.capacity).toEqual({
      cpu: "4",
      memory: `${8 * 2 ** 20}Ki`,
      pods: "110",
      "ephemeral-storage": `${100 * 2 ** 20}Ki`,
      "devices.kubevisor.io/kvm": "1000",
    });
    expect(s.allocatable).toEqual(s.capacity);
    expect(
      nodeStatus("n1", { ...facts, kvm: false }, { now: "t", ready: true, since: "s" }).capacity[
        "devices.kubevisor.io/kvm"
      ],
    ).toBe("0");
    expect(s.addresses).toEqual([
      { type: "InternalIP", address: "127.0.0.1" },
      { type: "Hostname", address: "n1" },
    ]);
  });

  it("is Ready with every pressure condition False, and NotReady once stopped", () => {
    const ready = nodeStatus("n1", facts, { now: "t", ready: true, since: "s" }).conditions;
    expect(ready.map((c) => [c.type, c.status])).toEqual([
      ["MemoryPressure", "False"],
      ["DiskPressure", "False"],
      ["PIDPressure", "False"],
      ["Ready", "True"],
    ]);
    const stopped = nodeStatus("n1", facts, { now: "t", ready: false, since: "s" }).conditions.at(
      -1,
    );
    expect(stopped).toMatchObject({ type: "Ready", status: "False", reason: "KubeletNotReady" });
  });
});
