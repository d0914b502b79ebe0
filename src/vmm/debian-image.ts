import { existsSync } from "node:fs";
import { join } from "node:path";
import { cacheDir } from "../util/paths.js";

/**
 * The Debian 12 cloud image the project builds itself (`npm run guest`, see
 * scripts/build-debian-image.ts). Constants and paths only, so the build script, the local
 * image store, tests and benchmarks agree on them.
 *
 * The image directory is laid out as the container image's filesystem (KubeVirt's
 * containerDisk convention), plus a manifest describing the build:
 *
 *   disk/disk.qcow2   GPT disk: BIOS boot partition, ESP (shim + signed GRUB), ext4 root
 *   manifest.json     packages, kernel, sizes and build timings
 */

/** Cache folder holding one directory per build key, plus `current`. */
export const DEBIAN_IMAGE_CACHE = "debian-cloud";
/** Where the disk sits inside the image (and inside the container image pushed to a registry). */
export const DEBIAN_IMAGE_DISK_PATH = "/disk/disk.qcow2";
/** The user cloud-init creates from the image's defaults; SSH keys from user-data land there. */
export const DEBIAN_DEFAULT_USER = "debian";
/** Virtual size of the disk; cloud-init grows the root partition when the disk is larger. */
export const DEBIAN_DISK_SIZE_MIB = 2048;

/** Directory of the current build (`KUBEVISOR_DEBIAN_IMAGE_DIR` overrides). */
export function debianImageDir(): string {
  return process.env.KUBEVISOR_DEBIAN_IMAGE_DIR ?? cacheDir(DEBIAN_IMAGE_CACHE, "current");
}

/** The qcow2 disk of the image in `dir`. */
export function debianImageDisk(dir: string = debianImageDir()): string {
  return join(dir, DEBIAN_IMAGE_DISK_PATH);
}

/** Whether the image in `dir` is complete (the manifest is written last). */
export function debianImageBuilt(dir: string = debianImageDir()): boolean {
  return existsSync(join(dir, "manifest.json")) && existsSync(debianImageDisk(dir));
}
