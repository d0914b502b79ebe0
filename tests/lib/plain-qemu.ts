/**
 * The Debian cloud image under plain QEMU (no Kubevisor): q35 under TCG, SeaBIOS or OVMF
 * (optionally with Secure Boot enforcing), a throwaway qcow2 overlay over the image, a
 * NoCloud seed, user-mode networking confined with `restrict=on` and one SSH forward on
 * 127.0.0.1, virtio-rng and the guest agent on a virtio-serial socket. The serial console is
 * read line by line with timestamps, so callers can measure boot phases.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { copyFileSync, realpathSync } from "node:fs";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";
import { AGENT_PORT_NAME } from "../../src/vmm/cmdline.js";

const run = promisify(execFile);

export type Firmware = "bios" | "uefi" | "uefi-secureboot";

const OVMF = "/usr/share/OVMF";
const FIRMWARE: Record<Exclude<Firmware, "bios">, { code: string; vars: string }> = {
  uefi: { code: `${OVMF}/OVMF_CODE_4M.fd`, vars: `${OVMF}/OVMF_VARS_4M.fd` },
  "uefi-secureboot": {
    code: `${OVMF}/OVMF_CODE_4M.secboot.fd`,
    vars: `${OVMF}/OVMF_VARS_4M.ms.fd`,
  },
};

export interface PlainGuestOptions {
  /** Scratch directory for the overlay, firmware vars and the agent socket. */
  dir: string;
  /** The image's qcow2 (never written: the guest writes to an overlay). */
  disk: string;
  seedIso: string;
  firmware: Firmware;
  sshPort: number;
  cpus?: number;
  memoryMiB?: number;
  /** Overlay size, to let cloud-init grow the root partition. */
  diskSize?: string;
}

export interface ConsoleLine {
  /** Milliseconds since QEMU was spawned. */
  atMs: number;
  text: string;
}

export interface PlainGuest {
  process: ChildProcess;
  startedAt: number;
  agentSocket: string;
  console: ConsoleLine[];
  /** Resolves with the first console line matching `re` (or rejects when QEMU exits). */
  waitForConsole(re: RegExp): Promise<ConsoleLine>;
  stop(): Promise<void>;
}

export function plainQemuArgs(o: PlainGuestOptions, overlay: string, vars?: string): string[] {
  const secure = o.firmware === "uefi-secureboot";
  const args = [
    "-nodefaults",
    "-no-user-config",
    "-machine",
    `q35,accel=tcg${secure ? ",smm=on" : ""}`,
    "-cpu",
    "max",
    "-smp",
    String(o.cpus ?? 2),
    "-m",
    String(o.memoryMiB ?? 512),
    "-display",
    "none",
    "-monitor",
    "none",
    "-serial",
    "stdio",
  ];
  if (o.firmware !== "bios" && vars) {
    const fw = FIRMWARE[o.firmware];
    args.push(
      "-drive",
      `if=pflash,format=raw,unit=0,readonly=on,file=${fw.code}`,
      "-drive",
      `if=pflash,format=raw,unit=1,file=${vars}`,
    );
    if (secure) args.push("-global", "driver=cfi.pflash01,property=secure,value=on");
  }
  const agentSocket = join(o.dir, "agent.sock");
  args.push(
    "-drive",
    `if=none,id=disk0,format=qcow2,file=${overlay},discard=unmap`,
    "-device",
    "virtio-blk-pci,drive=disk0,bootindex=1",
    "-drive",
    `if=none,id=seed,format=raw,readonly=on,file=${o.seedIso}`,
    "-device",
    "virtio-blk-pci,drive=seed",
    "-netdev",
    `user,id=net0,restrict=on,hostfwd=tcp:127.0.0.1:${o.sshPort}-:22`,
    "-device",
    "virtio-net-pci,netdev=net0",
    "-object",
    "rng-random,id=rng0,filename=/dev/urandom",
    "-device",
    "virtio-rng-pci,rng=rng0",
    "-chardev",
    `socket,id=qga0,path=${agentSocket},server=on,wait=off`,
    "-device",
    "virtio-serial-pci",
    "-device",
    `virtserialport,chardev=qga0,name=${AGENT_PORT_NAME}`,
  );
  return args;
}

/** A throwaway qcow2 `overlay` over the image's qcow2 `disk` (which stays unwritten). */
export async function createOverlay(disk: string, overlay: string, size?: string): Promise<void> {
  await run("qemu-img", [
    "create",
    "-q",
    "-f",
    "qcow2",
    "-F",
    "qcow2",
    "-b",
    // The build directory, not `current`: a rebuild must not change a running guest's base.
    realpathSync(disk),
    overlay,
    ...(size ? [size] : []),
  ]);
}

/** Start the guest; the caller must `stop()` it. */
export async function startPlainGuest(o: PlainGuestOptions): Promise<PlainGuest> {
  const overlay = join(o.dir, "overlay.qcow2");
  await createOverlay(o.disk, overlay, o.diskSize);
  let vars: string | undefined;
  if (o.firmware !== "bios") {
    vars = join(o.dir, "OVMF_VARS.fd");
    copyFileSync(FIRMWARE[o.firmware].vars, vars);
  }
  const startedAt = Date.now();
  const child = spawn("qemu-system-x86_64", plainQemuArgs(o, overlay, vars), {
    stdio: ["pipe", "pipe", "pipe"],
  });
  const lines: ConsoleLine[] = [];
  const waiters = new Set<() => void>();
  let stderr = "";
  child.stderr?.on("data", (d: Buffer) => {
    stderr = (stderr + d.toString()).slice(-4000);
  });
  // biome-ignore lint/suspicious/noControlCharactersInRegex: strip terminal escapes from the console
  const ansi = /\x1b\[[0-9;?]*[A-Za-z]|\r/g;
  createInterface({ input: child.stdout as NodeJS.ReadableStream }).on("line", (l) => {
    lines.push({ atMs: Date.now() - startedAt, text: l.replace(ansi, "") });
    for (const w of waiters) w();
  });
  const exited = new Promise<never>((_, reject) => {
    child.once("exit", (code, signal) =>
      reject(new Error(`QEMU exited (${code ?? signal}): ${stderr.trim()}`)),
    );
  });
  exited.catch(() => {});
  return {
    process: child,
    startedAt,
    agentSocket: join(o.dir, "agent.sock"),
    console: lines,
    async waitForConsole(re) {
      for (;;) {
        const hit = lines.find((l) => re.test(l.text));
        if (hit) return hit;
        let wake = () => {};
        const woken = new Promise<void>((r) => {
          wake = r;
        });
        waiters.add(wake);
        try {
          await Promise.race([woken, exited]);
        } finally {
          waiters.delete(wake);
        }
      }
    },
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      const gone = new Promise((r) => child.once("exit", r));
      child.kill("SIGKILL");
      await gone;
    },
  };
}
