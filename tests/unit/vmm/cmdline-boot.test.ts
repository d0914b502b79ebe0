import { describe, expect, it } from "vitest";
import { buildQemuArgs } from "../../../src/vmm/cmdline.js";
import { type DiskConfig, type GuestConfig, GuestConfigError } from "../../../src/vmm/config.js";
import {
  OVMF_CODE,
  OVMF_CODE_SECBOOT,
  OVMF_VARS,
  OVMF_VARS_MS,
  uefiVarsTemplate,
} from "../../../src/vmm/firmware.js";
import { launch, values } from "./cmdline-fixtures.js";

const root: DiskConfig = {
  name: "root",
  path: "/pv/disk.qcow2",
  format: "qcow2",
  readOnly: false,
  bootIndex: 0,
};
/** A cloud guest: no kernel, the firmware boots its disk. */
const cloud: GuestConfig = {
  name: "cloud",
  machine: "q35",
  cores: 1,
  memoryMiB: 512,
  disks: [root],
};

function fieldOf(config: GuestConfig): string | undefined {
  try {
    buildQemuArgs(config, launch);
    return undefined;
  } catch (err) {
    expect(err).toBeInstanceOf(GuestConfigError);
    return (err as GuestConfigError).field;
  }
}

describe("firmware", () => {
  it("boots a kernel-less q35 guest with SeaBIOS from its disk's bootindex", () => {
    const args = buildQemuArgs(cloud, launch);
    expect(args).not.toContain("-kernel");
    expect(args).not.toContain("-append");
    expect(values(args, "-machine")).toEqual(["q35"]);
    expect(values(args, "-device")).toContain(
      "virtio-blk-pci,drive=disk0,id=disk0-dev,serial=root,bootindex=0",
    );
    expect(buildQemuArgs({ ...cloud, firmware: { type: "bios" } }, launch)).toEqual(args);
  });

  it("maps OVMF code read-only and the VM's own vars writable as pflash", () => {
    const args = buildQemuArgs(
      { ...cloud, firmware: { type: "uefi", secureBoot: false, varsPath: "/pv/a,b.vars.fd" } },
      launch,
    );
    expect(values(args, "-machine")).toEqual(["q35,pflash0=fw-code,pflash1=fw-vars"]);
    const nodes = values(args, "-blockdev").map((j) => JSON.parse(j));
    expect(nodes.slice(0, 2)).toEqual([
      {
        driver: "raw",
        "node-name": "fw-code",
        "read-only": true,
        file: { driver: "file", filename: OVMF_CODE, "read-only": true },
      },
      {
        driver: "raw",
        "node-name": "fw-vars",
        "read-only": false,
        file: { driver: "file", filename: "/pv/a,b.vars.fd", "read-only": false },
      },
    ]);
    expect(args).not.toContain("-global");
  });

  it("turns Secure Boot on with the secboot build, SMM and a secure pflash", () => {
    const args = buildQemuArgs(
      { ...cloud, firmware: { type: "uefi", secureBoot: true, varsPath: "/pv/vars.fd" } },
      launch,
    );
    expect(values(args, "-machine")).toEqual(["q35,pflash0=fw-code,pflash1=fw-vars,smm=on"]);
    expect(values(args, "-global")).toEqual(["driver=cfi.pflash01,property=secure,value=on"]);
    expect(JSON.parse(values(args, "-blockdev")[0] ?? "").file.filename).toBe(OVMF_CODE_SECBOOT);
    expect(uefiVarsTemplate(true)).toBe(OVMF_VARS_MS);
    expect(uefiVarsTemplate(false)).toBe(OVMF_VARS);
  });

  it("takes an explicit firmware code path", () => {
    const args = buildQemuArgs(
      {
        ...cloud,
        firmware: { type: "uefi", secureBoot: false, codePath: "/fw/code.fd", varsPath: "/v" },
      },
      launch,
    );
    expect(JSON.parse(values(args, "-blockdev")[0] ?? "").file.filename).toBe("/fw/code.fd");
  });
});

describe("devices", () => {
  it("always gives the guest host entropy through virtio-rng", () => {
    const args = buildQemuArgs(cloud, launch);
    expect(values(args, "-object")).toEqual(["rng-random,id=rng0,filename=/dev/urandom"]);
    expect(values(args, "-device")).toContain("virtio-rng-pci,rng=rng0,id=rng0-dev");
  });

  it("adds the guest agent's virtio-serial port on a listening unix socket", () => {
    const args = buildQemuArgs({ ...cloud, agent: { socket: "/run/vm/agent.sock" } }, launch);
    expect(values(args, "-chardev")).toContain(
      "socket,id=agent0-chr,path=/run/vm/agent.sock,server=on,wait=off",
    );
    expect(values(args, "-device")).toEqual(
      expect.arrayContaining([
        "virtio-serial-pci,id=vser0",
        "virtserialport,bus=vser0.0,chardev=agent0-chr,name=org.qemu.guest_agent.0,id=agent0",
      ]),
    );
    const micro = buildQemuArgs(
      { ...cloud, machine: "microvm", kernel: { path: "/k" }, agent: { socket: "/a.sock" } },
      launch,
    );
    expect(values(micro, "-device")).toContain("virtio-serial-device,id=vser0");
    expect(values(buildQemuArgs(cloud, launch), "-device")).not.toContain(
      "virtio-serial-pci,id=vser0",
    );
  });

  it("opens a block device with host_device and a file with file", () => {
    const args = buildQemuArgs(
      {
        ...cloud,
        disks: [
          root,
          { name: "data", path: "/dev/vdb", format: "raw", readOnly: false, device: true },
        ],
      },
      launch,
    );
    const files = values(args, "-blockdev").map((j) => JSON.parse(j).file.driver);
    expect(files).toEqual(["file", "host_device"]);
    expect(values(args, "-device")).toContain(
      "virtio-blk-pci,drive=disk1,id=disk1-dev,serial=data",
    );
  });

  it("confines the guest on user-mode networking when asked, keeping the forwards", () => {
    const ports = [
      { protocol: "tcp" as const, hostAddress: "10.1.2.3", hostPort: 22, guestPort: 22 },
    ];
    const open = buildQemuArgs({ ...cloud, network: { ports } }, launch);
    expect(values(open, "-netdev")).toEqual(["user,id=net0,hostfwd=tcp:10.1.2.3:22-:22"]);
    const shut = buildQemuArgs({ ...cloud, network: { ports, restrictOutbound: true } }, launch);
    expect(values(shut, "-netdev")).toEqual([
      "user,id=net0,restrict=on,hostfwd=tcp:10.1.2.3:22-:22",
    ]);
  });
});

describe("validation names the field", () => {
  const uefi = { type: "uefi" as const, secureBoot: false, varsPath: "/v.fd" };
  it.each([
    ["no kernel and no disk", { ...cloud, disks: [] }, "kernel"],
    ["microvm without a kernel", { ...cloud, machine: "microvm" as const }, "kernel"],
    [
      "firmware on microvm",
      { ...cloud, machine: "microvm" as const, kernel: { path: "/k" }, firmware: uefi },
      "firmware",
    ],
    ["uefi without vars", { ...cloud, firmware: { ...uefi, varsPath: "" } }, "firmware.varsPath"],
    ["an empty code path", { ...cloud, firmware: { ...uefi, codePath: "" } }, "firmware.codePath"],
    [
      "a negative bootIndex",
      { ...cloud, disks: [{ ...root, bootIndex: -1 }] },
      "disks[0].bootIndex",
    ],
    [
      "a bootIndex used twice",
      { ...cloud, disks: [root, { ...root, name: "b", path: "/b" }] },
      "disks[1].bootIndex",
    ],
    ["a disk without a path", { ...cloud, disks: [{ ...root, path: "" }] }, "disks[0].path"],
    ["an empty agent socket", { ...cloud, agent: { socket: "" } }, "agent.socket"],
    [
      "an agent socket too long",
      { ...cloud, agent: { socket: `/${"a".repeat(120)}` } },
      "agent.socket",
    ],
  ] as [string, GuestConfig, string][])("refuses %s", (_, config, field) => {
    expect(fieldOf(config)).toBe(field);
  });

  it("accepts a kernel with UEFI on q35 (OVMF boots it directly)", () => {
    expect(fieldOf({ ...cloud, kernel: { path: "/k" }, disks: [], firmware: uefi })).toBe(
      undefined,
    );
  });
});
