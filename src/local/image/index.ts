import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join } from "node:path";
import { parse } from "yaml";
import { hostMirrors } from "../../util/apt.js";
import { cacheDir } from "../../util/paths.js";
import { criImageName, KUBEVISOR_IMAGE_REPOSITORY } from "../images.js";
import { checkoutDir } from "../node/image-store.js";
import { type Progress, silentProgress } from "../progress.js";
import { baseNames, ensureBases } from "./bases.js";
import { type BuildahStore, buildah, defaultStore, progressLines } from "./buildah.js";
import { hashInputs } from "./inputs.js";
import { nodeRuntimeDir, nodeRuntimeVersion } from "./node-runtime.js";

/**
 * The product image, built from the Dockerfile on this machine with buildah (no daemon, no
 * registry), tagged with the chart's appVersion and written as a docker-archive that
 * `ctr images import` (and `docker load`, `podman load`, skopeo) take as it is.
 */
export interface ProductImage {
  /** The name pods use: `kubevisor/kubevisor:<appVersion>` (Docker Hub style, never latest). */
  ref: string;
  /** docker-archive tar; its manifest names the image `docker.io/<ref>`. */
  archive: string;
  /** Hash of every build input; part of the archive's file name. */
  key: string;
  /** Whether `archive` exists (built earlier from the same inputs). */
  built: boolean;
}

/** The chart's appVersion: the image tag the chart installs by default. */
export function appVersion(checkout: string): string {
  const chart = parse(readFileSync(join(checkout, "charts", "kubevisor", "Chart.yaml"), "utf8"));
  const v = (chart as { appVersion?: unknown }).appVersion;
  if (typeof v !== "string" || v === "" || v === "latest") {
    throw new Error(`charts/kubevisor/Chart.yaml: appVersion must be a version, got ${v}`);
  }
  return v;
}

/** Pinned npm for the local node base; the same major the lock file was written with. */
export function npmVersion(checkout: string): string {
  const pkg = JSON.parse(readFileSync(join(checkout, "package.json"), "utf8")) as {
    kubevisor?: { npm?: string };
  };
  if (!pkg.kubevisor?.npm) throw new Error("package.json has no kubevisor.npm");
  return pkg.kubevisor.npm;
}

interface Plan {
  image: ProductImage;
  versions: { node: string; npm: string };
}

function plan(checkout: string): Plan {
  const versions = { node: nodeRuntimeVersion(checkout), npm: npmVersion(checkout) };
  const ref = `${KUBEVISOR_IMAGE_REPOSITORY}:${appVersion(checkout)}`;
  const bases = baseNames(hostMirrors(), versions);
  const key = hashInputs(checkout, { ref, ...bases });
  const archive = cacheDir("image", `kubevisor-${appVersion(checkout)}-${key}.docker.tar`);
  return { image: { ref, archive, key, built: existsSync(archive) }, versions };
}

/** Where the image for this tree is (or would be), without building anything. */
export function productImage(checkout: string = checkoutDir()): ProductImage {
  return plan(checkout).image;
}

export interface BuildOptions {
  checkout?: string;
  progress?: Progress;
  store?: BuildahStore;
  /** Build even when an archive for the same inputs exists. */
  force?: boolean;
}

/**
 * Build the image unless an archive for the same inputs exists. Bases are built first where
 * missing; buildah's layer cache makes a rebuild after a source change skip `npm ci`, the
 * guest and the Debian packages.
 */
export async function buildProductImage(opts: BuildOptions = {}): Promise<ProductImage> {
  const checkout = opts.checkout ?? checkoutDir();
  const progress = opts.progress ?? silentProgress;
  const store = opts.store ?? defaultStore();
  const { image, versions } = plan(checkout);
  if (image.built && !opts.force) return image;

  progress.step("image bases");
  const bases = await ensureBases(store, nodeRuntimeDir(versions.node), versions, progress);
  progress.done();

  progress.step(`image ${image.ref}`);
  const local = `localhost/${image.ref}`;
  await buildah(
    store,
    [
      "bud",
      "--isolation",
      "chroot",
      "--pull-never",
      "--layers",
      // A failed step's container would stay in the store otherwise.
      "--force-rm",
      "--build-arg",
      `NODE_IMAGE=${bases.node}`,
      "--build-arg",
      `BASE_IMAGE=${bases.debian}`,
      ...npmCaArgs(process.env.NODE_EXTRA_CA_CERTS),
      "-f",
      join(checkout, "Dockerfile"),
      "-t",
      local,
      checkout,
    ],
    progressLines(progress),
  );
  progress.update("writing the docker-archive");
  mkdirSync(cacheDir("image"), { recursive: true });
  const tmp = `${image.archive}.${process.pid}.tmp`;
  rmSync(tmp, { force: true });
  await buildah(store, [
    "push",
    "--quiet",
    local,
    `docker-archive:${tmp}:${criImageName(image.ref)}`,
  ]);
  renameSync(tmp, image.archive);
  removeOtherArchives(image.archive);
  progress.done(image.archive);
  return { ...image, built: true };
}

/** Where `npm ci` in the build finds the host's extra CAs (see the Dockerfile's ARG). */
export const BUILD_CA_PATH = "/run/kubevisor-build-ca.crt";

/**
 * Pure: the host's NODE_EXTRA_CA_CERTS (a TLS-intercepting proxy's CA, as on these machines),
 * bind-mounted read-only into the build's RUN steps and named to npm; nothing when unset.
 */
export function npmCaArgs(hostCaFile: string | undefined): string[] {
  if (!hostCaFile) return [];
  return [
    "--volume",
    `${hostCaFile}:${BUILD_CA_PATH}:ro`,
    "--build-arg",
    `NODE_EXTRA_CA_CERTS=${BUILD_CA_PATH}`,
  ];
}

/** One archive per machine is enough; older trees' archives only take space. */
function removeOtherArchives(keep: string): void {
  const dir = cacheDir("image");
  for (const f of readdirSync(dir)) {
    const path = join(dir, f);
    if (/^kubevisor-.*\.docker\.tar$/.test(f) && path !== keep) rmSync(path, { force: true });
  }
}

export { defaultStore } from "./buildah.js";
