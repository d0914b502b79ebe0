/**
 * Helpers for the real-guest end-to-end test and bench: an SSH key pair made for the run,
 * Debian VM manifests whose cloud-init authorises it, and SSH to the address in the VM's
 * status with retries (a first boot under TCG takes about a minute, and cloud-init restarts
 * sshd once just after it first answers).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DEBIAN_DEFAULT_USER, DEBIAN_IMAGE_DISK_PATH } from "../../src/vmm/debian-image.js";
import { generateSshKey } from "../lib/debian-guest.js";
import { waitFor } from "./lib.js";

export const DEBIAN_IMAGE = "kubevisor/debian-cloud:12";
export const DEBIAN_DISK_PATH = DEBIAN_IMAGE_DISK_PATH;
export const GUEST_USER = DEBIAN_DEFAULT_USER;

export interface KeyPair {
  dir: string;
  privateKey: string;
  publicKey: string;
  dispose(): void;
}

export async function makeKeyPair(): Promise<KeyPair> {
  const dir = mkdtempSync(join(tmpdir(), "kv-ssh-"));
  const { privateKeyPath, publicKey } = await generateSshKey(dir);
  return {
    dir,
    privateKey: privateKeyPath,
    publicKey,
    dispose: () => rmSync(dir, { recursive: true, force: true }),
  };
}

/** `#cloud-config` creating GUEST_USER with `publicKey`, plus any extra top-level lines. */
export function cloudConfig(publicKey: string, extra = ""): string {
  return [
    "#cloud-config",
    "users:",
    `  - name: ${GUEST_USER}`,
    "    sudo: ALL=(ALL) NOPASSWD:ALL",
    "    shell: /bin/bash",
    "    ssh_authorized_keys:",
    `      - ${publicKey}`,
    extra,
  ].join("\n");
}

export type Firmware = "BIOS" | "UEFI";

/** A Debian VM booting the project's cloud image through `firmware`. */
export function debianVm(
  ns: string,
  name: string,
  firmware: Firmware,
  cloudInit: Record<string, unknown>,
  spec: Record<string, unknown> = {},
): Record<string, unknown> {
  return {
    apiVersion: "kubevisor.io/v1alpha1",
    kind: "VirtualMachine",
    metadata: { name, namespace: ns },
    spec: {
      runStrategy: "Always",
      acceleration: "Auto",
      memory: { size: "512Mi" },
      firmware: { type: firmware },
      disks: [
        {
          name: "root",
          bootOrder: 1,
          containerDisk: { image: DEBIAN_IMAGE, path: DEBIAN_DISK_PATH },
        },
        { name: "cloudinit", cloudInitNoCloud: cloudInit },
      ],
      network: { ports: [{ name: "ssh", port: 22 }] },
      terminationGracePeriodSeconds: 60,
      ...spec,
    },
  };
}

export interface SshResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** One SSH command as GUEST_USER at `host`, with the run's key; never asks anything. */
export async function ssh(
  key: KeyPair,
  host: string,
  command: string,
  timeoutMs = 60_000,
  port = 22,
): Promise<SshResult> {
  return await run(
    "ssh",
    [
      "-n",
      "-p",
      String(port),
      "-i",
      key.privateKey,
      "-o",
      "BatchMode=yes",
      "-o",
      "StrictHostKeyChecking=no",
      "-o",
      "UserKnownHostsFile=/dev/null",
      "-o",
      "LogLevel=ERROR",
      "-o",
      "ConnectTimeout=10",
      `${GUEST_USER}@${host}`,
      command,
    ],
    timeoutMs,
    true,
  );
}

/** SSH until `command` succeeds at `host`; its stdout. */
export async function sshUntil(
  key: KeyPair,
  host: () => Promise<string | undefined> | string | undefined,
  command: string,
  timeoutMs = 420_000,
): Promise<string> {
  return await waitFor(
    `ssh ${GUEST_USER}@… ${command}`,
    async () => {
      const address = await host();
      if (!address) return undefined;
      const r = await ssh(key, address, command, 30_000);
      if (r.code !== 0) throw new Error(`ssh ${address}: exit ${r.code}: ${r.stderr.trim()}`);
      return r.stdout;
    },
    timeoutMs,
    2000,
  );
}

function run(cmd: string, args: string[], timeoutMs = 60_000, allowFailure = false) {
  return new Promise<SshResult>((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === "number" ? err.code : 255) : 0;
      if (err && !allowFailure) reject(new Error(`${cmd}: ${stderr || err.message}`));
      else resolve({ code, stdout, stderr });
    });
  });
}
