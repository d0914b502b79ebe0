import { copyFileSync, existsSync, renameSync, rmSync, statSync } from "node:fs";
import { dirname, join } from "node:path";
import type { FirmwareConfig, MachineType } from "./config.js";

/** Debian's `ovmf` package (2022.11): 4 MiB builds, as QEMU's own descriptors prefer. */
export const OVMF_DIR = "/usr/share/OVMF";
export const OVMF_CODE = join(OVMF_DIR, "OVMF_CODE_4M.fd");
/** Secure-Boot build: needs SMM (`-machine smm=on`) and a secure pflash, or it hangs. */
export const OVMF_CODE_SECBOOT = join(OVMF_DIR, "OVMF_CODE_4M.secboot.fd");
/** Empty variable store. */
export const OVMF_VARS = join(OVMF_DIR, "OVMF_VARS_4M.fd");
/** Variable store with Microsoft's keys enrolled: Secure Boot enforcing for shim-signed guests. */
export const OVMF_VARS_MS = join(OVMF_DIR, "OVMF_VARS_4M.ms.fd");

/** The vars template that goes with a Secure Boot choice. */
export function uefiVarsTemplate(secureBoot: boolean): string {
  return secureBoot ? OVMF_VARS_MS : OVMF_VARS;
}

export type UefiFirmware = Extract<FirmwareConfig, { type: "uefi" }>;

/** The firmware code image a UEFI guest runs. */
export function uefiCodePath(fw: UefiFirmware): string {
  return fw.codePath ?? (fw.secureBoot ? OVMF_CODE_SECBOOT : OVMF_CODE);
}

/**
 * Give a VM its own writable copy of a vars template. An existing copy of the template's
 * size is kept: it holds the guest's boot entries and keys from earlier runs (and a
 * migration target's copy is overwritten by QEMU from the stream anyway). A copy of another
 * size cannot belong to this firmware and is an error. Returns whether a copy was made.
 */
export function prepareUefiVars(templatePath: string, varsPath: string): { created: boolean } {
  if (!existsSync(templatePath)) {
    throw new Error(`UEFI vars template ${templatePath} does not exist (install ovmf)`);
  }
  const want = statSync(templatePath).size;
  if (existsSync(varsPath)) {
    const have = statSync(varsPath).size;
    if (have !== want) {
      throw new Error(
        `UEFI vars ${varsPath} is ${have} bytes, the template ${templatePath} ${want}: not its copy`,
      );
    }
    return { created: false };
  }
  // Copy, then rename: a crash never leaves a half-written store that looks like ours.
  const tmp = join(dirname(varsPath), `.${process.pid}.vars.tmp`);
  try {
    copyFileSync(templatePath, tmp);
    renameSync(tmp, varsPath);
  } finally {
    rmSync(tmp, { force: true });
  }
  return { created: true };
}

/**
 * `-machine` options and arguments for the firmware. BIOS is q35's default (SeaBIOS).
 * UEFI: code read-only and the VM's vars writable, as pflash block nodes.
 */
export function firmwareArgs(
  machine: MachineType,
  fw: FirmwareConfig | undefined,
): { machineOptions: string[]; args: string[] } {
  if (!fw || fw.type === "bios" || machine !== "q35") return { machineOptions: [], args: [] };
  const node = (name: string, filename: string, readOnly: boolean) =>
    JSON.stringify({
      driver: "raw",
      "node-name": name,
      "read-only": readOnly,
      file: { driver: "file", filename, "read-only": readOnly },
    });
  const args = [
    "-blockdev",
    node("fw-code", uefiCodePath(fw), true),
    "-blockdev",
    node("fw-vars", fw.varsPath, false),
  ];
  const machineOptions = ["pflash0=fw-code", "pflash1=fw-vars"];
  if (fw.secureBoot) {
    // Without SMM the secboot build hangs silently; the secure flag keeps the guest OS
    // from writing authenticated variables behind the firmware's back.
    machineOptions.push("smm=on");
    args.push("-global", "driver=cfi.pflash01,property=secure,value=on");
  }
  return { machineOptions, args };
}
