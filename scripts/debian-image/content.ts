/**
 * What goes into the Debian cloud image besides Debian's packages: the package set, dpkg path
 * filters and the configuration files the build writes into the root filesystem. Pure data,
 * so the build key can hash it and a change here means a rebuild.
 */

export const SUITE = "bookworm";

/** Installed on top of minbase, Recommends off. No NTP client, no apt timers (masked below). */
export const PACKAGES = [
  "linux-image-cloud-amd64",
  "initramfs-tools",
  "systemd",
  "systemd-sysv",
  "systemd-resolved",
  "udev",
  "dbus",
  "netbase",
  "e2fsprogs",
  "cloud-init",
  "cloud-guest-utils",
  "openssh-server",
  "qemu-guest-agent",
  "sudo",
  "iproute2",
  // GRUB for both firmwares: grub-pc conflicts with grub-efi-amd64, so the BIOS side is
  // grub-pc-bin with a hand-run `grub-install --target=i386-pc`.
  "grub-efi-amd64",
  "grub-efi-amd64-signed",
  "shim-signed",
  "grub-pc-bin",
];

/** dpkg never unpacks these (written into the image too, so later installs keep it lean). */
export const DPKG_PATH_FILTERS = [
  "path-exclude=/usr/share/man/*",
  "path-exclude=/usr/share/info/*",
  "path-exclude=/usr/share/doc/*",
  "path-include=/usr/share/doc/*/copyright",
  "path-exclude=/usr/share/locale/*",
  "path-include=/usr/share/locale/locale.alias",
  "path-exclude=/usr/share/lintian/*",
];

/**
 * Masked: apt's timers would reach out to the network on their own; e2scrub_reap cleans up
 * LVM snapshots this image never has, at a cost of seconds of CPU in the middle of boot.
 */
export const MASKED_UNITS = ["apt-daily.timer", "apt-daily-upgrade.timer", "e2scrub_reap.service"];
export const ENABLED_UNITS = ["systemd-networkd.service", "systemd-resolved.service"];

/** Kernel command line: serial console for logs and tests, tty0 too so a display shows boot. */
export const KERNEL_CMDLINE = "console=tty0 console=ttyS0,115200n8";

/**
 * cloud-init, NoCloud only. Module lists trimmed to what a Kubevisor guest uses: every module
 * is a Python import under emulation. The init stage (which sshd waits for) keeps hostname,
 * users and SSH; host keys are ed25519 only (RSA-3072 generation alone costs 3-14 s under
 * TCG). growpart and resizefs run first thing in the config stage instead, beside sshd
 * rather than before it: growpart's many sfdisk/partx/udevadm calls took 11 s of the init
 * stage on a busy host. Dropped: locale (no locales data), grub-dpkg, apt-configure,
 * apt-pipelining, ntp, keyboard, byobu, ca-certs, rsyslog, phone-home, ec2 metadata.
 */
export const CLOUD_CFG = `# Kubevisor: written by scripts/build-debian-image.ts
datasource_list: [NoCloud, None]
ssh_genkeytypes: [ed25519]
locale: C.UTF-8
grub_dpkg:
  enabled: false
cloud_init_modules:
  - seed_random
  - bootcmd
  - write_files
  - disk_setup
  - mounts
  - set_hostname
  - update_hostname
  - update_etc_hosts
  - users_groups
  - ssh
cloud_config_modules:
  - growpart
  - resizefs
  - set_passwords
  - timezone
  - runcmd
cloud_final_modules:
  - package_update_upgrade_install
  - write_files_deferred
  - scripts_vendor
  - scripts_per_once
  - scripts_per_boot
  - scripts_per_instance
  - scripts_user
  - ssh_authkey_fingerprints
  - keys_to_console
  - final_message
  - power_state_change
`;

/** Debian's debconf-written datasource list, replaced so no other datasource is probed. */
export const CLOUD_DPKG_CFG = "datasource_list: [NoCloud, None]\n";

export const GRUB_DEFAULTS = `# Kubevisor: no menu delay, serial and screen consoles
GRUB_TIMEOUT=0
GRUB_TIMEOUT_STYLE=hidden
GRUB_CMDLINE_LINUX_DEFAULT=""
GRUB_CMDLINE_LINUX="${KERNEL_CMDLINE}"
GRUB_TERMINAL="console serial"
GRUB_SERIAL_COMMAND="serial --speed=115200"
GRUB_DISABLE_OS_PROBER=true
`;

/**
 * The guest agent needs nothing cloud-init does, but by default it is ordered after
 * sysinit.target, which waits for cloud-init's network stage. Without default dependencies
 * it starts as soon as udev sees its virtio-serial port.
 */
export const GUEST_AGENT_DROPIN = `[Unit]
DefaultDependencies=no
After=systemd-remount-fs.service
Conflicts=shutdown.target
Before=shutdown.target
`;

/**
 * The initramfs carries only the drivers a VM's root disk needs (virtio, SCSI, SATA; NVMe
 * and ext4 are built into the cloud kernel). Debian's default (MODULES=most) packs ~190
 * modules into 15 MB, which GRUB reads through BIOS calls and the kernel unpacks: seconds
 * under TCG. MODULES=dep cannot be used, as it would inspect the build host.
 */
export const INITRAMFS_CONF = "# Kubevisor: only the modules listed in ../modules\nMODULES=list\n";
export const INITRAMFS_MODULES = [
  "virtio_pci",
  "virtio_blk",
  "virtio_scsi",
  "sd_mod",
  "ahci",
  "ata_piix",
];

/** ESP grub.cfg beside shim and the signed GRUB: hand over to the root's grub.cfg. */
export function espGrubCfg(rootUuid: string): string {
  return `search --no-floppy --fs-uuid --set=root ${rootUuid}
set prefix=($root)/boot/grub
configfile $prefix/grub.cfg
`;
}

export function fstab(rootUuid: string): string {
  return `UUID=${rootUuid} / ext4 rw,discard,errors=remount-ro 0 1\n`;
}

export const HOSTS = `127.0.0.1 localhost
::1 localhost ip6-localhost ip6-loopback
`;
