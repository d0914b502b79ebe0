import { createHash } from "node:crypto";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "dax-sh";

/**
 * Single-layer OCI image archives written by hand (no registry, no builder needed for tiny
 * images like the pause image): a layer tar of a directory, its config, manifest and index,
 * in an OCI layout tarred up for `ctr images import`.
 */

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}

const MT = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layer: "application/vnd.oci.image.layer.v1.tar",
} as const;

export function sha256(data: Buffer | string): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

export interface ImageConfigInput {
  entrypoint?: string[];
  cmd?: string[];
  env?: string[];
  user?: string;
}

/** The OCI image config for one uncompressed layer (its digest is also its diff_id). */
export function imageConfig(layerDigest: string, c: ImageConfigInput): string {
  return JSON.stringify({
    architecture: "amd64",
    os: "linux",
    config: {
      ...(c.entrypoint ? { Entrypoint: c.entrypoint } : {}),
      ...(c.cmd ? { Cmd: c.cmd } : {}),
      Env: c.env ?? ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
      ...(c.user ? { User: c.user } : {}),
    },
    rootfs: { type: "layers", diff_ids: [layerDigest] },
  });
}

export function manifest(config: Descriptor, layer: Descriptor): string {
  return JSON.stringify({ schemaVersion: 2, mediaType: MT.manifest, config, layers: [layer] });
}

/** `io.containerd.image.name` is what `ctr images import` names the image by. */
export function index(manifestDesc: Descriptor, ref: string): string {
  const tag = ref.slice(ref.lastIndexOf(":") + 1);
  return JSON.stringify({
    schemaVersion: 2,
    mediaType: MT.index,
    manifests: [
      {
        ...manifestDesc,
        annotations: { "io.containerd.image.name": ref, "org.opencontainers.image.ref.name": tag },
      },
    ],
  });
}

/** Writes `out`: an OCI-layout tar of `rootfs` (owned by root, fixed mtimes) named `ref`. */
export async function writeOciArchive(opts: {
  ref: string;
  rootfs: string;
  out: string;
  config?: ImageConfigInput;
}): Promise<void> {
  const work = mkdtempSync(join(tmpdir(), "kv-oci-"));
  try {
    const blobs = join(work, "layout", "blobs", "sha256");
    mkdirSync(blobs, { recursive: true });
    const layerTar = join(work, "layer.tar");
    await $`tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C ${opts.rootfs} -cf ${layerTar} .`.quiet();
    const blob = (data: Buffer | string, mediaType: string): Descriptor => {
      const digest = sha256(data);
      writeFileSync(join(blobs, digest.slice("sha256:".length)), data);
      return { mediaType, digest, size: Buffer.byteLength(data) };
    };
    const layerData = readFileSync(layerTar);
    const layer = blob(layerData, MT.layer);
    const config = blob(imageConfig(layer.digest, opts.config ?? {}), MT.config);
    const man = blob(manifest(config, layer), MT.manifest);
    writeFileSync(join(work, "layout", "index.json"), index(man, opts.ref));
    writeFileSync(
      join(work, "layout", "oci-layout"),
      JSON.stringify({ imageLayoutVersion: "1.0.0" }),
    );
    await $`tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C ${join(work, "layout")} -cf ${opts.out} .`.quiet();
    if (statSync(opts.out).size === 0) throw new Error(`empty archive ${opts.out}`);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
