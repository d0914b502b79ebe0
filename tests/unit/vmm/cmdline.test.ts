import { describe, expect, it } from "vitest";
import { buildQemuArgs, kernelCmdline, TCG_TB_SIZE_MIB } from "../../../src/vmm/cmdline.js";
import { type GuestConfig, GuestConfigError } from "../../../src/vmm/config.js";
import { launch, values } from "./cmdline-fixtures.js";

const guest: GuestConfig = {
  name: "vm1",
  machine: "q35",
  cores: 2,
  memoryMiB: 256,
  kernel: { path: "/img/boot/vmlinuz", initrdPath: "/img/boot/initrd.img", cmdline: "quiet" },
  disks: [],
};

describe("buildQemuArgs", () => {
  it("builds a minimal q35 guest with direct kernel boot and both sockets", () => {
    const args = buildQemuArgs(guest, launch);
    expect(args.slice(0, 2)).toEqual(["-nodefaults", "-no-user-config"]);
    expect(values(args, "-display")).toEqual(["none"]);
    expect(values(args, "-machine")).toEqual(["q35"]);
    // The translation cache bounded (QEMU's default 1 GiB outgrows the pod's memory limit).
    expect(values(args, "-accel")).toEqual([`tcg,tb-size=${TCG_TB_SIZE_MIB}`]);
    expect(values(args, "-cpu")).toEqual(["max"]);
    expect(values(args, "-smp")).toEqual(["2,sockets=1,cores=2,threads=1"]);
    expect(values(args, "-m")).toEqual(["256M"]);
    expect(values(args, "-kernel")).toEqual(["/img/boot/vmlinuz"]);
    expect(values(args, "-initrd")).toEqual(["/img/boot/initrd.img"]);
    expect(values(args, "-append")).toEqual(["console=ttyS0 quiet"]);
    expect(values(args, "-chardev")).toEqual([
      "socket,id=serial0,path=/run/vm/serial.sock,server=on,wait=off",
      "socket,id=qmp,path=/run/vm/qmp.sock,server=on,wait=off",
    ]);
    expect(values(args, "-serial")).toEqual(["chardev:serial0"]);
    expect(values(args, "-mon")).toEqual(["chardev=qmp,mode=control"]);
    expect(args).toContain("-S");
    expect(args).not.toContain("-incoming");
    expect(args).not.toContain("-netdev");
  });

  it("adds a VGA display served as VNC on its unix socket only, and none without graphics", () => {
    expect(buildQemuArgs(guest, launch)).not.toContain("-vnc");
    const args = buildQemuArgs({ ...guest, graphics: { vncSocket: "/run/vm/vnc.sock" } }, launch);
    expect(values(args, "-vnc")).toEqual(["unix:/run/vm/vnc.sock"]);
    expect(values(args, "-device")).toContain("VGA,id=video0");
    // Never a TCP display: -vnc takes no host:display form from us.
    expect(values(args, "-vnc").every((v) => v.startsWith("unix:"))).toBe(true);
    const bad = (g: GuestConfig, field: string) =>
      expect(() => buildQemuArgs(g, launch)).toThrow(expect.objectContaining({ field }));
    bad({ ...guest, machine: "microvm", graphics: { vncSocket: "/v.sock" } }, "graphics");
    bad({ ...guest, graphics: { vncSocket: "/a,b.sock" } }, "graphics.vncSocket");
    bad({ ...guest, graphics: { vncSocket: `/${"x".repeat(120)}` } }, "graphics.vncSocket");
  });

  it("always runs QEMU in its seccomp sandbox: no spawning, privilege or resource changes", () => {
    for (const l of [launch, { ...launch, incoming: true }, { ...launch, accel: "kvm" as const }]) {
      const args = buildQemuArgs(guest, l);
      expect(values(args, "-sandbox")).toEqual([
        "on,obsolete=deny,elevateprivileges=deny,spawn=deny,resourcecontrol=deny",
      ]);
    }
  });

  it("uses KVM with the host CPU, and an explicit CPU model wins", () => {
    const kvm = buildQemuArgs(guest, { ...launch, accel: "kvm" });
    expect(values(kvm, "-accel")).toEqual(["kvm"]);
    expect(values(kvm, "-cpu")).toEqual(["host"]);
    const custom = buildQemuArgs(
      { ...guest, cpuModel: "Skylake-Server" },
      { ...launch, accel: "kvm" },
    );
    expect(values(custom, "-cpu")).toEqual(["Skylake-Server"]);
  });

  it("adds virtio-blk disks as blockdev nodes (JSON, so paths may hold commas)", () => {
    const args = buildQemuArgs(
      {
        ...guest,
        disks: [
          { name: "root", path: "/d/a,b.qcow2", format: "qcow2", readOnly: false },
          { name: "cloudinit-with-a-long-name", path: "/d/ci.img", format: "raw", readOnly: true },
        ],
      },
      launch,
    );
    const blockdevs = values(args, "-blockdev").map((j) => JSON.parse(j));
    expect(blockdevs[0]).toEqual({
      driver: "qcow2",
      "node-name": "disk0",
      "read-only": false,
      file: {
        driver: "file",
        filename: "/d/a,b.qcow2",
        "node-name": "disk0-file",
        "read-only": false,
      },
    });
    expect(blockdevs[1]["read-only"]).toBe(true);
    expect(values(args, "-device").filter((d) => d.startsWith("virtio-blk"))).toEqual([
      "virtio-blk-pci,drive=disk0,id=disk0-dev,serial=root",
      "virtio-blk-pci,drive=disk1,id=disk1-dev,serial=cloudinit-with-a-lon",
    ]);
  });

  it("forwards declared ports from the given host address on user-mode networking", () => {
    const args = buildQemuArgs(
      {
        ...guest,
        network: {
          ports: [
            { protocol: "tcp", hostAddress: "127.0.0.2", hostPort: 8080, guestPort: 80 },
            { protocol: "udp", hostAddress: "127.0.0.2", hostPort: 5353, guestPort: 53 },
          ],
        },
      },
      launch,
    );
    expect(values(args, "-netdev")).toEqual([
      "user,id=net0,hostfwd=tcp:127.0.0.2:8080-:80,hostfwd=udp:127.0.0.2:5353-:53",
    ]);
    expect(values(args, "-device").filter((d) => d.startsWith("virtio-net"))).toEqual([
      "virtio-net-pci,netdev=net0,id=net0-dev,romfile=",
    ]);
  });

  it("uses virtio-mmio devices on microvm", () => {
    const args = buildQemuArgs(
      {
        ...guest,
        machine: "microvm",
        disks: [{ name: "d", path: "/d.img", format: "raw", readOnly: false }],
        network: { ports: [] },
      },
      launch,
    );
    expect(values(args, "-machine")).toEqual(["microvm"]);
    expect(values(args, "-device")).toEqual([
      "virtio-blk-device,drive=disk0,id=disk0-dev,serial=d",
      "virtio-net-device,netdev=net0,id=net0-dev",
      "virtio-rng-device,rng=rng0,id=rng0-dev",
    ]);
  });

  it("spares a TCG microvm guest the TSC calibration that stalls it on busy hosts", () => {
    const micro = { ...guest, machine: "microvm" as const };
    const withTsc = { ...launch, hostTscKhz: 2596150 };
    expect(values(buildQemuArgs(micro, withTsc), "-append")).toEqual([
      "console=ttyS0 quiet tsc_early_khz=2596150",
    ]);
    expect(values(buildQemuArgs(guest, withTsc), "-append")).toEqual(["console=ttyS0 quiet"]);
    expect(values(buildQemuArgs(micro, { ...withTsc, accel: "kvm" }), "-append")).toEqual([
      "console=ttyS0 quiet",
    ]);
  });

  it("starts a migration target waiting, not paused-for-boot", () => {
    const args = buildQemuArgs(guest, {
      ...launch,
      startPaused: false,
      incoming: true,
      exitOnReboot: true,
    });
    expect(values(args, "-incoming")).toEqual(["defer"]);
    expect(args).not.toContain("-S");
    expect(args).toContain("-no-reboot");
  });

  it("is identical for source and target apart from how they start", () => {
    const source = buildQemuArgs(guest, launch);
    const target = buildQemuArgs(guest, { ...launch, startPaused: false, incoming: true });
    expect(target.filter((a) => a !== "-incoming" && a !== "defer")).toEqual(
      source.filter((a) => a !== "-S"),
    );
  });

  it.each([
    [{ cores: 0 }, "cores"],
    [{ cores: 1.5 }, "cores"],
    [{ memoryMiB: 8 }, "memoryMiB"],
    [{ name: "bad name" }, "name"],
    [{ kernel: { path: "" } }, "kernel.path"],
    [
      {
        network: {
          ports: [{ protocol: "tcp", hostAddress: "localhost", hostPort: 1, guestPort: 1 }],
        },
      },
      "network.ports[0]",
    ],
    [
      {
        network: {
          ports: [
            { protocol: "tcp", hostAddress: "127.0.0.1", hostPort: 80, guestPort: 80 },
            { protocol: "tcp", hostAddress: "127.0.0.1", hostPort: 80, guestPort: 81 },
          ],
        },
      },
      "network.ports[1]",
    ],
    [
      {
        network: {
          ports: [{ protocol: "tcp", hostAddress: "127.0.0.1", hostPort: 0, guestPort: 1 }],
        },
      },
      "network.ports[0]",
    ],
  ] as [Partial<GuestConfig>, string][])("refuses %j naming %s", (patch, field) => {
    const err = (() => {
      try {
        buildQemuArgs({ ...guest, ...patch }, launch);
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(GuestConfigError);
    expect((err as GuestConfigError).field).toBe(field);
  });
});

describe("kernelCmdline", () => {
  it("puts the console on the first UART unless the user chose one", () => {
    expect(kernelCmdline(undefined)).toBe("console=ttyS0");
    expect(kernelCmdline(" quiet ")).toBe("console=ttyS0 quiet");
    expect(kernelCmdline("console=hvc0 quiet")).toBe("console=hvc0 quiet");
  });
});
