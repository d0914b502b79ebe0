import { describe, expect, it } from "vitest";
import {
  bootIndexes,
  GuestSpecError,
  guestConfigFor,
  usesUefi,
} from "../../../src/launcher/guest-config.js";
import { buildQemuArgs, type DiskConfig, validateGuestConfig } from "../../../src/vmm/index.js";
import { launchedVm } from "./fixtures.js";

const disk = (name: string): DiskConfig => ({
  name,
  path: `/d/${name}.qcow2`,
  format: "qcow2",
  readOnly: false,
});
const inputs = {
  imagesDir: "/images",
  forwardHost: "10.0.0.7",
  reservedPorts: [8443, 8444],
  disks: [disk("root")],
  uefiVarsPath: "/d/uefi-vars.fd",
  agentSocket: "/d/run/agent.sock",
  vncSocket: "/d/run/vnc.sock",
  guestOutbound: "allow" as const,
};

/** A cloud-image VM: no kernel, the firmware boots its disks. */
const cloudVm = (spec: Parameters<typeof launchedVm>[0] = {}) =>
  launchedVm({
    boot: undefined,
    disks: [
      {
        name: "root",
        containerDisk: { image: "kubevisor/debian-cloud:12", path: "/disk/disk.qcow2" },
      },
    ],
    ...spec,
  });

describe("guestConfigFor: direct kernel boot", () => {
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
        restrictOutbound: false,
      },
      agent: { socket: "/d/run/agent.sock" },
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
    expect(config.firmware).toBeUndefined();
  });

  it("refuses a guest port that would take the launcher's own", () => {
    const vm = launchedVm({ network: { ports: [{ name: "api", port: 8443 }] } });
    expect(() => guestConfigFor(vm, inputs)).toThrow(GuestSpecError);
    expect(() => guestConfigFor(vm, inputs)).toThrow(/api: port 8443 is reserved/);
  });

  it("confines the guest when the launcher is told to deny outbound traffic", () => {
    const config = guestConfigFor(launchedVm(), { ...inputs, guestOutbound: "deny" });
    expect(config.network?.restrictOutbound).toBe(true);
    expect(buildQemuArgs(config, launchOpts).join(" ")).toContain("restrict=on");
  });
});

const launchOpts = {
  accel: "tcg" as const,
  qmpSocket: "/r/qmp.sock",
  serialSocket: "/r/serial.sock",
  startPaused: true,
  incoming: false,
  exitOnReboot: false,
};

describe("guestConfigFor: firmware boot", () => {
  it("boots the first bootable disk with SeaBIOS when the spec says nothing", () => {
    const config = guestConfigFor(cloudVm(), inputs);
    expect(config.kernel).toBeUndefined();
    expect(config.firmware).toEqual({ type: "bios" });
    expect(config.disks).toEqual([{ ...disk("root"), bootIndex: 1 }]);
    expect(usesUefi(cloudVm().spec)).toBe(false);
    expect(() => validateGuestConfig(config)).not.toThrow();
  });

  it("gives UEFI the VM's own vars store, with Secure Boot as asked", () => {
    const vm = cloudVm({ firmware: { type: "UEFI", secureBoot: true } });
    const config = guestConfigFor(vm, inputs);
    expect(config.firmware).toEqual({
      type: "uefi",
      secureBoot: true,
      varsPath: "/d/uefi-vars.fd",
    });
    expect(usesUefi(vm.spec)).toBe(true);
    const argv = buildQemuArgs(config, launchOpts).join(" ");
    expect(argv).toContain("/d/uefi-vars.fd");
    expect(argv).toContain("smm=on");
    expect(argv).toContain("bootindex=1");
  });

  it("keeps firmware out of a kernel boot even when the spec names UEFI", () => {
    const vm = launchedVm({ firmware: { type: "UEFI" } });
    expect(usesUefi(vm.spec)).toBe(false);
    expect(guestConfigFor(vm, inputs).firmware).toBeUndefined();
  });

  it("ranks disks by bootOrder; the others are not boot devices", () => {
    const vm = cloudVm({
      disks: [
        { name: "seed", cloudInitNoCloud: { userData: "" } },
        { name: "data", persistentVolumeClaim: { claimName: "d" }, bootOrder: 10 },
        { name: "root", containerDisk: { image: "x" }, bootOrder: 2 },
        { name: "scratch", emptyDisk: { size: "1Gi" } },
      ],
    });
    const config = guestConfigFor(vm, {
      ...inputs,
      disks: ["seed", "data", "root", "scratch"].map(disk),
    });
    expect(config.disks.map((d) => d.bootIndex)).toEqual([undefined, 2, 1, undefined]);
    expect(() => validateGuestConfig(config)).not.toThrow();
  });
});

describe("bootIndexes", () => {
  it("without any bootOrder: the first containerDisk or PVC, never a seed or blank disk", () => {
    expect(
      bootIndexes(
        cloudVm({
          disks: [
            { name: "seed", cloudInitNoCloud: { userData: "" } },
            { name: "scratch", emptyDisk: { size: "1Gi" } },
            { name: "data", persistentVolumeClaim: { claimName: "d" } },
            { name: "root", containerDisk: { image: "x" } },
          ],
        }).spec.disks,
      ),
    ).toEqual([undefined, undefined, 1, undefined]);
  });

  it("breaks bootOrder ties in spec order, so QEMU never sees an index twice", () => {
    expect(
      bootIndexes(
        cloudVm({
          disks: [
            { name: "a", containerDisk: { image: "x" }, bootOrder: 5 },
            { name: "b", containerDisk: { image: "y" }, bootOrder: 5 },
            { name: "c", containerDisk: { image: "z" }, bootOrder: 1 },
          ],
        }).spec.disks,
      ),
    ).toEqual([2, 3, 1]);
  });
});
