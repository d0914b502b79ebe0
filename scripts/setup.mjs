#!/usr/bin/env node
// Brings a fresh clone to the point where the TypeScript tooling can take over: Debian
// packages, then node_modules. Plain Node with no dependencies, because it runs before
// `npm ci`. Everything after this (Kubernetes binaries, Helm, the test guest) is built by
// the TypeScript scripts it hands over to, cached outside the repository.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { ensureNodeRuntime } from "./node-runtime.mjs";

const root = join(import.meta.dirname, "..");

/** Debian packages the project runs: QEMU and its disk tool, the sandbox, the guest's parts. */
const DEBIAN_PACKAGES = [
  "qemu-system-x86",
  "qemu-utils",
  "qemu-guest-agent",
  "ovmf",
  "bubblewrap",
  "busybox-static",
  "cpio",
  "genisoimage",
  "lz4",
  "openssl",
  "curl",
  // The product image (scripts/build-image.ts): buildah runs the Dockerfile, no daemon.
  "buildah",
  // Building the Debian cloud image (scripts/build-debian-image.ts) and booting it with UEFI.
  "mmdebstrap",
  "gdisk",
  "dosfstools",
  "mtools",
  "e2fsprogs",
  "ovmf",
  // The web UI's end-to-end tests drive Debian's browser (playwright-core cannot download one).
  "chromium",
  // Real nodes (`--runtime containerd`): CNI plugins (bridge, host-local, portmap, loopback),
  // the iptables kube-proxy and the kubelet program, runc's seccomp (cgo), nsenter/unshare.
  "containernetworking-plugins",
  "iptables",
  "libseccomp-dev",
  "util-linux",
  "iproute2",
];

/** `apt-get download` of the guest kernel needs package lists even when nothing is missing. */
function aptListsPresent() {
  return readdirSync("/var/lib/apt/lists").some((f) => f.endsWith("_Packages"));
}

function missingPackages() {
  return DEBIAN_PACKAGES.filter((pkg) => {
    // dpkg-query's own format syntax, not a template literal.
    // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query format
    const r = spawnSync("dpkg-query", ["-W", "-f=${Status}", pkg], { encoding: "utf8" });
    return !r.stdout.includes("install ok installed");
  });
}

function run(cmd, args) {
  console.log(`setup: ${cmd} ${args.join(" ")}`);
  execFileSync(cmd, args, {
    stdio: "inherit",
    cwd: root,
    env: { ...process.env, DEBIAN_FRONTEND: "noninteractive" },
  });
}

const missing = missingPackages();
if (missing.length > 0 || !aptListsPresent()) {
  if (process.getuid?.() !== 0) {
    console.error(
      `setup: missing Debian packages: ${missing.join(" ")}\n  run: sudo apt-get update && sudo apt-get install -y ${missing.join(" ")}`,
    );
    process.exit(1);
  }
  run("apt-get", ["update", "-qq"]);
  if (missing.length > 0)
    run("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...missing]);
}

for (const tool of ["go", "kubectl"]) {
  if (spawnSync(tool, ["version"], { stdio: "ignore" }).error) {
    console.error(
      `setup: ${tool} is not on PATH; Kubevisor builds Kubernetes with Go and drives it with kubectl`,
    );
    process.exit(1);
  }
}

// Reinstall node_modules whenever package-lock.json changed since the last install. `npm
// install`, not `npm ci`: npm 11 leaves other platforms' optional packages (biome's) out of the
// lock file and `npm ci` then refuses it as out of sync.
const lockHash = createHash("sha256")
  .update(readFileSync(join(root, "package-lock.json")))
  .digest("hex");
const stamp = join(root, "node_modules", ".kubevisor-lock-hash");
if (!existsSync(stamp) || readFileSync(stamp, "utf8") !== lockHash) {
  run("npm", ["install", "--no-audit", "--no-fund"]);
  writeFileSync(stamp, lockHash);
}

// The Node.js the image ships; the tests run on it too when this Node is older (package.json's
// scripts go through scripts/node-runtime.mjs exec).
ensureNodeRuntime();
