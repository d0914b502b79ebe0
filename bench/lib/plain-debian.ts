/**
 * The Debian cloud guest under plain QEMU, started by hand with the options a launcher uses
 * for it (q35, TCG, the firmware, a qcow2 overlay on the image, a NoCloud seed, one virtio
 * NIC whose only way in is forwarded ports and which cannot reach out, virtio-rng, the guest
 * agent's virtio-serial channel): the baseline `bench/guests.ts` measures Kubevisor beside.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { $ } from "dax-sh";
import { AGENT_PORT_NAME } from "../../src/vmm/cmdline.js";
import { DEFAULT_QEMU_BINARY } from "../../src/vmm/process.js";

export type Firmware = "BIOS" | "UEFI";

export const OVMF_CODE = "/usr/share/OVMF/OVMF_CODE_4M.fd";
export const OVMF_VARS = "/usr/share/OVMF/OVMF_VARS_4M.fd";

export interface PlainDebian {
  proc: ChildProcess;
  dir: string;
  argv: string[];
  stop(): void;
}

export interface PlainDebianOptions {
  disk: string;
  firmware: Firmware;
  userData: string;
  /** Guest port → host port on 127.0.0.1. */
  forwards: Record<number, number>;
  memoryMiB?: number;
  cores?: number;
}

export async function startPlainDebian(o: PlainDebianOptions): Promise<PlainDebian> {
  const dir = mkdtempSync(join(tmpdir(), "kv-bench-debian-"));
  const overlay = join(dir, "overlay.qcow2");
  await $`qemu-img create -q -f qcow2 -b ${o.disk} -F qcow2 ${overlay}`;
  const seedDir = join(dir, "seed");
  await $`mkdir -p ${seedDir}`;
  writeFileSync(join(seedDir, "user-data"), o.userData);
  writeFileSync(
    join(seedDir, "meta-data"),
    `instance-id: plain-${Date.now()}\nlocal-hostname: plain-debian\n`,
  );
  const seed = join(dir, "seed.iso");
  await $`genisoimage -quiet -output ${seed} -volid cidata -joliet -rock ${join(seedDir, "user-data")} ${join(seedDir, "meta-data")}`;
  const argv = [
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-name",
    "guest=plain-debian",
    "-machine",
    "q35",
    "-accel",
    "tcg",
    "-cpu",
    "max",
    "-smp",
    String(o.cores ?? 1),
    "-m",
    `${o.memoryMiB ?? 512}M`,
    "-serial",
    `file:${join(dir, "serial.log")}`,
  ];
  if (o.firmware === "UEFI") {
    const vars = join(dir, "vars.fd");
    copyFileSync(OVMF_VARS, vars);
    argv.push(
      "-drive",
      `if=pflash,format=raw,unit=0,readonly=on,file=${OVMF_CODE}`,
      "-drive",
      `if=pflash,format=raw,unit=1,file=${vars}`,
    );
  }
  argv.push(
    "-blockdev",
    JSON.stringify({
      driver: "qcow2",
      "node-name": "root",
      file: { driver: "file", filename: overlay },
    }),
    "-device",
    "virtio-blk-pci,drive=root,bootindex=1",
    "-blockdev",
    JSON.stringify({
      driver: "raw",
      "node-name": "seed",
      "read-only": true,
      file: { driver: "file", filename: seed, "read-only": true },
    }),
    "-device",
    "virtio-blk-pci,drive=seed",
    "-device",
    "virtio-rng-pci",
    "-chardev",
    `socket,id=qga0,path=${join(dir, "qga.sock")},server=on,wait=off`,
    "-device",
    "virtio-serial-pci",
    "-device",
    `virtserialport,chardev=qga0,name=${AGENT_PORT_NAME}`,
  );
  // restrict=on: the guest reaches nothing outside; only the forwards come in. (No passt
  // baseline here: it would need its own egress confinement, which is the vmm's to build.)
  const fwd = Object.entries(o.forwards)
    .map(([guest, host]) => `,hostfwd=tcp:127.0.0.1:${host}-:${guest}`)
    .join("");
  argv.push("-netdev", `user,id=net0,restrict=on${fwd}`);
  argv.push("-device", "virtio-net-pci,netdev=net0,romfile=");
  const proc = spawn(DEFAULT_QEMU_BINARY, argv, { detached: true, stdio: "ignore" });
  return {
    proc,
    dir,
    argv,
    stop() {
      try {
        process.kill(-(proc.pid ?? 0), "SIGKILL");
      } catch {}
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
