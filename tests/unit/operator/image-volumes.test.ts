import { describe, expect, it } from "vitest";
import { VirtualMachine } from "../../../src/api/index.js";
import { startFailure } from "../../../src/operator/vm/image-volumes.js";
import { observePod } from "../../../src/operator/vm/observe.js";

const vm = VirtualMachine.parse({
  apiVersion: "kubevisor.io/v1alpha1",
  kind: "VirtualMachine",
  metadata: { name: "web", namespace: "ns", uid: "u" },
  spec: {
    memory: { size: "256Mi" },
    disks: [
      { name: "root", containerDisk: { image: "registry.example/debian:12" } },
      { name: "data", containerDisk: { image: "registry.example/data:1" } },
    ],
  },
});

describe("a launcher whose image volume cannot be mounted", () => {
  it("names the disk and image the kubelet's message is about", () => {
    expect(
      startFailure(vm, {
        reason: "ErrImagePull",
        message: 'failed to pull and unpack image "registry.example/data:1": not found',
      }),
    ).toEqual({
      reason: "ImageVolumeFailed",
      message:
        'disk data (image registry.example/data:1): ErrImagePull: failed to pull and unpack image "registry.example/data:1": not found',
    });
  });

  it("lists the pod's image volumes when the container cannot be created", () => {
    const f = startFailure(vm, {
      reason: "CreateContainerError",
      message: 'failed to mkdir "": mkdir : no such file or directory',
    });
    expect(f.reason).toBe("ContainerCreateFailed");
    expect(f.message).toContain("CreateContainerError: failed to mkdir");
    expect(f.message).toContain(
      "image volumes: disk root (image registry.example/debian:12); disk data (image registry.example/data:1)",
    );
  });

  it("keeps a pull error of the launcher's own image as ImagePullFailed", () => {
    expect(
      startFailure(vm, {
        reason: "ImagePullBackOff",
        message: 'Back-off pulling "kubevisor:0.1.0"',
      }),
    ).toEqual({
      reason: "ImagePullFailed",
      message: 'ImagePullBackOff: Back-off pulling "kubevisor:0.1.0"',
    });
  });

  it("is observed from the kubelet's container waiting reasons", () => {
    for (const reason of [
      "ErrImagePull",
      "ImagePullBackOff",
      "CreateContainerConfigError",
      "CreateContainerError",
    ]) {
      const observed = observePod({
        metadata: { name: "web-launcher-1", uid: "p" },
        spec: { containers: [{ name: "launcher" }], nodeName: "n" },
        status: {
          phase: "Pending",
          containerStatuses: [
            {
              name: "launcher",
              image: "kubevisor:0.1.0",
              imageID: "",
              ready: false,
              restartCount: 0,
              state: { waiting: { reason, message: "m" } },
            },
          ],
        },
      });
      expect(observed.imagePullError, reason).toEqual({ reason, message: "m" });
    }
  });
});
