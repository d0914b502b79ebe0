import { describe, expect, it } from "vitest";
import {
  headerRefusal,
  ImageRefused,
  judgeImage,
  sniffHeader,
} from "../../../src/launcher/disks/format.js";
import { noCloudFiles, noCloudMetaData } from "../../../src/launcher/disks/nocloud.js";
import { planDisks, pvcDiskSizeBytes } from "../../../src/launcher/disks/plan.js";
import { pathInside } from "../../../src/launcher/paths.js";
import { launchedVm } from "./fixtures.js";

const dirs = {
  disksDir: "/d",
  imagesDir: "/i",
  pvcsDir: "/p",
  pvcDevicesDir: "/b",
  cloudInitDir: "/c",
};

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
        imageDir: "/i/example_debian_12",
        source: "/i/example_debian_12/disk/disk.img",
        target: "/d/root.qcow2",
      },
      {
        kind: "persistentVolumeClaim",
        name: "data",
        device: "/b/data",
        claimDir: "/p/data",
        file: "/p/data/disk.img",
      },
      { kind: "emptyDisk", name: "scratch", target: "/d/scratch.img", sizeBytes: 1024 },
      {
        kind: "cloudInitNoCloud",
        name: "seed",
        target: "/d/seed.iso",
        metaData: "instance-id: 0b6b7c1e-uid\nlocal-hostname: web\n",
        userData: { inline: "#cloud-config\n" },
      },
    ]);
  });

  it("reads cloud-init from the Secret volumes by path, never carrying content", () => {
    const vm = launchedVm({
      disks: [
        {
          name: "seed",
          cloudInitNoCloud: {
            userDataSecretRef: { name: "web-userdata" },
            networkDataSecretRef: { name: "web-net" },
          },
        },
      ],
    });
    expect(planDisks(vm, dirs)[0]).toEqual({
      kind: "cloudInitNoCloud",
      name: "seed",
      target: "/d/seed.iso",
      metaData: "instance-id: 0b6b7c1e-uid\nlocal-hostname: web\n",
      userData: {
        secretDir: "/c/seed/userdata",
        keys: ["userdata", "userData"],
        field: "cloudInitNoCloud.userDataSecretRef",
      },
      networkData: {
        secretDir: "/c/seed/networkdata",
        keys: ["networkdata", "networkData"],
        field: "cloudInitNoCloud.networkDataSecretRef",
      },
    });
  });

  it("keeps a container disk path inside its image", () => {
    const vm = launchedVm({
      disks: [{ name: "root", containerDisk: { image: "x", path: "../../etc/shadow" } }],
    });
    expect(planDisks(vm, dirs)[0]).toMatchObject({ imageDir: "/i/x", source: "/i/x/etc/shadow" });
  });

  it("sizes empty disks in whole sectors", () => {
    const vm = launchedVm({ disks: [{ name: "e", emptyDisk: { size: "1Gi" } }] });
    expect(planDisks(vm, dirs)[0]).toMatchObject({ sizeBytes: 1024 ** 3 });
  });
});

describe("noCloud files", () => {
  it("uses the VM's uid as instance-id so restarts and migrations are the same instance", () => {
    const meta = noCloudMetaData({ name: "web", uid: "u-1" });
    expect(noCloudFiles(meta, { networkData: "version: 2\n" })).toEqual({
      "meta-data": "instance-id: u-1\nlocal-hostname: web\n",
      "user-data": "",
      "network-config": "version: 2\n",
    });
  });
});

describe("pvcDiskSizeBytes", () => {
  const MiB = 1024 * 1024;
  it("takes the filesystem's size less a reserve, in whole MiB", () => {
    // 10 GiB, all free: 1% (≈102 MiB) stays for the filesystem.
    const size = pvcDiskSizeBytes({ bsize: 4096, blocks: 2621440, bavail: 2621440 });
    expect(size % MiB).toBe(0);
    expect(size).toBe(Math.floor((10 * 1024 * MiB * 0.99) / MiB) * MiB);
  });

  it("never promises more than is free, and says 0 when nothing is left", () => {
    expect(pvcDiskSizeBytes({ bsize: 4096, blocks: 262144, bavail: 1000 })).toBe(3 * MiB);
    expect(pvcDiskSizeBytes({ bsize: 4096, blocks: 1000, bavail: 1000 })).toBe(0);
  });
});

/** A qcow2 header: magic, version, backing offset at 8, incompatible features at 72. */
function qcow2Header(opts: { version?: number; backing?: bigint; features?: bigint } = {}) {
  const h = Buffer.alloc(512);
  h.writeUInt32BE(0x514649fb, 0);
  h.writeUInt32BE(opts.version ?? 3, 4);
  h.writeBigUInt64BE(opts.backing ?? 0n, 8);
  h.writeBigUInt64BE(opts.features ?? 0n, 72);
  return h;
}

describe("sniffHeader and headerRefusal", () => {
  it("lets plain qcow2 and anything unnamed through to qemu-img", () => {
    expect(headerRefusal(sniffHeader(qcow2Header()))).toBeUndefined();
    expect(headerRefusal(sniffHeader(qcow2Header({ version: 2 })))).toBeUndefined();
    expect(sniffHeader(Buffer.alloc(512))).toEqual({ kind: "other" });
    expect(sniffHeader(Buffer.alloc(0))).toEqual({ kind: "other" });
  });

  it("refuses a qcow2 naming a backing or data file before any tool opens it", () => {
    expect(headerRefusal(sniffHeader(qcow2Header({ backing: 0x200n })))).toMatch(/backing file/);
    expect(headerRefusal(sniffHeader(qcow2Header({ features: 4n })))).toMatch(/data file/);
  });

  it("refuses formats that can name files: qcow v1, QED, VMDK", () => {
    expect(headerRefusal(sniffHeader(qcow2Header({ version: 1 })))).toMatch(/qcow image/);
    expect(headerRefusal(sniffHeader(Buffer.from("QED\0xxxx", "latin1")))).toMatch(/qed/);
    expect(headerRefusal(sniffHeader(Buffer.from("KDMV\x01", "latin1")))).toMatch(/vmdk/);
    const descriptor = Buffer.from('# Disk DescriptorFile\nRW 1 FLAT "/etc/shadow" 0\n');
    expect(headerRefusal(sniffHeader(descriptor))).toMatch(/vmdk/);
  });
});

describe("judgeImage", () => {
  const raw = sniffHeader(Buffer.alloc(512));
  const qcow2 = sniffHeader(qcow2Header());
  const info = (format: string, extra: Record<string, unknown> = {}) => ({
    format,
    "virtual-size": 1 << 20,
    ...extra,
  });

  it("accepts raw and qcow2 with their virtual size", () => {
    expect(judgeImage("root", "/x", raw, info("raw"))).toEqual({
      format: "raw",
      virtualSizeBytes: 1 << 20,
    });
    expect(judgeImage("root", "/x", qcow2, info("qcow2")).format).toBe("qcow2");
  });

  it("refuses, naming the disk, whatever names another file or is another format", () => {
    const refused = (s: typeof raw, i: ReturnType<typeof info> | undefined) => () =>
      judgeImage("root", "/img/disk", s, i);
    expect(refused(qcow2, info("qcow2", { "backing-filename": "/tls/tls.key" }))).toThrow(
      /^disk root: image \/img\/disk is refused: it names a backing file$/,
    );
    expect(
      refused(qcow2, info("qcow2", { "format-specific": { data: { "data-file": "/x" } } })),
    ).toThrow(/external data file/);
    expect(refused(raw, info("vpc"))).toThrow(/vpc image/);
    expect(refused(raw, info("qcow2"))).toThrow(/disagree/);
    expect(refused(raw, undefined)).toThrow(ImageRefused);
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
