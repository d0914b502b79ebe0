import { open } from "node:fs/promises";

export type DiskFormat = "raw" | "qcow2";

const QCOW2_MAGIC = Buffer.from([0x51, 0x46, 0x49, 0xfb]);

/** A container disk is qcow2 when it carries qcow2's magic; anything else is raw. */
export function formatFromHeader(header: Buffer): DiskFormat {
  return header.subarray(0, 4).equals(QCOW2_MAGIC) ? "qcow2" : "raw";
}

export async function detectFormat(path: string): Promise<DiskFormat> {
  const file = await open(path, "r");
  try {
    const { buffer, bytesRead } = await file.read(Buffer.alloc(4), 0, 4, 0);
    return formatFromHeader(buffer.subarray(0, bytesRead));
  } finally {
    await file.close();
  }
}
