import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from "node:fs";
import { join } from "node:path";
import { hostMirrors, type Mirrors } from "../../util/apt.js";
import { cacheDir } from "../../util/paths.js";
import type { Progress } from "../progress.js";
import { type BuildahStore, buildah, hasImage, runTool } from "./buildah.js";

/**
 * The two base images the Dockerfile names through build args, made on this machine because
 * nothing can be pulled here: Debian bookworm (minbase) from mmdebstrap, and that plus Node.js
 * and npm in /usr/local (the layout of the official node images). Each is built once into the
 * project's buildah store under a name keyed by what it is made of.
 */

export const SUITE = "bookworm";

/** mmdebstrap options; part of the base's key. */
export function mmdebstrapArgs(mirrors: Mirrors): string[] {
  return [
    "--mode=root",
    "--variant=minbase",
    '--aptopt=APT::Install-Recommends "false"',
    // The machine's mirror is a dated snapshot: its Release files are past Valid-Until.
    '--aptopt=Acquire::Check-Valid-Until "false"',
    "--dpkgopt=path-exclude=/usr/share/doc/*",
    "--dpkgopt=path-include=/usr/share/doc/*/copyright",
    "--dpkgopt=path-exclude=/usr/share/man/*",
    "--dpkgopt=path-exclude=/usr/share/locale/*",
    SUITE,
    // The output path goes here (see buildDebianBase).
    "",
    `deb ${mirrors.debian} ${SUITE} main`,
    `deb ${mirrors.debian} ${SUITE}-updates main`,
    `deb ${mirrors.security} ${SUITE}-security main`,
  ];
}

export interface BaseVersions {
  node: string;
  npm: string;
}

export interface BaseNames {
  debian: string;
  node: string;
}

/** Pure: the local names of both bases for these inputs. */
export function baseNames(mirrors: Mirrors, v: BaseVersions): BaseNames {
  const key = createHash("sha256")
    .update(JSON.stringify(mmdebstrapArgs(mirrors)))
    .digest("hex")
    .slice(0, 12);
  return {
    debian: `localhost/kubevisor-build/debian:${SUITE}-${key}`,
    node: `localhost/kubevisor-build/node:${v.node}-npm${v.npm}-${SUITE}-${key}`,
  };
}

async function buildDebianBase(store: BuildahStore, name: string, m: Mirrors, p: Progress) {
  const work = mkdtempSync(join(cacheDir("image"), ".debian-"));
  try {
    p.update(`mmdebstrap ${SUITE} minbase from ${m.debian} (about 2 minutes)`);
    const args = mmdebstrapArgs(m);
    args[args.indexOf("")] = join(work, "rootfs.tar");
    // Its "I: …" lines say which phase runs (downloading, extracting, installing).
    await runTool("mmdebstrap", "mmdebstrap", ["--format=tar", ...args], (line) => {
      if (line.startsWith("I: ")) p.update(`mmdebstrap ${line.slice(3)}`);
    });
    p.update("importing the Debian root as an image");
    await fromTar(store, "scratch", join(work, "rootfs.tar"), name, ["/bin/bash"]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** `buildah from <base>`, add a tar (unpacked at /), commit as `name`. */
async function fromTar(
  store: BuildahStore,
  base: string,
  tar: string,
  name: string,
  cmd: string[],
): Promise<void> {
  const ctr = (await buildah(store, ["from", "--pull-never", "--quiet", base])).trim();
  try {
    await buildah(store, ["add", ctr, tar, "/"]);
    await buildah(store, ["config", "--cmd", JSON.stringify(cmd), ctr]);
    await buildah(store, ["commit", "--quiet", ctr, name]);
  } finally {
    await buildah(store, ["rm", ctr]).catch(() => {});
  }
}

/** Node.js from the cache (setup fetched it) and npm from the registry, under /usr/local. */
async function buildNodeBase(
  store: BuildahStore,
  names: BaseNames,
  nodeDir: string,
  v: BaseVersions,
  p: Progress,
) {
  const nodeBin = join(nodeDir, "bin", "node");
  if (!existsSync(nodeBin)) {
    throw new Error(`Node.js ${v.node} is not in ${nodeDir}: run \`npm run setup\` first`);
  }
  const work = mkdtempSync(join(cacheDir("image"), ".node-"));
  try {
    p.update(`adding Node.js ${v.node} and npm ${v.npm}`);
    const local = join(work, "root", "usr", "local");
    mkdirSync(join(local, "bin"), { recursive: true });
    mkdirSync(join(local, "lib", "node_modules"), { recursive: true });
    execFileSync("cp", [nodeBin, join(local, "bin", "node")]);
    // npm pack checks the tarball against the registry's integrity hash.
    execFileSync("npm", ["pack", `npm@${v.npm}`, "--silent"], { cwd: work, stdio: "ignore" });
    execFileSync("tar", ["xzf", `npm-${v.npm}.tgz`], { cwd: work });
    execFileSync("mv", [join(work, "package"), join(local, "lib", "node_modules", "npm")]);
    symlinkSync("../lib/node_modules/npm/bin/npm-cli.js", join(local, "bin", "npm"));
    symlinkSync("../lib/node_modules/npm/bin/npx-cli.js", join(local, "bin", "npx"));
    const tar = join(work, "node.tar");
    execFileSync("tar", ["cf", tar, "--owner=0", "--group=0", "-C", join(work, "root"), "usr"]);
    await fromTar(store, names.debian, tar, names.node, ["node"]);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Both bases, built where missing. */
export async function ensureBases(
  store: BuildahStore,
  nodeDir: string,
  v: BaseVersions,
  p: Progress,
): Promise<BaseNames> {
  const mirrors = hostMirrors();
  const names = baseNames(mirrors, v);
  mkdirSync(cacheDir("image"), { recursive: true });
  if (!(await hasImage(store, names.debian)))
    await buildDebianBase(store, names.debian, mirrors, p);
  if (!(await hasImage(store, names.node))) await buildNodeBase(store, names, nodeDir, v, p);
  return names;
}
