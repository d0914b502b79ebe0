import { createHash } from "node:crypto";
import {
  chmodSync,
  cpSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { cacheDir } from "../../util/paths.js";
import { debianImageDir } from "../../vmm/debian-image.js";
import { guestImageDir } from "../../vmm/guest-image.js";
import { criImageName, DEBIAN_CLOUD_IMAGE, TEST_GUEST_IMAGE } from "../images.js";
import { writeOciArchive } from "./oci.js";

/**
 * Guest images as real OCI images for real nodes: the stand-in serves `kubevisor/test-guest`
 * straight from `npm run guest`'s directory (src/local/node/image-store.ts); a kubelet needs it
 * in containerd, named the way it resolves the reference pods use.
 */

/** Pure: the archive's file name, keyed by the guest build and the reference. */
export function guestArchiveName(ref: string, manifestJson: string): string {
  const key = createHash("sha256").update(ref).update("\0").update(manifestJson).digest("hex");
  return `guest-${key.slice(0, 16)}.oci.tar`;
}

/** A guest image built by `npm run guest`: its directory and the one top-level dir it holds. */
export interface GuestImageSource {
  ref: string;
  dir: string;
  topDir: string;
}

/** The test guest (`boot/`), from `npm run guest`'s directory unless `dir` says otherwise. */
export function testGuestSource(dir: string = guestImageDir()): GuestImageSource {
  return { ref: TEST_GUEST_IMAGE, dir, topDir: "boot" };
}

/** The Debian cloud image (`disk/`). */
export function debianCloudSource(): GuestImageSource {
  return { ref: DEBIAN_CLOUD_IMAGE, dir: debianImageDir(), topDir: "disk" };
}

/**
 * Writes (once per guest build) an OCI archive holding the image's one top-level directory,
 * named as the kubelet resolves its reference (`docker.io/kubevisor/test-guest:<tag>`), and
 * returns its path.
 */
export async function guestImageArchive(src: GuestImageSource): Promise<string> {
  const manifestPath = join(src.dir, "manifest.json");
  if (!existsSync(manifestPath)) {
    throw new Error(`guest image ${src.ref} not found in ${src.dir}: run \`npm run guest\` first`);
  }
  const dir = cacheDir("image");
  const out = join(dir, guestArchiveName(src.ref, readFileSync(manifestPath, "utf8")));
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  const rootfs = mkdtempSync(join(tmpdir(), "kv-guest-img-"));
  try {
    const top = join(rootfs, src.topDir);
    cpSync(join(src.dir, src.topDir), top, { recursive: true });
    // The launcher (uid 65532) reads these through an image volume.
    chmodSync(rootfs, 0o755);
    chmodSync(top, 0o755);
    for (const f of readdirSync(top)) chmodSync(join(top, f), 0o644);
    const tmp = `${out}.${process.pid}.tmp`;
    await writeOciArchive({ ref: criImageName(src.ref), rootfs, out: tmp });
    renameSync(tmp, out);
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
  }
  return out;
}
