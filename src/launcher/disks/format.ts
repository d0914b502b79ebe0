import { z } from "zod";

/**
 * Judging a disk image before QEMU opens it. Image files come from users (container images,
 * claims the guest itself wrote): a header that names another file — a qcow2 backing file or
 * external data file, a VMDK extent — would make QEMU open that file on the host, e.g. the
 * launcher's TLS key. So the launcher reads the header itself first and refuses every format
 * that can name a file, and only then asks `qemu-img info` (which also detects the format);
 * QEMU is always given the format explicitly and never probes.
 */
export type DiskFormat = "raw" | "qcow2";

/** What the first bytes of an image say, before any tool opens it. */
export type HeaderSniff =
  | { kind: "qcow2"; version: number; backingFileOffset: bigint; incompatibleFeatures: bigint }
  /** A format that can name other files; the launcher never lets a tool open one. */
  | { kind: "refused"; format: string }
  | { kind: "other" };

export const HEADER_BYTES = 512;
const QCOW_MAGIC = 0x514649fb; // "QFI\xfb": qcow (version 1) and qcow2 (2, 3)
/** qcow2 v3 incompatible feature bit 2: the guest data lives in an external file. */
const QCOW2_EXTERNAL_DATA_FILE = 1n << 2n;

/** Formats QEMU can probe that reference other files by name, by their magic. */
const NAMING_FORMATS: { format: string; magic: Buffer }[] = [
  { format: "qed", magic: Buffer.from("QED\0", "latin1") },
  { format: "vmdk", magic: Buffer.from("KDMV", "latin1") },
  { format: "vmdk", magic: Buffer.from("COWD", "latin1") },
  { format: "vmdk", magic: Buffer.from("# Disk DescriptorFile", "latin1") },
];

export function sniffHeader(header: Buffer): HeaderSniff {
  if (header.length >= 4 && header.readUInt32BE(0) === QCOW_MAGIC) {
    if (header.length < 8) return { kind: "refused", format: "truncated qcow2" };
    const version = header.readUInt32BE(4);
    if (version < 2) return { kind: "refused", format: "qcow" };
    // Version 2 headers end before the feature fields; they have no incompatible features.
    const hasFeatures = version >= 3 && header.length >= 80;
    return {
      kind: "qcow2",
      version,
      backingFileOffset: header.length >= 16 ? header.readBigUInt64BE(8) : 0n,
      incompatibleFeatures: hasFeatures ? header.readBigUInt64BE(72) : 0n,
    };
  }
  for (const { format, magic } of NAMING_FORMATS) {
    if (header.subarray(0, magic.length).equals(magic)) return { kind: "refused", format };
  }
  return { kind: "other" };
}

/** Why the header alone rules the image out, or undefined. */
export function headerRefusal(sniff: HeaderSniff): string | undefined {
  if (sniff.kind === "refused") return `it is a ${sniff.format} image; only qcow2 and raw are used`;
  if (sniff.kind !== "qcow2") return undefined;
  if (sniff.backingFileOffset !== 0n) return "its qcow2 header names a backing file";
  if (sniff.incompatibleFeatures & QCOW2_EXTERNAL_DATA_FILE) {
    return "its qcow2 header names an external data file";
  }
  return undefined;
}

/** The parts of `qemu-img info --output=json` the launcher judges. */
export const ImageInfo = z.object({
  format: z.string(),
  "virtual-size": z.number().int().nonnegative(),
  "backing-filename": z.string().optional(),
  "full-backing-filename": z.string().optional(),
  "format-specific": z
    .object({ data: z.object({ "data-file": z.string().optional() }).loose().optional() })
    .loose()
    .optional(),
});
export type ImageInfo = z.infer<typeof ImageInfo>;

export interface JudgedImage {
  format: DiskFormat;
  virtualSizeBytes: number;
}

export class ImageRefused extends Error {
  override name = "ImageRefused";
}

/**
 * The verdict on an image: its format and size, or ImageRefused naming the disk. The header
 * check runs first (nothing may be opened for an image that names files); qemu-img's
 * answer is checked again because it knows more header extensions than the sniff does.
 */
export function judgeImage(
  disk: string,
  path: string,
  sniff: HeaderSniff,
  info: ImageInfo | undefined,
): JudgedImage {
  const refuse = (why: string) =>
    new ImageRefused(`disk ${disk}: image ${path} is refused: ${why}`);
  const early = headerRefusal(sniff);
  if (early) throw refuse(early);
  if (!info) throw refuse("qemu-img could not read it");
  if (info.format !== "raw" && info.format !== "qcow2") {
    throw refuse(`it is a ${info.format} image; only qcow2 and raw are used`);
  }
  // The header decides qcow2; qemu-img must agree, or one of the two is being fooled.
  if ((info.format === "qcow2") !== (sniff.kind === "qcow2")) {
    throw refuse(`its header and qemu-img disagree on the format (${info.format})`);
  }
  const backing = info["backing-filename"] ?? info["full-backing-filename"];
  if (backing !== undefined) throw refuse("it names a backing file");
  if (info["format-specific"]?.data?.["data-file"] !== undefined) {
    throw refuse("it names an external data file");
  }
  return { format: info.format, virtualSizeBytes: info["virtual-size"] };
}
