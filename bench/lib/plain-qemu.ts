/**
 * Plain QEMU for baselines: the argv src/vmm would build, spawned directly and driven by a
 * few raw socket writes, with no layer in between. Benchmarks measure beside it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { buildQemuArgs } from "../../src/vmm/cmdline.js";
import type { GuestConfig, MachineType } from "../../src/vmm/config.js";
import { GUEST_BOOT_MARKER, testGuestKernel } from "../../src/vmm/guest-image.js";
import { credsFiles, type SourceTls, type TargetTls } from "../../src/vmm/migration-tls.js";
import { DEFAULT_QEMU_BINARY, hostTscKhz } from "../../src/vmm/process.js";

/** BENCH_BOOT_DEADLINE_MS raises it on a loaded host, where TCG boots crawl. */
export const BOOT_DEADLINE_MS = Number(process.env.BENCH_BOOT_DEADLINE_MS ?? 15_000);

export function guest(machine: MachineType): GuestConfig {
  return {
    name: `bench-${machine}`,
    machine,
    cores: 1,
    memoryMiB: 256,
    kernel: testGuestKernel(machine),
    disks: [],
  };
}

export interface Plain {
  proc: ChildProcess;
  dir: string;
  qmp: RawQmp;
  serial: Socket;
}

async function connectRetry(path: string, deadline: number): Promise<Socket> {
  for (;;) {
    try {
      return await new Promise<Socket>((resolve, reject) => {
        const s = connect(path);
        s.once("connect", () => resolve(s));
        s.once("error", reject);
      });
    } catch (err) {
      if (Date.now() > deadline) throw err;
      await sleep(5);
    }
  }
}

/** The least QMP that works: line-split replies, first `return`/`error` answers the command. */
export class RawQmp {
  private buf = "";
  private waiters: ((m: Record<string, unknown>) => void)[] = [];
  events: Record<string, unknown>[] = [];

  constructor(readonly sock: Socket) {
    sock.setEncoding("utf8");
    sock.on("data", (d: string) => {
      this.buf += d;
      let i = this.buf.indexOf("\n");
      while (i >= 0) {
        const line = this.buf.slice(0, i).trim();
        this.buf = this.buf.slice(i + 1);
        if (line) {
          const msg = JSON.parse(line) as Record<string, unknown>;
          if ("event" in msg) this.events.push(msg);
          else if ("return" in msg || "error" in msg) this.waiters.shift()?.(msg);
        }
        i = this.buf.indexOf("\n");
      }
    });
  }

  cmd(execute: string, args?: Record<string, unknown>): Promise<Record<string, unknown>> {
    return new Promise((resolve) => {
      this.waiters.push(resolve);
      this.sock.write(`${JSON.stringify(args ? { execute, arguments: args } : { execute })}\n`);
    });
  }

  async event(name: string, match: (d: Record<string, unknown>) => boolean = () => true) {
    for (;;) {
      const e = this.events.find(
        (x) => x.event === name && match((x.data as Record<string, unknown>) ?? {}),
      );
      if (e) return e;
      await sleep(2);
    }
  }
}

export function eventMs(e: Record<string, unknown>): number {
  const t = e.timestamp as { seconds: number; microseconds: number };
  return t.seconds * 1000 + t.microseconds / 1000;
}

export async function plainStart(config: GuestConfig, incoming: boolean): Promise<Plain> {
  const dir = mkdtempSync(join(tmpdir(), "kv-bench-"));
  const argv = buildQemuArgs(config, {
    accel: "tcg",
    qmpSocket: join(dir, "qmp.sock"),
    serialSocket: join(dir, "serial.sock"),
    startPaused: !incoming,
    incoming,
    exitOnReboot: true,
    hostTscKhz: hostTscKhz(),
  });
  const proc = spawn(DEFAULT_QEMU_BINARY, argv, { detached: true, stdio: "ignore" });
  const deadline = Date.now() + BOOT_DEADLINE_MS;
  const qmp = new RawQmp(await connectRetry(join(dir, "qmp.sock"), deadline));
  await qmp.cmd("qmp_capabilities");
  const serial = await connectRetry(join(dir, "serial.sock"), deadline);
  return { proc, dir, qmp, serial };
}

export function plainStop(p: Plain): void {
  try {
    process.kill(-(p.proc.pid ?? 0), "SIGKILL");
  } catch {}
  p.qmp.sock.destroy();
  p.serial.destroy();
  rmSync(p.dir, { recursive: true, force: true });
}

export function untilMarker(serial: Socket, deadlineMs: number): Promise<void> {
  return new Promise((resolve, reject) => {
    let text = "";
    const timer = setTimeout(() => reject(new Error("plain boot deadline")), deadlineMs);
    serial.on("data", (d: Buffer) => {
      text += d.toString("latin1");
      if (text.includes(GUEST_BOOT_MARKER)) {
        clearTimeout(timer);
        resolve();
      }
    });
  });
}

export async function plainBoot(config: GuestConfig): Promise<{ ms: number; p: Plain }> {
  const t0 = Date.now();
  const p = await plainStart(config, false);
  const marker = untilMarker(p.serial, BOOT_DEADLINE_MS);
  // Observed at once: on a loaded host the deadline can pass before `cont` is answered.
  marker.catch(() => {});
  await p.qmp.cmd("cont");
  try {
    await marker;
  } catch (err) {
    plainStop(p);
    throw err;
  }
  return { ms: Date.now() - t0, p };
}

/**
 * QEMU's own migration TLS on a plain process, set up by hand the way its documentation
 * says: tls-creds-x509 (verify-peer) on both sides, authz-simple on the target, then
 * migrate-set-parameters. Same certificates and same DH group as the layer uses.
 */
export async function plainTls(
  p: Plain,
  tls: { endpoint: "server"; material: TargetTls } | { endpoint: "client"; material: SourceTls },
): Promise<void> {
  const dir = join(p.dir, "tls");
  mkdirSync(dir, { mode: 0o700 });
  for (const [file, pem] of Object.entries(credsFiles(tls.endpoint, tls.material))) {
    writeFileSync(join(dir, file), pem, { mode: 0o600 });
  }
  const ok = (r: Record<string, unknown>) => {
    if ("error" in r) throw new Error(`plain QEMU TLS setup: ${JSON.stringify(r.error)}`);
  };
  ok(
    await p.qmp.cmd("object-add", {
      "qom-type": "tls-creds-x509",
      id: "tls0",
      dir,
      endpoint: tls.endpoint,
      "verify-peer": true,
    }),
  );
  if (tls.endpoint === "server") {
    ok(
      await p.qmp.cmd("object-add", {
        "qom-type": "authz-simple",
        id: "authz0",
        identity: tls.material.clientDn,
      }),
    );
    ok(await p.qmp.cmd("migrate-set-parameters", { "tls-creds": "tls0", "tls-authz": "authz0" }));
  } else {
    ok(
      await p.qmp.cmd("migrate-set-parameters", {
        "tls-creds": "tls0",
        "tls-hostname": tls.material.serverName,
      }),
    );
  }
}
