/**
 * Builds the test guest (`npm run guest`): Debian's cloud kernel, never installed on the host,
 * plus a busybox-static initramfs whose /init is rendered by scripts/guest/init.ts. The result
 * is a container-disk-style directory (boot/vmlinuz, boot/initrd.img) cached outside the
 * repository under a key of kernel version + build inputs, with `current` pointing at it.
 * Idempotent: an existing build for the same key is reused. Layout: src/vmm/README.md.
 */
import { createHash } from "node:crypto";
import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from "node:fs";
import { basename, join } from "node:path";
import { fileURLToPath } from "node:url";
import { $ } from "dax-sh";
import { cacheDir } from "../src/util/paths.js";
import {
  GUEST_BOOT_MARKER,
  GUEST_COUNTER_PREFIX,
  GUEST_POWEROFF_MARKER,
} from "../src/vmm/guest-image.js";
import { renderInit } from "./guest/init.js";

const META_PACKAGE = "linux-image-cloud-amd64";
const BUSYBOX = "/bin/busybox";
/** Load order matters: there is no modprobe to resolve dependencies in the guest. */
const MODULES = [
  "virtio_ring",
  "virtio",
  "virtio_pci_legacy_dev",
  "virtio_pci_modern_dev",
  "virtio_pci",
  "virtio_mmio",
  "failover",
  "net_failover",
  "virtio_net",
  "virtio_blk",
  "virtio_console",
  "evdev",
  "button",
];

async function resolveKernelPackage(): Promise<{ name: string; version: string }> {
  const depends = await $`apt-cache depends ${META_PACKAGE}`.text();
  const name = /Depends:\s*(linux-image-\S+)/.exec(depends)?.[1];
  if (!name) {
    throw new Error(`cannot resolve ${META_PACKAGE} (is the apt index present? apt-get update)`);
  }
  const policy = await $`apt-cache policy ${name}`.text();
  const version = /Candidate:\s*(\S+)/.exec(policy)?.[1];
  if (!version || version === "(none)") throw new Error(`no candidate version for ${name}`);
  return { name, version };
}

/** Everything that changes the output: a new key means a fresh build beside the old one. */
function buildKey(pkg: { name: string; version: string }, init: string): string {
  const hash = createHash("sha256")
    .update(readFileSync(fileURLToPath(import.meta.url)))
    .update(init)
    .update(readFileSync(BUSYBOX))
    .digest("hex")
    .slice(0, 12);
  return `${pkg.name.replace(/^linux-image-/, "")}_${pkg.version}_${hash}`;
}

function findModules(root: string): Map<string, string> {
  const found = new Map<string, string>();
  const walk = (dir: string): void => {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) walk(path);
      else if (entry.name.endsWith(".ko")) found.set(basename(entry.name, ".ko"), path);
    }
  };
  walk(root);
  return found;
}

/**
 * Unpack the bzImage payload to the ELF vmlinux: it carries the PVH note, so QEMU can enter
 * it directly and skip the real-mode setup and decompression, which are slow under TCG. The
 * setup header locates the payload; the build appends a 4-byte size the decompressors reject.
 */
async function extractVmlinux(bzImage: string, out: string, work: string): Promise<void> {
  const image = readFileSync(bzImage);
  const setupSects = image[0x1f1] || 4;
  const offset = (setupSects + 1) * 512 + image.readUInt32LE(0x248);
  const length = image.readUInt32LE(0x24c);
  const payload = image.subarray(offset, offset + length - 4);
  const magic = payload.subarray(0, 4).toString("hex");
  const decompressors: [string, string][] = [
    ["02214c18", "lz4"],
    ["1f8b", "gzip"],
    ["fd377a58", "xz"],
    ["28b52ffd", "zstd"],
  ];
  const tool = decompressors.find(([prefix]) => magic.startsWith(prefix))?.[1];
  if (!tool) throw new Error(`unknown kernel compression (payload magic ${magic})`);
  const payloadPath = join(work, "payload");
  writeFileSync(payloadPath, payload);
  await $`${tool} -dc ${payloadPath} > ${$.path(out)}`;
}

async function build(pkg: { name: string; version: string }, init: string, out: string) {
  const work = mkdtempSync(join(cacheDir("guest"), ".build-"));
  try {
    $.logStep("Downloading", `${pkg.name} ${pkg.version}`);
    await $`apt-get download ${`${pkg.name}=${pkg.version}`}`.cwd(work).quiet("stderr");
    const deb = readdirSync(work).find((f) => f.endsWith(".deb"));
    if (!deb) throw new Error("apt-get download produced no .deb");
    $.logStep("Extracting", deb);
    const root = join(work, "pkg");
    await $`dpkg -x ${join(work, deb)} ${root}`;
    const kernelVersion = pkg.name.replace(/^linux-image-/, "");
    const image = join(work, "image");
    mkdirSync(join(image, "boot"), { recursive: true });
    const bzImage = join(image, "boot", "vmlinuz");
    await $`cp ${join(root, "boot", `vmlinuz-${kernelVersion}`)} ${bzImage}`;
    $.logStep("Unpacking", "vmlinux (PVH entry)");
    await extractVmlinux(bzImage, join(image, "boot", "vmlinux"), work);

    $.logStep("Building", `initramfs (busybox-static, ${MODULES.length} modules)`);
    const stage = join(work, "initramfs");
    for (const d of ["bin", "dev", "proc", "sys", "tmp", "root", "www", "lib/modules"]) {
      mkdirSync(join(stage, d), { recursive: true });
    }
    await $`cp ${BUSYBOX} ${join(stage, "bin", "busybox")}`;
    const available = findModules(join(root, "lib", "modules", kernelVersion));
    for (const m of MODULES) {
      const src = available.get(m);
      if (!src) throw new Error(`kernel ${kernelVersion} has no module ${m}`);
      await $`cp ${src} ${join(stage, "lib", "modules", `${m}.ko`)}`;
    }
    writeFileSync(join(stage, "init"), init, { mode: 0o755 });
    writeFileSync(join(stage, "www", "index.html"), "kubevisor-guest\n");
    const initrd = join(image, "boot", "initrd.img");
    await $`find . | sort | cpio --quiet -o -H newc -R 0:0 | gzip -9 > ${$.path(initrd)}`.cwd(
      stage,
    );

    writeFileSync(
      join(image, "manifest.json"),
      `${JSON.stringify(
        {
          kernelPackage: pkg.name,
          kernelPackageVersion: pkg.version,
          kernelVersion,
          bootMarker: GUEST_BOOT_MARKER,
          counterPrefix: GUEST_COUNTER_PREFIX,
          modules: MODULES,
          builtAt: new Date().toISOString(),
        },
        null,
        2,
      )}\n`,
    );
    // Publish atomically: a concurrent reader sees either no directory or a complete one.
    renameSync(image, out);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

/** Point `current` at the build with an atomic rename, so readers never see it missing. */
function publishCurrent(key: string): void {
  const current = cacheDir("guest", "current");
  const tmp = `${current}.${process.pid}`;
  rmSync(tmp, { force: true });
  symlinkSync(key, tmp);
  renameSync(tmp, current);
}

async function main(): Promise<void> {
  mkdirSync(cacheDir("guest"), { recursive: true });
  const init = renderInit({
    bootMarker: GUEST_BOOT_MARKER,
    counterPrefix: GUEST_COUNTER_PREFIX,
    poweroffMarker: GUEST_POWEROFF_MARKER,
    modules: MODULES,
  });
  const pkg = await resolveKernelPackage();
  const key = buildKey(pkg, init);
  const out = cacheDir("guest", key);
  if (existsSync(join(out, "manifest.json"))) {
    $.logLight(`test guest up to date: ${out}`);
  } else {
    await build(pkg, init, out);
  }
  publishCurrent(key);
  const sizes = ["vmlinuz", "vmlinux", "initrd.img"]
    .map((f) => `${f} ${(statSync(join(out, "boot", f)).size / 1e6).toFixed(1)} MB`)
    .join(", ");
  $.logStep("Guest ready", `${cacheDir("guest", "current")} -> ${key} (${sizes})`);
}

await main();
