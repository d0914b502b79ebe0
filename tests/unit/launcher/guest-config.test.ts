import { describe, expect, it } from "vitest";
import { GuestSpecError, guestConfigFor } from "../../../src/launcher/guest-config.js";
import { validateGuestConfig } from "../../../src/vmm/index.js";
import { launchedVm } from "./fixtures.js";

const inputs = {
  imagesDir: "/images",
  podIP: "10.0.0.7",
  reservedPorts: [8443, 8444],
  disks: [{ name: "root", path: "/d/root.qcow2", format: "qcow2" as const, readOnly: false }],
};

describe("guestConfigFor", () => {
  it("maps the spec to a resolved guest the VMM accepts", () => {
    const vm = launchedVm({
      cpu: { cores: 2 },
      memory: { size: "1Gi" },
      machine: { type: "microvm" },
      boot: {
        kernel: {
          image: "kubevisor/test-guest:latest",
          initrdPath: "/boot/initrd.img",
          cmdline: "console=ttyS0 quiet",
        },
      },
      network: {
        ports: [
          { name: "http", port: 80 },
          { name: "dns", port: 53, protocol: "UDP" },
        ],
      },
    });
    const config = guestConfigFor(vm, inputs);
    expect(config).toEqual({
      name: "prod.web",
      machine: "microvm",
      cores: 2,
      memoryMiB: 1024,
      kernel: {
        path: "/images/kubevisor_test-guest_latest/boot/vmlinuz",
        initrdPath: "/images/kubevisor_test-guest_latest/boot/initrd.img",
        cmdline: "console=ttyS0 quiet",
      },
      disks: inputs.disks,
      network: {
        ports: [
          { protocol: "tcp", hostAddress: "10.0.0.7", hostPort: 80, guestPort: 80 },
          { protocol: "udp", hostAddress: "10.0.0.7", hostPort: 53, guestPort: 53 },
        ],
      },
    });
    expect(() => validateGuestConfig(config)).not.toThrow();
  });

  it("rounds memory up to whole MiB and leaves out what the spec leaves out", () => {
    const config = guestConfigFor(
      launchedVm({ memory: { size: "100M" }, boot: { kernel: { image: "k" } } }),
      inputs,
    );
    expect(config.memoryMiB).toBe(96);
    expect(config.kernel).toEqual({ path: "/images/k/boot/vmlinuz" });
  });

  it("refuses a guest port that would take the launcher's own", () => {
    const vm = launchedVm({ network: { ports: [{ name: "api", port: 8443 }] } });
    expect(() => guestConfigFor(vm, inputs)).toThrow(/api: port 8443 is reserved/);
  });

  it("refuses a spec without a kernel to boot", () => {
    const vm = launchedVm({ boot: undefined });
    expect(() => guestConfigFor(vm, inputs)).toThrow(GuestSpecError);
  });
});
