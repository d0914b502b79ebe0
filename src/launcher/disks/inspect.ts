import { constants } from "node:fs";
import { lstat, open } from "node:fs/promises";
import { relative, sep } from "node:path";
import {
  HEADER_BYTES,
  headerRefusal,
  ImageInfo,
  ImageRefused,
  type JudgedImage,
  judgeImage,
  sniffHeader,
} from "./format.js";
import { runTool, ToolMissingError } from "./tools.js";

/**
 * Inspect the image at `path` for disk `disk`: our own look at its header first, then
 * `qemu-img info` (never reached for a header that names a file). `-U`: a migration source's
 * QEMU may hold the write lock on a shared claim's image.
 */
export async function inspectImage(
  disk: string,
  path: string,
  opts: { device?: boolean } = {},
): Promise<JudgedImage> {
  const sniff = sniffHeader(await readHeader(path, !opts.device));
  const early = headerRefusal(sniff);
  if (early) throw new ImageRefused(`disk ${disk}: image ${path} is refused: ${early}`);
  let json: string;
  try {
    json = await runTool("qemu-img", ["info", "-U", "--output=json", path]);
  } catch (err) {
    if (err instanceof ToolMissingError) {
      throw new ImageRefused(`disk ${disk}: qemu-img is needed to inspect ${path}`);
    }
    throw new ImageRefused(`disk ${disk}: ${(err as Error).message}`);
  }
  const parsed = ImageInfo.safeParse(safeJson(json));
  return judgeImage(disk, path, sniff, parsed.success ? parsed.data : undefined);
}

async function readHeader(path: string, noFollow: boolean): Promise<Buffer> {
  // A file's last component was checked not to be a link: keep it that way. A device's path
  // comes from the pod spec, not from an image.
  const file = await open(path, constants.O_RDONLY | (noFollow ? constants.O_NOFOLLOW : 0));
  try {
    const { buffer, bytesRead } = await file.read(Buffer.alloc(HEADER_BYTES), 0, HEADER_BYTES, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await file.close();
  }
}

function safeJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/**
 * Refuse `path` unless every component below `root` is a real directory or, for the last, a
 * regular file: a link inside an image could point anywhere on the host. `root` itself may be
 * a link (local nodes mount images that way).
 */
export async function refuseLinksBelow(disk: string, root: string, path: string): Promise<void> {
  const parts = relative(root, path).split(sep);
  let current = root;
  for (const [i, part] of parts.entries()) {
    current = `${current}${sep}${part}`;
    const st = await lstat(current).catch(() => undefined);
    if (!st) throw new ImageRefused(`disk ${disk}: container disk file not found: ${path}`);
    if (st.isSymbolicLink()) {
      throw new ImageRefused(`disk ${disk}: ${current} is a symbolic link; links are refused`);
    }
    const last = i === parts.length - 1;
    if (last ? !st.isFile() : !st.isDirectory()) {
      throw new ImageRefused(
        `disk ${disk}: ${current} is not a ${last ? "regular file" : "directory"}`,
      );
    }
  }
}
