import { execFileSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { DiskPlan } from "../../../src/launcher/disks/plan.js";
import { DiskError, prepareDisks } from "../../../src/launcher/disks/prepare.js";
import { logger } from "../../../src/util/log.js";

const log = logger("test");
/** ISO 9660: the primary volume descriptor is sector 16; its volume id starts at byte 40. */
const ISO_VOLUME_ID_OFFSET = 16 * 2048 + 40;

describe("prepareDisks (with the host's qemu-img and genisoimage)", () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), "kv-disks-"));
  });
  afterEach(() => rmSync(dir, { recursive: true, force: true }));

  it("makes a qcow2 overlay over a container disk, leaving the image untouched", async () => {
    const image = join(dir, "image.raw");
    writeFileSync(image, Buffer.alloc(1024 * 1024, 7));
    const [disk] = await prepareDisks(
      [
        {
          kind: "containerDisk",
          name: "root",
          source: image,
          target: join(dir, "d", "root.qcow2"),
        },
      ],
      log,
    );
    expect(disk).toEqual({
      name: "root",
      path: join(dir, "d", "root.qcow2"),
      format: "qcow2",
      readOnly: false,
    });
    const info = JSON.parse(
      execFileSync("qemu-img", ["info", "--output=json", join(dir, "d", "root.qcow2")], {
        encoding: "utf8",
      }),
    );
    expect(info).toMatchObject({ "backing-filename": image, "backing-filename-format": "raw" });
    expect(info["virtual-size"]).toBe(1024 * 1024);
  });

  it("copies a container disk whole when qemu-img is missing", async () => {
    const image = join(dir, "image.raw");
    writeFileSync(image, Buffer.alloc(4096, 1));
    const path = process.env.PATH;
    process.env.PATH = join(dir, "no-tools");
    try {
      const [disk] = await prepareDisks(
        [{ kind: "containerDisk", name: "root", source: image, target: join(dir, "root.qcow2") }],
        log,
      );
      expect(disk).toMatchObject({ path: join(dir, "root.raw"), format: "raw" });
      expect(readFileSync(join(dir, "root.raw")).equals(readFileSync(image))).toBe(true);
    } finally {
      process.env.PATH = path;
    }
  });

  it("makes a sparse empty disk and a cidata seed", async () => {
    const plans: DiskPlan[] = [
      { kind: "emptyDisk", name: "scratch", target: join(dir, "scratch.img"), sizeBytes: 1 << 30 },
      {
        kind: "cloudInitNoCloud",
        name: "seed",
        target: join(dir, "seed.iso"),
        files: { "meta-data": "instance-id: u\n", "user-data": "#cloud-config\n" },
      },
    ];
    const disks = await prepareDisks(plans, log);
    expect(disks.map((d) => [d.format, d.readOnly])).toEqual([
      ["raw", false],
      ["raw", true],
    ]);
    const scratch = statSync(join(dir, "scratch.img"));
    expect(scratch.size).toBe(1 << 30);
    expect(scratch.blocks * 512).toBeLessThan(1 << 20);
    const iso = readFileSync(join(dir, "seed.iso"));
    expect(iso.subarray(ISO_VOLUME_ID_OFFSET, ISO_VOLUME_ID_OFFSET + 6).toString()).toBe("cidata");
    expect(iso.includes("#cloud-config\n")).toBe(true);
  });

  it("uses a claim's disk image as it is and says clearly when there is none", async () => {
    mkdirSync(join(dir, "pvc"));
    writeFileSync(join(dir, "pvc", "disk.img"), "");
    const plan: DiskPlan = {
      kind: "persistentVolumeClaim",
      name: "data",
      target: join(dir, "pvc", "disk.img"),
    };
    expect(await prepareDisks([plan], log)).toEqual([
      { name: "data", path: plan.target, format: "raw", readOnly: false },
    ]);
    await expect(
      prepareDisks([{ ...plan, target: join(dir, "missing", "disk.img") }], log),
    ).rejects.toThrow(DiskError);
    await expect(
      prepareDisks(
        [{ kind: "containerDisk", name: "r", source: join(dir, "nope"), target: join(dir, "r") }],
        log,
      ),
    ).rejects.toThrow(/disk r: container disk file not found/);
  });
});
