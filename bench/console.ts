/**
 * `npm run bench -- console`: serial-console round-trip latency and throughput through the
 * whole path — kubectl-vm (pipe mode) → kube-apiserver → aggregation layer → the Kubevisor
 * API server → launcher /console (mutual TLS) → QEMU serial — beside the launcher's /console
 * reached directly over mutual TLS (the baseline), in the same run, on the same guest. Then
 * the other ways in, on the same guest (bench/lib/reach.ts): VNC first-frame latency and
 * frames/s through `kubectl vm vnc` vs the launcher's /vnc, and port-forward throughput
 * through `kubectl vm port-forward` vs a TCP connection to the guest port on the pod IP.
 *
 * Stands on a real control plane and a real launcher process (QEMU, the test guest); the API
 * server runs in this process and is registered exactly as the integration tests do it.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { KubeConfig } from "@kubernetes/client-node";
import { SUBRESOURCES_APISERVICE } from "../src/api/subresources.js";
import { startApiServer } from "../src/apiserver/server.js";
import { KubeClient, paths } from "../src/kube/client.js";
import { type ControlPlane, startControlPlane } from "../src/local/controlplane.js";
import { applyCrds, packagedCrdsDir } from "../src/local/crds.js";
import { createProgress } from "../src/local/progress.js";
import { GUEST_BOOT_MARKER, GUEST_CMDLINE } from "../src/vmm/index.js";
import {
  type ConsoleClient,
  GUEST_IMAGE_REF,
  LauncherProcess,
  testGuestSpec,
  testPki,
} from "../tests/integration/launcher/harness.js";
import { HTTP_PORT, REACH_NOTE, reachFigures, reachRow } from "./lib/reach.js";
import { type Figures, formatTable, resultLine, summarize } from "./lib/report.js";

const ROUND_TRIPS = Number(process.env.BENCH_CONSOLE_ROUND_TRIPS ?? 200);
const THROUGHPUT_BYTES = Number(process.env.BENCH_CONSOLE_BYTES ?? 256 * 1024);
const REPO = join(import.meta.dirname, "..");
const NS = "tests"; // the launcher harness's namespace
const SERVER_NS = "kv-bench";
const SERVICE = "kubevisor-apiserver";

/** A console: type text, and the growing output to look into. */
interface Endpoint {
  type(text: string): void;
  output(): string;
  close(): void;
}

async function until(
  ep: Endpoint,
  needle: string,
  from: number,
  timeoutMs = 60_000,
): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const at = ep.output().indexOf(needle, from);
    if (at >= 0) return at + needle.length;
    if (Date.now() > deadline) throw new Error(`"${needle}" not seen on the console`);
    await new Promise((r) => setImmediate(r));
  }
}

/** Round trips of `echo rNt`: the output line `rNt` appears only once the shell ran it. */
async function latency(ep: Endpoint, n: number): Promise<number[]> {
  const samples: number[] = [];
  for (let i = 0; i < n; i++) {
    const from = ep.output().length;
    const t0 = performance.now();
    ep.type(`echo r$((${i}))t\n`);
    await until(ep, `r${i}t`, from);
    samples.push(performance.now() - t0);
  }
  return samples;
}

/** Bytes per second of guest output: `head -c N` of a repeated pattern, then a marker. */
async function throughput(ep: Endpoint, bytes: number, tag: string): Promise<number> {
  const from = ep.output().length;
  const t0 = performance.now();
  ep.type(`yes 0123456789abcdef | head -c ${bytes}; echo; echo end$((0))${tag}\n`);
  await until(ep, `end0${tag}`, from, 300_000);
  return (bytes / (performance.now() - t0)) * 1000;
}

function direct(client: ConsoleClient): Endpoint {
  return {
    type: (text) => client.ws.send(Buffer.from(text), { binary: true }),
    output: () => client.received,
    close: () => client.close(),
  };
}

async function throughKubevisor(kubeconfig: string): Promise<Endpoint> {
  const child: ChildProcess = spawn(
    process.execPath,
    [
      "--import",
      "tsx",
      join(REPO, "src/cli/kubectl-vm.ts"),
      "console",
      "demo",
      "-n",
      NS,
      "--kubeconfig",
      kubeconfig,
    ],
    { cwd: REPO, stdio: ["pipe", "pipe", "inherit"] },
  );
  let text = "";
  child.stdout?.on("data", (c: Buffer) => {
    text += c.toString("latin1");
  });
  const ep = {
    type: (t: string) => void child.stdin?.write(t),
    output: () => text,
    close: () => void child.kill("SIGTERM"),
  };
  await until(ep, GUEST_BOOT_MARKER, 0); // the replay on attach
  return ep;
}

async function register(client: KubeClient, ip: string, port: number): Promise<void> {
  await client.create("/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: SERVER_NS },
  });
  await client.create("/api/v1/namespaces", {
    apiVersion: "v1",
    kind: "Namespace",
    metadata: { name: NS },
  });
  await client.create("/apis/apiregistration.k8s.io/v1/apiservices", {
    apiVersion: "apiregistration.k8s.io/v1",
    kind: "APIService",
    metadata: { name: SUBRESOURCES_APISERVICE },
    spec: {
      group: "subresources.kubevisor.io",
      version: "v1alpha1",
      service: { namespace: SERVER_NS, name: SERVICE, port: 443 },
      groupPriorityMinimum: 1000,
      versionPriority: 15,
    },
  });
  await client.create(`/api/v1/namespaces/${SERVER_NS}/services`, {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: SERVICE },
    spec: { ports: [{ name: "https", port: 443, targetPort: port }] },
  });
  // Loopback addresses are refused in IPv4 slices; see src/apiserver/README.md.
  await client.create(`/apis/discovery.k8s.io/v1/namespaces/${SERVER_NS}/endpointslices`, {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: SERVICE,
      labels: {
        "kubernetes.io/service-name": SERVICE,
        "endpointslice.kubernetes.io/managed-by": "kubevisor-bench",
      },
    },
    addressType: "FQDN",
    endpoints: [{ addresses: [ip], conditions: { ready: true } }],
    ports: [{ name: "https", port, protocol: "TCP" }],
  });
}

/** Runs one command in the guest's shell (`base`), waiting until it has finished. */
function shellOf(ep: Endpoint) {
  let n = 0;
  return async (command: string) => {
    const tag = `done${++n}x`;
    const from = ep.output().length;
    ep.type(`${command}; echo done$((${n}))x\n`);
    await until(ep, tag, from, 120_000);
  };
}

export default async function bench(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), "kubevisor-bench-console-"));
  let cp: ControlPlane | undefined;
  let launcher: LauncherProcess | undefined;
  let closeServer: (() => Promise<void>) | undefined;
  const endpoints: Endpoint[] = [];
  try {
    cp = await startControlPlane({
      name: `bench-console-${process.pid}`,
      dir,
      progress: createProgress(),
    });
    await applyCrds(cp.kubeconfigPath, packagedCrdsDir());
    const kc = new KubeConfig();
    kc.loadFromFile(cp.kubeconfigPath);
    const client = new KubeClient(kc);
    const pki = await testPki();
    launcher = await LauncherProcess.start(
      pki,
      "demo",
      testGuestSpec({
        // The pod IP forwards the guest's httpd, like a container port: the direct baseline.
        network: { ports: [{ name: "http", port: HTTP_PORT }] },
        // The bzImage, not the PVH ELF: a PVH boot gives the kernel no VGA text console, so
        // nothing the guest writes would reach the screen the VNC figures are counted on.
        boot: {
          kernel: {
            image: GUEST_IMAGE_REF,
            kernelPath: "/boot/vmlinuz",
            initrdPath: "/boot/initrd.img",
            cmdline: GUEST_CMDLINE,
          },
        },
      }),
    );
    const ip = `127.89.${2 + Math.floor(Math.random() * 250)}.${2 + Math.floor(Math.random() * 250)}`;
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    await register(client, ip, port);
    const server = await startApiServer({
      kubeConfig: kc,
      namespace: SERVER_NS,
      host: ip,
      port,
      service: SERVICE,
      launcherTls: {
        caPem: pki.ca.certPem,
        certPem: pki.client.certPem,
        keyPem: pki.client.keyPem,
      },
    });
    closeServer = server.close;
    const vmPath = paths.custom("kubevisor.io", "v1alpha1", "virtualmachines", NS);
    await client.create(vmPath, {
      apiVersion: "kubevisor.io/v1alpha1",
      kind: "VirtualMachine",
      metadata: { name: "demo", namespace: NS },
      spec: { memory: { size: "128Mi" }, boot: { kernel: { image: "kubevisor/test-guest" } } },
    });
    await client.request("PATCH", `${vmPath}/demo/status`, {
      body: { status: { phase: "Running", ipAddress: launcher.ip } },
      contentType: "application/merge-patch+json",
    });
    await launcher.waitReady(180_000);
    const base = direct(await launcher.console());
    endpoints.push(base);
    await until(base, GUEST_BOOT_MARKER, 0);
    // The APIService turns Available a moment after registration: retry the first attach.
    let full: Endpoint | undefined;
    for (let i = 0; !full; i++) {
      full = await throughKubevisor(cp.kubeconfigPath).catch((err) => {
        if (i > 20) throw err;
        return undefined;
      });
      if (!full) await new Promise((r) => setTimeout(r, 1000));
    }
    endpoints.push(full);

    // Warm-up, then interleaved halves so background load hits both alike.
    await latency(base, 5);
    await latency(full, 5);
    const half = Math.ceil(ROUND_TRIPS / 2);
    const lat = { full: [] as number[], base: [] as number[] };
    for (let round = 0; round < 2; round++) {
      lat.base.push(...(await latency(base, half)));
      lat.full.push(...(await latency(full, half)));
    }
    const tput = {
      base: await throughput(base, THROUGHPUT_BYTES, "a"),
      full: await throughput(full, THROUGHPUT_BYTES, "b"),
    };

    const p99 = (v: number[]) =>
      [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.floor(v.length * 0.99))] ??
      Number.NaN;
    const figures = (v: number[], bps: number): Figures => ({
      roundTripMedianMs: Number(summarize(v).median.toFixed(2)),
      roundTripP99Ms: Number(p99(v).toFixed(2)),
      throughputBytesPerSec: Math.round(bps),
    });
    const f = figures(lat.full, tput.full);
    const b = figures(lat.base, tput.base);
    console.log(
      formatTable(
        ["console path", "round trip median ms", "round trip p99 ms", "throughput KiB/s"],
        [
          [
            "kubectl-vm → kube-apiserver → API server → launcher",
            String(f.roundTripMedianMs),
            String(f.roundTripP99Ms),
            ((f.throughputBytesPerSec ?? 0) / 1024).toFixed(1),
          ],
          [
            "launcher /console direct (baseline)",
            String(b.roundTripMedianMs),
            String(b.roundTripP99Ms),
            ((b.throughputBytesPerSec ?? 0) / 1024).toFixed(1),
          ],
        ],
      ),
    );
    console.log(
      `(${lat.full.length} round trips each, ${THROUGHPUT_BYTES} bytes of output, TCG guest)`,
    );
    const reach = await reachFigures(launcher, shellOf(base), cp.kubeconfigPath);
    console.log(
      formatTable(
        [
          "path",
          "VNC first frame median ms",
          "p99 ms",
          "VNC frames/s",
          "VNC MiB/s",
          "port-forward MiB/s",
        ],
        [
          reachRow("kubectl-vm → kube-apiserver → API server → launcher", reach.full),
          reachRow("launcher /vnc; TCP to the pod IP (baseline)", reach.base),
        ],
      ),
    );
    console.log(REACH_NOTE);
    const { vncFirstFrameSamples: _f, ...fullReach } = reach.full;
    const { vncFirstFrameSamples: _b, ...baseReach } = reach.base;
    console.log(resultLine("console", { ...f, ...fullReach }, { ...b, ...baseReach }));
    client.close();
  } finally {
    for (const ep of endpoints) ep.close();
    await closeServer?.();
    await launcher?.cleanup();
    await cp?.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}
