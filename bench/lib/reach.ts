/**
 * The VNC and port-forward half of `npm run bench -- console`: the same guest reached through
 * the whole path (kubectl-vm's local listener → kube-apiserver → aggregation layer → the
 * Kubevisor API server → launcher) and directly (the launcher's /vnc over mutual TLS; a TCP
 * connection to the guest port forwarded on the pod IP), interleaved so load hits both alike.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { connect } from "node:net";
import { join } from "node:path";
import type { Duplex } from "node:stream";
import { createWebSocketStream, WebSocket } from "ws";
import { LAUNCHER_PORT, launcherServerName } from "../../src/api/launcher.js";
import type { LauncherProcess } from "../../tests/integration/launcher/harness.js";
import { type Figures, summarize } from "./report.js";
import { firstFrame, framesPerSecond } from "./rfb.js";

const REPO = join(import.meta.dirname, "..", "..");
const NS = "tests"; // the launcher harness's namespace
const VNC_SESSIONS = Number(process.env.BENCH_VNC_SESSIONS ?? 10);
const FPS_MS = Number(process.env.BENCH_VNC_FPS_MS ?? 4000);
const FORWARD_MIB = Number(process.env.BENCH_FORWARD_MIB ?? 32);
const FORWARD_ROUNDS = Number(process.env.BENCH_FORWARD_ROUNDS ?? 3);
/** The test guest's httpd (port 80) serves the file the bench writes into its /www. */
export const HTTP_PORT = 80;
/**
 * Typed into the guest's shell: a counter on the VGA console (tty0) so the screen keeps
 * changing while frames are counted (the built-in counter goes to the serial port only).
 */
const SCREEN_LOOP =
  "(while :; do echo screen-$((n=n+1)); usleep 20000; done >/dev/tty0 2>&1) & echo $! >/tmp/screen-loop";
export const REACH_NOTE = `(${VNC_SESSIONS} VNC sessions each, Raw encoding, frames counted over ${FPS_MS} ms twice; ${FORWARD_ROUNDS} HTTP GETs each of ${FORWARD_MIB} MiB from the guest's httpd; medians)`;

/** A WebSocket path of the launcher over mutual TLS, as the operator reaches it. */
export async function launcherStream(launcher: LauncherProcess, path: string): Promise<Duplex> {
  const options = {
    servername: launcherServerName(launcher.namespace, launcher.name),
    ca: launcher.pki.ca.certPem,
    cert: launcher.pki.client.certPem,
    key: launcher.pki.client.keyPem,
  };
  const ws = new WebSocket(`wss://${launcher.ip}:${LAUNCHER_PORT}${path}`, options);
  await new Promise<void>((resolve, reject) => {
    ws.once("open", () => resolve());
    ws.once("error", reject);
  });
  return createWebSocketStream(ws);
}

export async function tcp(host: string, port: number): Promise<Duplex> {
  const sock = connect(port, host);
  await new Promise<void>((resolve, reject) => {
    sock.once("connect", () => resolve());
    sock.once("error", reject);
  });
  return sock;
}

/** A kubectl-vm listener (`vnc`, `port-forward`) as a user runs it; its local port. */
export async function cliListener(
  kubeconfig: string,
  args: string[],
): Promise<{ port: number; close(): void }> {
  const child: ChildProcess = spawn(
    process.execPath,
    ["--import", "tsx", join(REPO, "src/cli/kubectl-vm.ts"), ...args, "--kubeconfig", kubeconfig],
    { cwd: REPO, stdio: ["ignore", "pipe", "pipe"] },
  );
  // Its hints ("Connect a VNC viewer there") would break the table; kept for a failure.
  let errors = "";
  child.stderr?.on("data", (c: Buffer) => {
    errors += c.toString();
  });
  let out = "";
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout?.on("data", (c: Buffer) => {
      out += c.toString();
      const m = /127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.once("exit", (code) =>
      reject(new Error(`kubectl-vm ${args[0]} exited ${code}: ${errors.trim()}`)),
    );
  });
  return { port, close: () => void child.kill("SIGINT") };
}

/** MiB/s of one HTTP GET of `path` (the whole response, headers included) over `open()`. */
export async function httpGet(open: () => Promise<Duplex>, path: string): Promise<number> {
  const t0 = performance.now();
  const sock = await open();
  let bytes = 0;
  sock.on("data", (c: Buffer) => {
    bytes += c.length;
  });
  sock.write(`GET ${path} HTTP/1.0\r\n\r\n`);
  await new Promise<void>((resolve, reject) => {
    sock.once("end", () => resolve());
    sock.once("close", () => resolve());
    sock.once("error", reject);
  });
  sock.destroy();
  return bytes / (1 << 20) / ((performance.now() - t0) / 1000);
}

export interface VncFigures {
  firstFrameMs: number[];
  fps: number[];
  mibPerSec: number[];
}

/** `rounds` sessions: first-frame latency, then incremental updates for `fpsMs`. */
export async function vncRounds(
  open: () => Promise<Duplex>,
  rounds: number,
  fpsMs: number,
  into: VncFigures,
): Promise<void> {
  for (let i = 0; i < rounds; i++) {
    const { ms, client } = await firstFrame(open);
    into.firstFrameMs.push(ms);
    if (i === 0) {
      const { fps, mibPerSec } = await framesPerSecond(client, fpsMs);
      into.fps.push(fps);
      into.mibPerSec.push(mibPerSec);
    }
    client.close();
  }
}

const median = (v: number[]) => summarize(v).median;
const p99 = (v: number[]) =>
  [...v].sort((a, b) => a - b)[Math.min(v.length - 1, Math.floor(v.length * 0.99))] ?? Number.NaN;
const round = (n: number, digits = 1) => Number(n.toFixed(digits));

export function reachRow(label: string, f: Figures): string[] {
  return [
    label,
    String(f.vncFirstFrameMedianMs),
    String(f.vncFirstFrameP99Ms),
    String(f.vncFramesPerSec),
    String(f.vncMiBPerSec),
    String(f.portForwardMiBPerSec),
  ];
}

/**
 * VNC and port-forward, both paths, on the console bench's guest; `shell` runs a command in
 * the guest's serial shell and waits for it.
 */
export async function reachFigures(
  launcher: LauncherProcess,
  shell: (command: string) => Promise<void>,
  kubeconfig: string,
) {
  await shell(`head -c ${FORWARD_MIB * 1024 * 1024} /dev/zero >/www/big; ${SCREEN_LOOP}`);
  const vnc = await cliListener(kubeconfig, ["vnc", "demo", "-n", NS, "--port", "0"]);
  const forward = await cliListener(kubeconfig, [
    "port-forward",
    "demo",
    `0:${HTTP_PORT}`,
    "-n",
    NS,
  ]);
  try {
    const open = {
      full: { vnc: () => tcp("127.0.0.1", vnc.port), http: () => tcp("127.0.0.1", forward.port) },
      base: {
        vnc: () => launcherStream(launcher, "/vnc"),
        http: () => tcp(launcher.ip, HTTP_PORT),
      },
    };
    const v = {
      full: { firstFrameMs: [], fps: [], mibPerSec: [] } as VncFigures,
      base: { firstFrameMs: [], fps: [], mibPerSec: [] } as VncFigures,
    };
    // Warm-up, then interleaved halves.
    await vncRounds(open.base.vnc, 1, 500, { firstFrameMs: [], fps: [], mibPerSec: [] });
    await vncRounds(open.full.vnc, 1, 500, { firstFrameMs: [], fps: [], mibPerSec: [] });
    const half = Math.ceil(VNC_SESSIONS / 2);
    for (let r = 0; r < 2; r++) {
      await vncRounds(open.base.vnc, half, FPS_MS, v.base);
      await vncRounds(open.full.vnc, half, FPS_MS, v.full);
    }
    // The screen loop costs guest CPU: stop it before measuring bytes.
    await shell("kill $(cat /tmp/screen-loop)");
    const http = { full: [] as number[], base: [] as number[] };
    await httpGet(open.base.http, "/big");
    await httpGet(open.full.http, "/big");
    for (let r = 0; r < FORWARD_ROUNDS; r++) {
      http.base.push(await httpGet(open.base.http, "/big"));
      http.full.push(await httpGet(open.full.http, "/big"));
    }
    const figures = (x: VncFigures, mib: number[]): Figures => ({
      vncFirstFrameMedianMs: round(median(x.firstFrameMs)),
      vncFirstFrameP99Ms: round(p99(x.firstFrameMs)),
      vncFramesPerSec: round(median(x.fps)),
      vncMiBPerSec: round(median(x.mibPerSec), 2),
      portForwardMiBPerSec: round(median(mib)),
      vncFirstFrameSamples: x.firstFrameMs.length,
    });
    return { full: figures(v.full, http.full), base: figures(v.base, http.base) };
  } finally {
    vnc.close();
    forward.close();
  }
}
