import { execFileSync } from "node:child_process";
import {
  closeSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  readSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { DiskPlan } from "../../../src/launcher/disks/plan.js";
import { DiskError, prepareDisks } from "../../../src/launcher/disks/prepare.js";
import { logger } from "../../../src/util/log.js";

/**
 * Disk preparation with the host's real qemu-img and genisoimage. The refusals play the
 * attacker: an image whose header names a host file must never get that file opened.
 */
const log = logger("test");
/** ISO 9660: the primary volume descriptor is sector 16; its volume id starts at byte 40. */
const ISO_VOLUME_ID_OFFSET = 16 * 2048 + 40;

const qemuImg = (...args: string[]) => execFileSync("qemu-img", args, { encoding: "utf8" });
const info = (path: string) => JSON.parse(qemuImg("info", "-U", "--output=json", path));

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), "kv-disks-"));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** A container-disk image dir like the pod's: `<images>/<image>/disk/<file>`. */
function containerDisk(file: string, make: (path: string) => void): DiskPlan {
  const imageDir = join(dir, "images", "example_debian_12");
  mkdirSync(join(imageDir, "disk"), { recursive: true });
  const source = join(imageDir, "disk", file);
  make(source);
  return {
    kind: "containerDisk",
    name: "root",
    imageDir,
    source,
    target: join(dir, "d", "root.qcow2"),
  };
}

describe("container disks", () => {
  it("boots from a qcow2 overlay over a raw image, naming the image and its format", async () => {
    const plan = containerDisk("disk.img", (p) => writeFileSync(p, Buffer.alloc(1 << 20, 7)));
    const [disk] = await prepareDisks([plan], log);
    expect(disk).toEqual({
      name: "root",
      path: join(dir, "d", "root.qcow2"),
      format: "qcow2",
      readOnly: false,
    });
    expect(info(join(dir, "d", "root.qcow2"))).toMatchObject({
      "backing-filename": (plan as { source: string }).source,
      "backing-filename-format": "raw",
      "virtual-size": 1 << 20,
    });
  });

  it("detects qcow2 by content, not by name", async () => {
    const plan = containerDisk("disk.img", (p) => qemuImg("create", "-q", "-f", "qcow2", p, "2M"));
    await prepareDisks([plan], log);
    expect(info(join(dir, "d", "root.qcow2"))).toMatchObject({
      "backing-filename-format": "qcow2",
      "virtual-size": 2 << 20,
    });
  });

  it("refuses a qcow2 whose backing file is the launcher's TLS key", async () => {
    const key = join(dir, "tls", "tls.key");
    mkdirSync(join(dir, "tls"));
    writeFileSync(key, "-----BEGIN PRIVATE KEY-----\nsecret\n");
    const plan = containerDisk("disk.qcow2", (p) =>
      qemuImg("create", "-q", "-f", "qcow2", "-b", key, "-F", "raw", p),
    );
    await expect(prepareDisks([plan], log)).rejects.toThrow(
      /^disk root: image .*disk\.qcow2 is refused: its qcow2 header names a backing file$/,
    );
    await expect(prepareDisks([plan], log)).rejects.toBeInstanceOf(DiskError);
  });

  it("refuses a qcow2 with an external data file", async () => {
    const data = join(dir, "elsewhere.raw");
    const plan = containerDisk("disk.qcow2", (p) =>
      qemuImg("create", "-q", "-f", "qcow2", "-o", `data_file=${data},data_file_raw=on`, p, "1M"),
    );
    await expect(prepareDisks([plan], log)).rejects.toThrow(/disk root: .*external data file/);
  });

  it("refuses a VMDK descriptor that names a host file", async () => {
    const plan = containerDisk("disk.img", (p) =>
      writeFileSync(p, '# Disk DescriptorFile\nversion=1\nRW 8 FLAT "/etc/hostname" 0\n'),
    );
    await expect(prepareDisks([plan], log)).rejects.toThrow(/disk root: .*vmdk/);
  });

  it("refuses a symbolic link anywhere below the image's root", async () => {
    const outside = join(dir, "outside.img");
    writeFileSync(outside, Buffer.alloc(4096));
    const linked = containerDisk("disk.img", (p) => symlinkSync(outside, p));
    await expect(prepareDisks([linked], log)).rejects.toThrow(
      /disk root: .*disk\.img is a symbolic link; links are refused/,
    );
    // A linked directory on the way is refused the same.
    const imageDir = join(dir, "images", "linked-dir");
    mkdirSync(join(dir, "real", "disk"), { recursive: true });
    writeFileSync(join(dir, "real", "disk", "disk.img"), Buffer.alloc(4096));
    mkdirSync(imageDir, { recursive: true });
    symlinkSync(join(dir, "real", "disk"), join(imageDir, "disk"));
    const viaDir: DiskPlan = {
      kind: "containerDisk",
      name: "root",
      imageDir,
      source: join(imageDir, "disk", "disk.img"),
      target: join(dir, "d", "root.qcow2"),
    };
    await expect(prepareDisks([viaDir], log)).rejects.toThrow(
      /linked-dir\/disk is a symbolic link/,
    );
  });

  it("says clearly when the image holds no such file", async () => {
    const plan = containerDisk("other.img", (p) => writeFileSync(p, ""));
    const missing = {
      ...plan,
      source: join(dir, "images", "example_debian_12", "disk", "disk.img"),
    };
    await expect(prepareDisks([missing], log)).rejects.toThrow(
      /disk root: container disk file not found/,
    );
  });
});

describe("persistent volume claims", () => {
  const pvc = (name = "data"): Extract<DiskPlan, { kind: "persistentVolumeClaim" }> => ({
    kind: "persistentVolumeClaim",
    name,
    device: join(dir, "devices", name),
    claimDir: join(dir, "pvcs", name),
    file: join(dir, "pvcs", name, "disk.img"),
  });

  it("creates a sparse disk.img the size of the claim's filesystem, less a reserve", async () => {
    const plan = pvc();
    mkdirSync(plan.claimDir, { recursive: true });
    const [disk] = await prepareDisks([plan], log);
    expect(disk).toEqual({ name: "data", path: plan.file, format: "raw", readOnly: false });
    const st = statSync(plan.file);
    expect(st.size).toBeGreaterThan(0);
    expect(st.size % (1024 * 1024)).toBe(0);
    expect(st.blocks * 512).toBeLessThan(1 << 20);
    // Used as it is the next time: the guest's data stays.
    writeFileSync(plan.file, Buffer.from("guest data"), { flag: "r+" });
    await prepareDisks([plan], log);
    const head = Buffer.alloc(10);
    const fd = openSync(plan.file, "r");
    readSync(fd, head, 0, 10, 0);
    closeSync(fd);
    expect(head.toString()).toBe("guest data");
  });

  it("uses a qcow2 disk.img as qcow2, and refuses one whose header names a backing file", async () => {
    const plan = pvc();
    mkdirSync(plan.claimDir, { recursive: true });
    qemuImg("create", "-q", "-f", "qcow2", plan.file, "4M");
    expect((await prepareDisks([plan], log))[0]).toMatchObject({ format: "qcow2" });
    // The guest owns the disk's bytes: a raw disk it rewrote as a qcow2 naming a host file.
    rmSync(plan.file);
    qemuImg("create", "-q", "-f", "qcow2", "-b", "/etc/hostname", "-F", "raw", plan.file);
    await expect(prepareDisks([plan], log)).rejects.toThrow(/disk data: .*backing file/);
  });

  it("refuses a linked disk.img and says which mount is missing", async () => {
    const plan = pvc();
    mkdirSync(plan.claimDir, { recursive: true });
    symlinkSync("/etc/hostname", plan.file);
    await expect(prepareDisks([plan], log)).rejects.toThrow(/disk data: .* is not a regular file/);
    await expect(prepareDisks([pvc("gone")], log)).rejects.toThrow(
      /disk gone: its claim is mounted neither as a block device at .* nor as a filesystem at/,
    );
  });

  it("refuses a device path that is not a block device", async () => {
    const plan = pvc();
    mkdirSync(join(dir, "devices"));
    writeFileSync(plan.device, "");
    await expect(prepareDisks([plan], log)).rejects.toThrow(/disk data: .* is not a block device/);
  });
});

/** A loop device over `file` for the test's duration; undefined where losetup is not allowed. */
function loopDevice(file: string): { path: string; detach: () => void } | undefined {
  try {
    const path = execFileSync("losetup", ["-f", "--show", file], { encoding: "utf8" }).trim();
    return { path, detach: () => execFileSync("losetup", ["-d", path]) };
  } catch {
    return undefined;
  }
}

describe("block-mode claims (loop devices; skipped without root)", () => {
  const plan = (): Extract<DiskPlan, { kind: "persistentVolumeClaim" }> => ({
    kind: "persistentVolumeClaim",
    name: "blk",
    device: join(dir, "devices", "blk"),
    claimDir: join(dir, "pvcs", "blk"),
    file: join(dir, "pvcs", "blk", "disk.img"),
  });

  it("uses the device directly, raw unless it holds a qcow2", async (ctx) => {
    const backing = join(dir, "blk.raw");
    writeFileSync(backing, Buffer.alloc(8 << 20));
    const loop = loopDevice(backing);
    if (!loop) return ctx.skip();
    try {
      const p = plan();
      mkdirSync(join(dir, "devices"));
      // The pod's device node; a link to the loop device stands in for it here.
      symlinkSync(loop.path, p.device);
      expect(await prepareDisks([p], log)).toEqual([
        { name: "blk", path: p.device, format: "raw", readOnly: false, device: true },
      ]);
    } finally {
      loop.detach();
    }
  });

  it("refuses a device holding a qcow2 that names a backing file", async (ctx) => {
    const image = join(dir, "blk.qcow2");
    qemuImg("create", "-q", "-f", "qcow2", "-b", "/etc/hostname", "-F", "raw", image);
    const loop = loopDevice(image);
    if (!loop) return ctx.skip();
    try {
      const p = plan();
      mkdirSync(join(dir, "devices"));
      symlinkSync(loop.path, p.device);
      await expect(prepareDisks([p], log)).rejects.toThrow(/disk blk: .*backing file/);
    } finally {
      loop.detach();
    }
  });
});

describe("cloud-init seeds", () => {
  const seed = (
    extra: Partial<Extract<DiskPlan, { kind: "cloudInitNoCloud" }>> = {},
  ): DiskPlan => ({
    kind: "cloudInitNoCloud",
    name: "seed",
    target: join(dir, "d", "seed.iso"),
    metaData: "instance-id: u\nlocal-hostname: web\n",
    ...extra,
  });

  it("makes a cidata volume from inline user-data, readable only by the launcher", async () => {
    const [disk] = await prepareDisks([seed({ userData: { inline: "#cloud-config\n" } })], log);
    expect(disk).toMatchObject({ format: "raw", readOnly: true });
    const iso = readFileSync(join(dir, "d", "seed.iso"));
    expect(iso.subarray(ISO_VOLUME_ID_OFFSET, ISO_VOLUME_ID_OFFSET + 6).toString()).toBe("cidata");
    expect(iso.includes("#cloud-config\n")).toBe(true);
    expect(iso.includes("local-hostname: web")).toBe(true);
    expect(statSync(join(dir, "d", "seed.iso")).mode & 0o077).toBe(0);
  });

  it("reads user-data from a Secret volume (key userData, through the kubelet's links)", async () => {
    const secretDir = join(dir, "cloud-init", "seed", "userdata");
    mkdirSync(join(secretDir, "..2026_11_29"), { recursive: true });
    writeFileSync(join(secretDir, "..2026_11_29", "userData"), "#cloud-config\nSECRET-TOKEN\n");
    symlinkSync("..2026_11_29/userData", join(secretDir, "userData"));
    const plan = seed({
      userData: {
        secretDir,
        keys: ["userdata", "userData"],
        field: "cloudInitNoCloud.userDataSecretRef",
      },
    });
    await prepareDisks([plan], log);
    expect(readFileSync(join(dir, "d", "seed.iso")).includes("SECRET-TOKEN")).toBe(true);
  });

  it("names the field, never the content, when the Secret lacks the key", async () => {
    const secretDir = join(dir, "cloud-init", "seed", "networkdata");
    mkdirSync(secretDir, { recursive: true });
    writeFileSync(join(secretDir, "other"), "SECRET-TOKEN");
    const plan = seed({
      networkData: {
        secretDir,
        keys: ["networkdata", "networkData"],
        field: "cloudInitNoCloud.networkDataSecretRef",
      },
    });
    const err = await prepareDisks([plan], log).catch((e: Error) => e);
    expect(err).toBeInstanceOf(DiskError);
    expect((err as Error).message).toBe(
      "disk seed: cloudInitNoCloud.networkDataSecretRef: the Secret has no key networkdata or networkData",
    );
    rmSync(secretDir, { recursive: true });
    await expect(prepareDisks([plan], log)).rejects.toThrow(/the Secret is not mounted at/);
  });
});
