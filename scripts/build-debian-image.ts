/**
 * Builds the Debian 12 cloud image (`npm run guest`, after the test guest): mmdebstrap
 * (root mode, minbase, no Recommends) with the cloud kernel, systemd, cloud-init (NoCloud),
 * sshd and the guest agent, on a GPT disk that boots under SeaBIOS (GRUB in the BIOS boot
 * partition) and OVMF, Secure Boot included (shim + signed GRUB at the ESP's removable
 * path). Result: a compressed qcow2 under `$cache/debian-cloud/<key>/disk/disk.qcow2` with
 * `current` pointing at it, rebuilt only when an input changes. Needs root (loop devices,
 * mount, chroot). Layout and measured figures: src/vmm/README.md.
 *
 * Host-kernel pitfalls handled here: loop partitions appear only with `partx -a`; there is no
 * vfat, so the ESP is filled with mtools; there is no udev, so the chroot gets a private /dev
 * with the by-uuid link grub-mkconfig looks for (else it writes root=/dev/loopNp1).
 */
import { createHash, randomUUID } from "node:crypto";
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
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { $ } from "dax-sh";
import { hostMirrors, type Mirrors } from "../src/util/apt.js";
import { cacheDir } from "../src/util/paths.js";
import { DEBIAN_DISK_SIZE_MIB, DEBIAN_IMAGE_CACHE } from "../src/vmm/debian-image.js";
import * as content from "./debian-image/content.js";

/** Partition numbers as in Debian's own cloud images: root first in the table, last on disk. */
const PART = { root: 1, biosBoot: 14, esp: 15 } as const;
const KEY_PACKAGES = ["linux-image-cloud-amd64", "cloud-init", "systemd", "shim-signed"];

async function candidate(pkg: string): Promise<string> {
  const policy = await $`apt-cache policy ${pkg}`.text();
  const version = /Candidate:\s*(\S+)/.exec(policy)?.[1];
  if (!version || version === "(none)") {
    throw new Error(`no candidate version for ${pkg} (is the apt index present? apt-get update)`);
  }
  return version;
}

/** Everything that changes the output: a new key means a fresh build beside the old one. */
async function buildKey(mirrors: Mirrors): Promise<{ key: string; versions: object }> {
  const versions = Object.fromEntries(
    await Promise.all(KEY_PACKAGES.map(async (p) => [p, await candidate(p)] as const)),
  );
  const here = dirname(fileURLToPath(import.meta.url));
  const hash = createHash("sha256")
    .update(readFileSync(fileURLToPath(import.meta.url)))
    .update(readFileSync(join(here, "debian-image", "content.ts")))
    .update(JSON.stringify({ versions, mirrors }))
    .digest("hex")
    .slice(0, 12);
  return { key: `bookworm_${hash}`, versions };
}

/** Run `step`, print how long it took and remember it for the manifest. */
async function timed<T>(timings: Record<string, number>, name: string, step: () => Promise<T>) {
  $.logStep(name, "…");
  const t0 = performance.now();
  const result = await step();
  const s = (performance.now() - t0) / 1000;
  timings[name] = Math.round(s * 10) / 10;
  $.logLight(`  ${name}: ${s.toFixed(1)} s`);
  return result;
}

async function bootstrap(root: string, mirrors: Mirrors): Promise<void> {
  const sources = [
    `deb ${mirrors.debian} ${content.SUITE} main`,
    `deb ${mirrors.debian} ${content.SUITE}-updates main`,
    `deb ${mirrors.security} ${content.SUITE}-security main`,
  ];
  const dpkgOpts = content.DPKG_PATH_FILTERS.map((f) => `--dpkgopt=${f}`);
  await $`mmdebstrap --mode=root --variant=minbase --format=directory ${[
    '--aptopt=APT::Install-Recommends "false"',
    ...dpkgOpts,
    `--include=${content.PACKAGES.join(",")}`,
    content.SUITE,
    root,
    ...sources,
  ]}`.env({ DEBIAN_FRONTEND: "noninteractive" });
}

function write(root: string, path: string, text: string, mode = 0o644): void {
  const full = join(root, path);
  mkdirSync(dirname(full), { recursive: true });
  writeFileSync(full, text, { mode });
}

/** Configuration, first-boot identity (none baked in) and the units that must stay off. */
async function configure(root: string, rootUuid: string): Promise<void> {
  write(root, "etc/cloud/cloud.cfg.d/90_dpkg.cfg", content.CLOUD_DPKG_CFG);
  write(root, "etc/cloud/cloud.cfg.d/99_kubevisor.cfg", content.CLOUD_CFG);
  write(root, "etc/default/grub.d/50-kubevisor.cfg", content.GRUB_DEFAULTS);
  write(
    root,
    "etc/systemd/system/qemu-guest-agent.service.d/50-early.conf",
    content.GUEST_AGENT_DROPIN,
  );
  write(root, "etc/initramfs-tools/conf.d/kubevisor.conf", content.INITRAMFS_CONF);
  write(root, "etc/initramfs-tools/modules", `${content.INITRAMFS_MODULES.join("\n")}\n`);
  write(root, "etc/fstab", content.fstab(rootUuid));
  write(root, "etc/hostname", "debian\n");
  write(root, "etc/hosts", content.HOSTS);
  rmSync(join(root, "etc/resolv.conf"), { force: true });
  symlinkSync("../run/systemd/resolve/stub-resolv.conf", join(root, "etc/resolv.conf"));
  await $`chroot ${root} systemctl mask ${content.MASKED_UNITS}`.quiet();
  await $`chroot ${root} systemctl enable ${content.ENABLED_UNITS}`.quiet();
  // Every instance gets its own identity on first boot.
  writeFileSync(join(root, "etc/machine-id"), "");
  rmSync(join(root, "var/lib/dbus/machine-id"), { force: true });
  for (const f of readdirSync(join(root, "etc/ssh"))) {
    if (f.startsWith("ssh_host_")) rmSync(join(root, "etc/ssh", f));
  }
  rmSync(join(root, "var/lib/cloud"), { recursive: true, force: true });
  for (const f of readdirSync(join(root, "var/log"), { recursive: true, withFileTypes: true })) {
    if (f.isFile()) writeFileSync(join(f.parentPath, f.name), "");
  }
}

/** `/sys/class/block/<name>/dev` → `major:minor`. */
function devNumbers(name: string): [number, number] {
  const [major, minor] = readFileSync(`/sys/class/block/${name}/dev`, "utf8").trim().split(":");
  return [Number(major), Number(minor)];
}

/** A private /dev for the chroot: the loop disk, its partitions and by-uuid links. */
async function privateDev(root: string, loop: string, rootUuid: string): Promise<void> {
  const dev = join(root, "dev");
  await $`mount -t tmpfs -o mode=0755 kubevisor-dev ${dev}`;
  const chars: [string, number, number][] = [
    ["null", 1, 3],
    ["zero", 1, 5],
    ["random", 1, 8],
    ["urandom", 1, 9],
  ];
  for (const [name, major, minor] of chars) {
    await $`mknod -m 0666 ${join(dev, name)} c ${major} ${minor}`;
  }
  const name = loop.replace("/dev/", "");
  for (const n of [name, ...Object.values(PART).map((p) => `${name}p${p}`)]) {
    const [major, minor] = devNumbers(n);
    await $`mknod -m 0660 ${join(dev, n)} b ${major} ${minor}`;
  }
  mkdirSync(join(dev, "disk", "by-uuid"), { recursive: true });
  symlinkSync(`../../${name}p${PART.root}`, join(dev, "disk", "by-uuid", rootUuid));
}

/** Inside the image: the trimmed initramfs, then GRUB for BIOS and its config for both. */
async function installBoot(root: string, loop: string, rootUuid: string): Promise<void> {
  await privateDev(root, loop, rootUuid);
  await $`mount -t proc proc ${join(root, "proc")}`;
  await $`mount -t sysfs sysfs ${join(root, "sys")}`;
  try {
    await $`chroot ${root} update-initramfs -u -k all`.quiet();
    await $`chroot ${root} grub-install --target=i386-pc --no-floppy ${loop}`.quiet("stdout");
    await $`chroot ${root} update-grub`.quiet();
    const cfg = readFileSync(join(root, "boot/grub/grub.cfg"), "utf8");
    if (!cfg.includes(`root=UUID=${rootUuid}`)) {
      throw new Error("grub-mkconfig did not use root=UUID=… (private /dev links missing?)");
    }
  } finally {
    for (const m of ["sys", "proc", "dev"]) await $`umount ${join(root, m)}`.noThrow();
  }
}

/** Shim as the removable-path loader, Debian's signed GRUB beside it, a grub.cfg for both. */
async function fillEsp(root: string, esp: string, rootUuid: string, work: string): Promise<void> {
  const files: [string, string][] = [
    ["usr/lib/shim/shimx64.efi.signed", "EFI/BOOT/BOOTX64.EFI"],
    ["usr/lib/shim/mmx64.efi.signed", "EFI/BOOT/mmx64.efi"],
    ["usr/lib/grub/x86_64-efi-signed/grubx64.efi.signed", "EFI/BOOT/grubx64.efi"],
  ];
  // Quiet: mkfs.vfat and mtools complain that a loop partition has no disk geometry.
  await $`mkfs.vfat -F 32 -n ESP ${esp}`.quiet();
  const cfg = join(work, "esp-grub.cfg");
  writeFileSync(cfg, content.espGrubCfg(rootUuid));
  const env = { MTOOLS_SKIP_CHECK: "1" };
  await $`mmd -i ${esp} ::/EFI ::/EFI/BOOT ::/EFI/debian`.env(env).quiet("stderr");
  for (const [src, dest] of files) {
    const from = join(root, src);
    if (!existsSync(from)) throw new Error(`missing ${src} in the image (shim/grub packages?)`);
    await $`mcopy -i ${esp} ${from} ${`::/${dest}`}`.env(env).quiet("stderr");
  }
  // The signed GRUB reads grub.cfg from its own directory or from /EFI/debian.
  await $`mcopy -i ${esp} ${cfg} ::/EFI/BOOT/grub.cfg`.env(env).quiet("stderr");
  await $`mcopy -i ${esp} ${cfg} ::/EFI/debian/grub.cfg`.env(env).quiet("stderr");
}

async function assembleDisk(rootfs: string, raw: string, work: string): Promise<void> {
  const rootUuid = randomUUID();
  await $`truncate -s ${`${DEBIAN_DISK_SIZE_MIB}M`} ${raw}`;
  await $`sgdisk -Z ${raw}`.quiet();
  await $`sgdisk ${[
    `-n ${PART.biosBoot}:2048:+3M`,
    `-t ${PART.biosBoot}:EF02`,
    `-c ${PART.biosBoot}:bios`,
    `-n ${PART.esp}:0:+124M`,
    `-t ${PART.esp}:EF00`,
    `-c ${PART.esp}:esp`,
    `-n ${PART.root}:0:0`,
    `-t ${PART.root}:8300`,
    `-c ${PART.root}:root`,
  ].flatMap((a) => a.split(" "))} ${raw}`.quiet();
  const loop = (await $`losetup --find --show ${raw}`.text()).trim();
  const mnt = join(work, "mnt");
  mkdirSync(mnt);
  try {
    await $`partx -a ${loop}`;
    const part = (n: number) => `${loop}p${n}`;
    await $`mkfs.ext4 -q -L root -U ${rootUuid} ${part(PART.root)}`;
    await $`mount ${part(PART.root)} ${mnt}`;
    try {
      // dax's built-in cp knows no -a: the real one keeps owners, modes, links and xattrs.
      await $`/bin/cp -a ${`${rootfs}/.`} ${mnt}`;
      await configure(mnt, rootUuid);
      await installBoot(mnt, loop, rootUuid);
      await fillEsp(mnt, part(PART.esp), rootUuid, work);
      await $`fstrim ${mnt}`.noThrow().quiet();
    } finally {
      await $`umount ${mnt}`.noThrow();
    }
  } finally {
    await $`partx -d ${loop}`.noThrow().quiet();
    await $`losetup -d ${loop}`.noThrow();
  }
}

function publishCurrent(key: string): void {
  const current = cacheDir(DEBIAN_IMAGE_CACHE, "current");
  const tmp = `${current}.${process.pid}`;
  rmSync(tmp, { force: true });
  symlinkSync(key, tmp);
  renameSync(tmp, current);
}

const mib = (bytes: number) => Math.round(bytes / 2 ** 20);

async function build(out: string, mirrors: Mirrors, versions: object): Promise<void> {
  const base = cacheDir(DEBIAN_IMAGE_CACHE);
  const work = mkdtempSync(join(base, ".build-"));
  const timings: Record<string, number> = {};
  const t0 = performance.now();
  try {
    // Development aid: KUBEVISOR_DEBIAN_ROOTFS keeps the bootstrapped tree across builds
    // (bootstrapped into when missing), so trying disk or configuration changes skips mmdebstrap.
    const kept = process.env.KUBEVISOR_DEBIAN_ROOTFS;
    const rootfs = kept ?? join(work, "rootfs");
    if (!kept || !existsSync(join(kept, "etc", "os-release"))) {
      await timed(timings, "mmdebstrap", () => bootstrap(rootfs, mirrors));
    }
    const rootfsMiB = Number((await $`du -sm ${rootfs}`.text()).split(/\s/)[0]);
    const raw = join(work, "disk.raw");
    await timed(timings, "disk", () => assembleDisk(rootfs, raw, work));
    const image = join(work, "image");
    mkdirSync(join(image, "disk"), { recursive: true });
    const qcow2 = join(image, "disk", "disk.qcow2");
    await timed(timings, "qemu-img convert -c", async () => {
      // Progress only on a terminal: qemu-img redraws it with carriage returns.
      const progress = process.stdout.isTTY ? ["-p"] : [];
      await $`qemu-img convert ${progress} -c -O qcow2 ${raw} ${qcow2}`;
    });
    const allocated = Number((await $`du -B1 ${raw}`.text()).split(/\s/)[0]);
    const packages =
      // dpkg-query's own format syntax, not a template literal.
      // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query format
      (await $`chroot ${rootfs} dpkg-query -W -f=${"${Package} ${Version}\n"}`.text())
        .trim()
        .split("\n");
    const manifest = {
      suite: content.SUITE,
      mirrors,
      keyPackages: versions,
      packageCount: packages.length,
      packages,
      sizes: {
        virtualMiB: DEBIAN_DISK_SIZE_MIB,
        rootfsMiB,
        allocatedMiB: mib(allocated),
        qcow2MiB: mib(statSync(qcow2).size),
      },
      timingsSeconds: { ...timings, total: Math.round((performance.now() - t0) / 100) / 10 },
      builtAt: new Date().toISOString(),
    };
    writeFileSync(join(image, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`);
    renameSync(image, out);
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}

async function main(): Promise<void> {
  if (process.getuid?.() !== 0) {
    // Not fatal: `npm run setup` goes on, and the tests that need the image say it is missing.
    $.logWarn(
      "Skipped",
      "the Debian cloud image needs root to build (loop devices, mount, chroot)",
    );
    return;
  }
  mkdirSync(cacheDir(DEBIAN_IMAGE_CACHE), { recursive: true });
  const mirrors = hostMirrors();
  const { key, versions } = await buildKey(mirrors);
  const out = cacheDir(DEBIAN_IMAGE_CACHE, key);
  if (existsSync(join(out, "manifest.json"))) {
    $.logLight(`Debian cloud image up to date: ${out}`);
  } else {
    $.logStep("Building", `Debian 12 cloud image from ${mirrors.debian} (a few minutes)`);
    await build(out, mirrors, versions);
  }
  publishCurrent(key);
  const m = JSON.parse(readFileSync(join(out, "manifest.json"), "utf8"));
  $.logStep(
    "Debian image ready",
    `${cacheDir(DEBIAN_IMAGE_CACHE, "current")} -> ${key} (${m.sizes.qcow2MiB} MiB qcow2, ${m.packageCount} packages)`,
  );
}

await main();
