import { existsSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { debianImageBuilt, debianImageDir } from "../../vmm/debian-image.js";
import { guestImageDir } from "../../vmm/guest-image.js";
import { nodeRuntimeDir, nodeRuntimeVersion } from "../image/node-runtime.js";
import {
  DEBIAN_CLOUD_IMAGE_REPOSITORY,
  imageRepository,
  KUBEVISOR_IMAGE_REPOSITORY,
  TEST_GUEST_IMAGE_REPOSITORY,
} from "../images.js";

/**
 * The local image store. There is no container engine and no registry here: an image is a
 * directory on this host. The Kubevisor image is this checkout (its QEMU comes from the host's
 * /usr, which every sandbox sees read-only; its Node.js is the pinned runtime the image ships,
 * at /usr/local as in the image, when setup has fetched it); the test guest and the Debian
 * cloud image are the directories `npm run guest` installed. Every tag of a known repository resolves to the same directory:
 * there is only one build of each on a machine.
 */

export interface Bind {
  source: string;
  dest: string;
}

export interface ResolvedImage {
  ref: string;
  /** The image's filesystem as a host directory: what an `image` volume shows. */
  dir: string;
  /** Where that filesystem appears in a container started from the image (read-only). */
  rootBinds: Bind[];
  /** The image's WORKDIR, used when the container sets no workingDir. */
  workingDir: string;
}

export type ImageResolution =
  | { ok: true; image: ResolvedImage }
  | { ok: false; reason: "ErrImagePull"; message: string };

export interface ImageStore {
  /** This checkout: the Kubevisor image's contents. */
  checkoutDir: string;
  /** The pinned Node.js runtime (holding bin/node), or undefined: then the host's node runs. */
  nodeRuntimeDir: string | undefined;
  /** The built test guest, or undefined when `npm run guest` has not run yet. */
  guestDir: string | undefined;
  /** The built Debian cloud image (holding `disk/disk.qcow2`), or undefined. */
  debianDir: string | undefined;
}

/**
 * Guest images built by `npm run guest`: where the store keeps each one, and the one top-level
 * directory its filesystem has (bound read-only at the same path in a container).
 */
const GUEST_IMAGES = new Map<string, { storeKey: "guestDir" | "debianDir"; topDir: string }>([
  [TEST_GUEST_IMAGE_REPOSITORY, { storeKey: "guestDir", topDir: "boot" }],
  [DEBIAN_CLOUD_IMAGE_REPOSITORY, { storeKey: "debianDir", topDir: "disk" }],
]);

/** Mount point of the Kubevisor image's code inside its containers (the Dockerfile's WORKDIR). */
export const APP_DIR = "/app";

/** Pure: what `ref` is in `store`, or why it cannot be had. */
export function resolveImage(ref: string, store: ImageStore): ImageResolution {
  const repo = imageRepository(ref);
  if (repo === KUBEVISOR_IMAGE_REPOSITORY) {
    const dir = store.checkoutDir;
    const rootBinds = [{ source: dir, dest: APP_DIR }];
    // The image's node is /usr/local/bin/node, first on the default PATH.
    if (store.nodeRuntimeDir) rootBinds.push({ source: store.nodeRuntimeDir, dest: "/usr/local" });
    return { ok: true, image: { ref, dir, rootBinds, workingDir: APP_DIR } };
  }
  const guest = GUEST_IMAGES.get(repo);
  if (guest) {
    const dir = store[guest.storeKey];
    if (dir === undefined) {
      return {
        ok: false,
        reason: "ErrImagePull",
        message: `image ${ref} is not in the local image store yet: build it with 'npm run guest'`,
      };
    }
    return {
      ok: true,
      image: {
        ref,
        dir,
        rootBinds: [{ source: join(dir, guest.topDir), dest: `/${guest.topDir}` }],
        workingDir: "/",
      },
    };
  }
  return {
    ok: false,
    reason: "ErrImagePull",
    message:
      `image ${ref} is not in the local image store: local nodes only run ` +
      `${KUBEVISOR_IMAGE_REPOSITORY}:* (this checkout), ${TEST_GUEST_IMAGE_REPOSITORY}:* and ` +
      `${DEBIAN_CLOUD_IMAGE_REPOSITORY}:* (npm run guest)`,
  };
}

/** The checkout this code runs from: three levels above src/local/node (or dist/local/node). */
export function checkoutDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
}

/** The store as it is on this host right now (the guest may be built while nodes run). */
export function hostImageStore(): ImageStore {
  const guest = guestImageDir();
  const debian = debianImageDir();
  const node = nodeRuntimeDir(nodeRuntimeVersion(checkoutDir()));
  return {
    checkoutDir: checkoutDir(),
    nodeRuntimeDir: existsSync(join(node, "bin", "node")) ? node : undefined,
    guestDir: existsSync(join(guest, "boot", "vmlinuz")) ? guest : undefined,
    debianDir: debianImageBuilt(debian) ? debian : undefined,
  };
}
