import { describe, expect, it } from "vitest";
import { formatFromHeader } from "../../../src/launcher/disks/format.js";
import { noCloudFiles } from "../../../src/launcher/disks/nocloud.js";
import { planDisks } from "../../../src/launcher/disks/plan.js";
import { pathInside } from "../../../src/launcher/paths.js";
import { launchedVm } from "./fixtures.js";

const dirs = { disksDir: "/d", imagesDir: "/i", pvcsDir: "/p" };

describe("planDisks", () => {
  it("plans every kind of disk, in spec order, into the pod's directories", () => {
    const vm = launchedVm({
      disks: [
        { name: "root", containerDisk: { image: "example/debian:12" } },
        { name: "data", persistentVolumeClaim: { claimName: "data-claim" } },
        { name: "scratch", emptyDisk: { size: "1000" } },
        { name: "seed", cloudInitNoCloud: { userData: "#cloud-config\n" } },
      ],
    });
    expect(planDisks(vm, dirs)).toEqual([
      {
        kind: "containerDisk",
        name: "root",
        source: "/i/example_debian_12/disk/disk.img",
        target: "/d/root.qcow2",
      },
      { kind: "persistentVolumeClaim", name: "data", target: "/p/data/disk.img" },
      { kind: "emptyDisk", name: "scratch", target: "/d/scratch.img", sizeBytes: 1024 },
      {
        kind: "cloudInitNoCloud",
        name: "seed",
        target: "/d/seed.iso",
        files: {
          "meta-data": "instance-id: 0b6b7c1e-uid\nlocal-hostname: web\n",
          "user-data": "#cloud-config\n",
        },
      },
    ]);
  });

  it("keeps a container disk path inside its image", () => {
    const vm = launchedVm({
      disks: [{ name: "root", containerDisk: { image: "x", path: "../../etc/shadow" } }],
    });
    expect(planDisks(vm, dirs)[0]).toMatchObject({ source: "/i/x/etc/shadow" });
  });

  it("sizes empty disks in whole sectors", () => {
    const vm = launchedVm({ disks: [{ name: "e", emptyDisk: { size: "1Gi" } }] });
    expect(planDisks(vm, dirs)[0]).toMatchObject({ sizeBytes: 1024 ** 3 });
  });
});

describe("noCloudFiles", () => {
  it("uses the VM's uid as instance-id so restarts and migrations are the same instance", () => {
    const files = noCloudFiles({ name: "web", uid: "u-1" }, { networkData: "version: 2\n" });
    expect(files).toEqual({
      "meta-data": "instance-id: u-1\nlocal-hostname: web\n",
      "user-data": "",
      "network-config": "version: 2\n",
    });
  });
});

describe("formatFromHeader", () => {
  it("recognises qcow2 by its magic and calls anything else raw", () => {
    expect(formatFromHeader(Buffer.from([0x51, 0x46, 0x49, 0xfb, 0, 0, 0, 3]))).toBe("qcow2");
    expect(formatFromHeader(Buffer.alloc(512))).toBe("raw");
    expect(formatFromHeader(Buffer.alloc(0))).toBe("raw");
  });
});

describe("pathInside", () => {
  it("resolves below the root and refuses the root itself", () => {
    expect(pathInside("/img", "/boot/vmlinuz")).toBe("/img/boot/vmlinuz");
    expect(pathInside("/img", "boot/../boot/initrd")).toBe("/img/boot/initrd");
    expect(pathInside("/img", "/../../x")).toBe("/img/x");
    expect(() => pathInside("/img", "/")).toThrow(/does not name a file/);
  });
});
