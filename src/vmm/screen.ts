import { randomBytes } from "node:crypto";
import { open, rm } from "node:fs/promises";
import { join } from "node:path";
import type { Vm } from "./vm.js";

/** A 720×400 text screen is ~10 KiB and a 1280×1024 desktop ~1–3 MiB as PNG. */
export const DEFAULT_SCREENSHOT_MAX_BYTES = 8 * 1024 * 1024;
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

export class ScreenshotError extends Error {
  override name = "ScreenshotError";
}

/**
 * The guest's current screen as PNG bytes (QMP `screendump … format=png`). QEMU writes the
 * file into the VM's private run dir under a name we choose; it is read back with a size
 * cap (the guest chooses its resolution, so it chooses the size) and always deleted.
 */
export async function screenshot(
  vm: Vm,
  opts: { maxBytes?: number; timeoutMs?: number } = {},
): Promise<Buffer> {
  const maxBytes = opts.maxBytes ?? DEFAULT_SCREENSHOT_MAX_BYTES;
  const file = join(vm.runDir, `screen-${randomBytes(8).toString("hex")}.png`);
  try {
    await vm.qmp.execute(
      "screendump",
      { filename: file, format: "png" },
      { timeoutMs: opts.timeoutMs ?? 10_000 },
    );
    const png = await readCapped(file, maxBytes);
    if (!png.subarray(0, 8).equals(PNG_SIGNATURE)) {
      throw new ScreenshotError("QEMU's screendump is not a PNG");
    }
    return png;
  } finally {
    await rm(file, { force: true });
  }
}

/** Width and height from a PNG's IHDR chunk; pure. */
export function pngSize(png: Buffer): { width: number; height: number } {
  if (png.length < 24 || !png.subarray(0, 8).equals(PNG_SIGNATURE)) {
    throw new ScreenshotError("not a PNG");
  }
  return { width: png.readUInt32BE(16), height: png.readUInt32BE(20) };
}

async function readCapped(path: string, maxBytes: number): Promise<Buffer> {
  const fh = await open(path, "r");
  try {
    const { size } = await fh.stat();
    if (size > maxBytes) {
      throw new ScreenshotError(`the screenshot is ${size} bytes, over the ${maxBytes}-byte cap`);
    }
    const buf = Buffer.alloc(size);
    const { bytesRead } = await fh.read(buf, 0, size, 0);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}
