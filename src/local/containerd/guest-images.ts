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
import { guestImageDir } from "../../vmm/guest-image.js";
import { criImageName, TEST_GUEST_IMAGE } from "../images.js";
import { writeOciArchive } from "./oci.js";

/**
 * The test guest as a real OCI image for real nodes: the stand-in serves `kubevisor/test-guest`
 * straight from `npm run guest`'s directory (src/local/node/image-store.ts); a kubelet needs it
 * in containerd, named the way it resolves the reference pods use.
 */

/** Pure: the archive's file name, keyed by the guest build and the reference. */
export function guestArchiveName(ref: string, manifestJson: string): string {
  const key = createHash("sha256").update(ref).update("\0").update(manifestJson).digest("hex");
  return `test-guest-${key.slice(0, 16)}.oci.tar`;
}

/**
 * Writes (once per guest build) an OCI archive holding the test guest's `boot/` directory,
 * named `docker.io/kubevisor/test-guest:<tag>`, and returns its path.
 */
export async function testGuestArchive(
  ref: string = TEST_GUEST_IMAGE,
  guestDir: string = guestImageDir(),
): Promise<string> {
  const manifestPath = join(guestDir, "manifest.json");
  if (!existsSync(manifestPath)) {
    throw new Error(`test guest not found in ${guestDir}: run \`npm run guest\` first`);
  }
  const dir = cacheDir("image");
  const out = join(dir, guestArchiveName(ref, readFileSync(manifestPath, "utf8")));
  if (existsSync(out)) return out;
  mkdirSync(dir, { recursive: true });
  const rootfs = mkdtempSync(join(tmpdir(), "kv-guest-img-"));
  try {
    cpSync(join(guestDir, "boot"), join(rootfs, "boot"), { recursive: true });
    // The launcher (uid 65532) reads these through an image volume.
    chmodSync(rootfs, 0o755);
    chmodSync(join(rootfs, "boot"), 0o755);
    for (const f of readdirSync(join(rootfs, "boot"))) chmodSync(join(rootfs, "boot", f), 0o644);
    const tmp = `${out}.${process.pid}.tmp`;
    await writeOciArchive({ ref: criImageName(ref), rootfs, out: tmp });
    renameSync(tmp, out);
  } finally {
    rmSync(rootfs, { recursive: true, force: true });
  }
  return out;
}
