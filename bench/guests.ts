/**
 * Real-guest benchmark: the project's Debian 12 cloud image under TCG, BIOS and UEFI.
 * - apply → first SSH login through Kubevisor (at the VM's status address) beside plain
 *   QEMU started by hand with the same options (bench/lib/plain-debian.ts), interleaved in
 *   the same run; median of BENCH_RUNS (default 3).
 * - TCP throughput host → guest and guest → host over a forwarded port: Kubevisor with the
 *   binding its launcher uses (user-mode, `restrict=on`), beside plain QEMU with the same
 *   binding. The alternative binding (passt) is not offered by the vmm (see the decision in
 *   src/vmm/README.md, which has its figures); it is not measured here.
 *
 *   npm run bench -- guests        (BENCH_RUNS, BENCH_NET_MIB default 32)
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePorts } from "../src/local/ports.js";
import { startProduct } from "../src/local/product.js";
import { debianImageDisk } from "../src/vmm/debian-image.js";
import {
  cloudConfig,
  debianVm,
  type Firmware,
  type KeyPair,
  makeKeyPair,
  ssh,
  sshUntil,
} from "../tests/e2e/guests-lib.js";
import { getVm, kc, kubectl } from "../tests/e2e/lib.js";
import { measureThroughput, serverCommand, THROUGHPUT_PORT } from "./lib/guest-throughput.js";
import { startPlainDebian } from "./lib/plain-debian.js";
import { type Figures, formatTable, resultLine, summarize } from "./lib/report.js";

const RUNS = Math.max(1, Number(process.env.BENCH_RUNS ?? 3));
const NET_BYTES = Number(process.env.BENCH_NET_MIB ?? 32) << 20;
const NS = "bench-guests";
const FIRMWARES: Firmware[] = ["BIOS", "UEFI"];
const SSH_DEADLINE_MS = 600_000;

const loginCheck = "true";

async function kubevisorBoot(
  key: KeyPair,
  name: string,
  firmware: Firmware,
): Promise<{ ms: number; address: string }> {
  const manifest = debianVm(
    NS,
    name,
    firmware,
    { userData: cloudConfig(key.publicKey) },
    {
      network: {
        ports: [
          { name: "ssh", port: 22 },
          { name: "tp", port: THROUGHPUT_PORT },
        ],
      },
    },
  );
  const t0 = Date.now();
  const r = await kubectl(["apply", "-f", "-"], JSON.stringify(manifest));
  if (r.code !== 0) throw new Error(r.stderr);
  let address = "";
  await sshUntil(
    key,
    async () => {
      address = (await getVm(NS, name)).status?.ipAddress ?? "";
      return address || undefined;
    },
    loginCheck,
    SSH_DEADLINE_MS,
  );
  return { ms: Date.now() - t0, address };
}

async function plainBoot(key: KeyPair, firmware: Firmware) {
  const [sshPort = 0, tpPort = 0] = await freePorts(2);
  const t0 = Date.now();
  const vm = await startPlainDebian({
    disk: debianImageDisk(),
    firmware,
    userData: cloudConfig(key.publicKey),
    forwards: { 22: sshPort, [THROUGHPUT_PORT]: tpPort },
  });
  try {
    await sshUntilPort(key, sshPort);
    return { ms: Date.now() - t0, vm, sshPort, tpPort };
  } catch (err) {
    vm.stop();
    throw err;
  }
}

/** Plain QEMU's SSH is a forward on 127.0.0.1:port. */
async function sshUntilPort(key: KeyPair, port: number): Promise<void> {
  const deadline = Date.now() + SSH_DEADLINE_MS;
  for (;;) {
    const r = await ssh(key, "127.0.0.1", loginCheck, 30_000, port);
    if (r.code === 0) return;
    if (Date.now() > deadline) throw new Error(`plain QEMU: no SSH on ${port}: ${r.stderr}`);
    await new Promise((res) => setTimeout(res, 2000));
  }
}

export default async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "kv-bench-guests-"));
  const key = await makeKeyPair();
  const product = await startProduct({ name: `bench-guests-${process.pid}`, dir });
  process.env.KUBECONFIG = product.kubeconfigPath;
  const login: Record<Firmware, { kv: number[]; plain: number[] }> = {
    BIOS: { kv: [], plain: [] },
    UEFI: { kv: [], plain: [] },
  };
  const net: Record<"kv" | "plain", { toGuest: number; fromGuest: number } | undefined> = {
    kv: undefined,
    plain: undefined,
  };
  try {
    await kc("create", "namespace", NS);
    for (let run = 0; run < RUNS; run++) {
      for (const firmware of FIRMWARES) {
        const name = `deb-${firmware.toLowerCase()}-${run}`;
        const kv = await kubevisorBoot(key, name, firmware);
        login[firmware].kv.push(kv.ms);
        if (run === 0 && firmware === "BIOS") {
          await ssh(key, kv.address, serverCommand(NET_BYTES));
          net.kv = await measureThroughput(kv.address, THROUGHPUT_PORT, NET_BYTES);
        }
        await kc("delete", "vm", name, "-n", NS, "--wait=true", "--timeout=180s");
        const plain = await plainBoot(key, firmware);
        try {
          login[firmware].plain.push(plain.ms);
          if (run === 0 && firmware === "BIOS") {
            await ssh(key, "127.0.0.1", serverCommand(NET_BYTES), 60_000, plain.sshPort);
            net.plain = await measureThroughput("127.0.0.1", plain.tpPort, NET_BYTES);
          }
        } finally {
          plain.vm.stop();
        }
        process.stderr.write(
          `  run ${run + 1}/${RUNS} ${firmware}: kubevisor ${kv.ms} ms, plain ${plain.ms} ms to SSH\n`,
        );
      }
    }
  } finally {
    await product.stop();
    key.dispose();
    rmSync(dir, { recursive: true, force: true });
  }

  const figures: Figures = {};
  const baseline: Figures = {};
  const rows: string[][] = [];
  for (const firmware of FIRMWARES) {
    const k = summarize(login[firmware].kv);
    const p = summarize(login[firmware].plain);
    const id = `${firmware.toLowerCase()}_apply_to_ssh_median_ms`;
    figures[id] = k.median;
    baseline[id] = p.median;
    rows.push([
      `${firmware}: apply → first SSH login, median (min–max) ms`,
      `${k.median} (${k.min}–${k.max})`,
      `${p.median} (${p.min}–${p.max})`,
    ]);
  }
  for (const [dir, label] of [
    ["toGuest", "pod → guest"],
    ["fromGuest", "guest → pod"],
  ] as const) {
    const id = `net_${dir === "toGuest" ? "pod_to_guest" : "guest_to_pod"}_mib_s`;
    figures[id] = net.kv?.[dir] ?? Number.NaN;
    baseline[id] = net.plain?.[dir] ?? Number.NaN;
    rows.push([
      `TCP ${label}, ${NET_BYTES >> 20} MiB (MiB/s)`,
      `${figures[id]}`,
      `${baseline[id]}`,
    ]);
  }
  console.log(
    formatTable(
      [
        `Debian 12, 512 MiB, 1 vCPU, TCG, ${RUNS} run(s)`,
        "kubevisor (launcher's binding)",
        "plain QEMU (user-mode, restrict=on)",
      ],
      rows,
    ),
  );
  console.log(resultLine("guests", figures, baseline));
}
