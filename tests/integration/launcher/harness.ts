import { type ChildProcess, spawn } from "node:child_process";
import { once } from "node:events";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { type ClientOptions, WebSocket } from "ws";
import {
  imageDirName,
  LAUNCHER_PORT,
  LAUNCHER_PROBE_PORT,
  launcherServerName,
} from "../../../src/api/launcher.js";
import { createCA, issueCertificate, type PemPair } from "../../../src/util/pki.js";
import { GUEST_BOOT_MARKER, GUEST_CMDLINE, guestImage } from "../../../src/vmm/index.js";

const REPO = join(import.meta.dirname, "..", "..", "..");
export const GUEST_IMAGE_REF = "kubevisor/test-guest:latest";

export interface Pki {
  ca: PemPair;
  server: (ns: string, name: string) => Promise<PemPair>;
  client: PemPair;
}

export async function testPki(): Promise<Pki> {
  const ca = await createCA("kubevisor-operator-ca");
  return {
    ca,
    server: (ns, name) =>
      issueCertificate(ca, {
        commonName: `${name}.${ns}`,
        dnsNames: [launcherServerName(ns, name)],
        usage: "server",
      }),
    client: await issueCertificate(ca, { commonName: "kubevisor-operator", usage: "client" }),
  };
}

/** The test guest's VM spec, as the operator would put it into the pod annotation. */
export function testGuestSpec(overrides: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    memory: { size: "256Mi" },
    acceleration: "Emulation",
    terminationGracePeriodSeconds: 20,
    boot: {
      kernel: {
        image: GUEST_IMAGE_REF,
        // The PVH ELF boots faster than the bzImage under TCG.
        kernelPath: "/boot/vmlinux",
        initrdPath: "/boot/initrd.img",
        cmdline: GUEST_CMDLINE,
      },
    },
    ...overrides,
  };
}

/** A loopback address of its own per launcher, so runs never collide on ports. */
function loopbackAddress(): string {
  const b = () => 1 + Math.floor(Math.random() * 250);
  return `127.${100 + Math.floor(Math.random() * 100)}.${b()}.${b()}`;
}

export interface LaunchOptions {
  env?: Record<string, string>;
  /** Further downward-API files beside vm.json (e.g. the migration-target flag). */
  specFiles?: Record<string, string>;
  /** Further container-disk images: reference → host directory (linked in, as local nodes do). */
  images?: Record<string, string>;
  /**
   * Files of the pod's other mounts, by path below the launcher's dir: e.g.
   * `cloud-init/<disk>/userdata/userdata` for a Secret volume, `pvcs/<disk>/…` for a claim.
   */
  files?: Record<string, string>;
}

/** One launcher process started as a pod would start it, on host directories. */
export class LauncherProcess {
  readonly ip = loopbackAddress();
  readonly name: string;
  readonly namespace = "tests";
  readonly dir: string;
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  private readonly child: ChildProcess;
  private output = "";

  private constructor(
    readonly pki: Pki,
    name: string,
    spec: unknown,
    server: PemPair,
    opts: LaunchOptions,
  ) {
    this.name = name;
    this.dir = mkdtempSync(join(tmpdir(), "kv-launcher-"));
    for (const sub of ["vm", "tls", "disks", "images", "pvcs", "pvc-devices", "cloud-init"]) {
      mkdirSync(join(this.dir, sub));
    }
    const images = { [GUEST_IMAGE_REF]: guestImage().dir, ...opts.images };
    for (const [ref, dir] of Object.entries(images)) {
      symlinkSync(dir, join(this.dir, "images", imageDirName(ref)));
    }
    for (const [path, text] of Object.entries(opts.files ?? {})) {
      mkdirSync(dirname(join(this.dir, path)), { recursive: true });
      writeFileSync(join(this.dir, path), text);
    }
    writeFileSync(join(this.dir, "tls", "tls.crt"), server.certPem);
    writeFileSync(join(this.dir, "tls", "tls.key"), server.keyPem);
    writeFileSync(join(this.dir, "tls", "ca.crt"), pki.ca.certPem);
    writeFileSync(
      join(this.dir, "vm", "vm.json"),
      JSON.stringify({
        apiVersion: "kubevisor.io/v1alpha1",
        kind: "VirtualMachine",
        metadata: { name, namespace: this.namespace, uid: `uid-${name}` },
        spec,
      }),
    );
    for (const [file, text] of Object.entries(opts.specFiles ?? {})) {
      writeFileSync(join(this.dir, "vm", file), text);
    }
    this.child = spawn(process.execPath, ["--import", "tsx", join(REPO, "src/launcher/main.ts")], {
      cwd: REPO,
      stdio: ["ignore", "pipe", "pipe"],
      env: {
        ...process.env,
        POD_IP: this.ip,
        KUBEVISOR_SPEC_DIR: join(this.dir, "vm"),
        KUBEVISOR_TLS_DIR: join(this.dir, "tls"),
        KUBEVISOR_DISKS_DIR: join(this.dir, "disks"),
        KUBEVISOR_IMAGES_DIR: join(this.dir, "images"),
        KUBEVISOR_PVCS_DIR: join(this.dir, "pvcs"),
        KUBEVISOR_PVC_DEVICES_DIR: join(this.dir, "pvc-devices"),
        KUBEVISOR_CLOUDINIT_DIR: join(this.dir, "cloud-init"),
        KUBEVISOR_TERMINATION_LOG: join(this.dir, "termination-log"),
        KUBEVISOR_BOOT_MARKER: GUEST_BOOT_MARKER,
        KUBEVISOR_BOOT_TIMEOUT_SECONDS: "60",
        // The harness reads QEMU's pid from the launcher's info-level log.
        KUBEVISOR_LOG_LEVEL: "info",
        // Guests under test answer on their forwarded ports and reach nothing else.
        KUBEVISOR_GUEST_OUTBOUND: "deny",
        ...opts.env,
      },
    });
    this.child.stdout?.on("data", (c: Buffer) => {
      this.output += c.toString();
    });
    this.child.stderr?.on("data", (c: Buffer) => {
      this.output += c.toString();
    });
    this.exited = once(this.child, "exit").then(([code, signal]) => ({ code, signal }));
  }

  static async start(
    pki: Pki,
    name: string,
    spec: unknown,
    opts: LaunchOptions = {},
  ): Promise<LauncherProcess> {
    return new LauncherProcess(pki, name, spec, await pki.server("tests", name), opts);
  }

  get logs(): string {
    return this.output;
  }

  /** The pid of this launcher's QEMU, from its "QEMU started" log line. */
  qemuPid(): number | undefined {
    for (const line of this.output.split("\n")) {
      if (!line.includes('"QEMU started"')) continue;
      return (JSON.parse(line) as { qemuPid: number }).qemuPid;
    }
    return undefined;
  }

  terminationMessage(): string {
    return readFileSync(join(this.dir, "termination-log"), "utf8");
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  /** Poll the plain probe port until ready, failing early if the launcher exits. */
  async waitReady(timeoutMs = 60_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => {
      exited = true;
    });
    while (Date.now() < deadline) {
      if (exited) throw new Error(`launcher exited before ready:\n${this.output}`);
      const res = await fetch(`http://${this.ip}:${LAUNCHER_PROBE_PORT}/readyz`).catch(() => null);
      if (res?.status === 200) return;
      await new Promise((r) => setTimeout(r, 200));
    }
    throw new Error(`launcher not ready within ${timeoutMs} ms:\n${this.output}`);
  }

  /** https.request options reaching this launcher as the operator does: pod IP plus the server name. */
  tlsRequestOptions(client: PemPair | null = this.pki.client) {
    return {
      host: this.ip,
      port: LAUNCHER_PORT,
      servername: launcherServerName(this.namespace, this.name),
      ca: this.pki.ca.certPem,
      ...(client ? { cert: client.certPem, key: client.keyPem } : {}),
      agent: false as const,
    };
  }

  /** GET over mutual TLS, as the operator does: pod IP plus the certificate's server name. */
  get(path: string, client: PemPair | null = this.pki.client, method = "GET") {
    return new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request({ ...this.tlsRequestOptions(client), path, method }, (res) => {
        let body = "";
        res.on("data", (c) => {
          body += c;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      req.on("error", reject);
      req.end();
    });
  }

  console(): Promise<ConsoleClient> {
    // ws hands `servername` to tls.connect although its types do not list it.
    const options: ClientOptions & { servername: string } = {
      servername: launcherServerName(this.namespace, this.name),
      ca: this.pki.ca.certPem,
      cert: this.pki.client.certPem,
      key: this.pki.client.keyPem,
    };
    const ws = new WebSocket(`wss://${this.ip}:${LAUNCHER_PORT}/console`, options);
    return new Promise((resolve, reject) => {
      ws.once("open", () => resolve(new ConsoleClient(ws)));
      ws.once("error", reject);
    });
  }

  /** Kill whatever is left (the launcher; its QEMU dies with it) and remove the files. */
  async cleanup(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill("SIGKILL");
      await this.exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

export class ConsoleClient {
  private text = "";

  constructor(readonly ws: WebSocket) {
    ws.on("message", (data: Buffer, isBinary: boolean) => {
      if (isBinary) this.text += data.toString("latin1");
    });
  }

  get received(): string {
    return this.text;
  }

  type(line: string): void {
    this.ws.send(Buffer.from(`${line}\n`), { binary: true });
  }

  async waitFor(re: RegExp, timeoutMs = 20_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      const m = re.exec(this.text);
      if (m) return m;
      await new Promise((r) => setTimeout(r, 50));
    }
    throw new Error(
      `${re} not seen on the console; tail: ${JSON.stringify(this.text.slice(-500))}`,
    );
  }

  close(): void {
    this.ws.close();
  }
}

/**
 * Whether a QEMU has gone within a short wait. A zombie counts as gone: once its launcher has
 * exited, reaping it is the job of whatever init the host runs.
 */
export async function qemuGone(pid: number, timeoutMs = 3_000): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    let state: string | undefined;
    try {
      state = /^\d+ \(.*\) (\S)/.exec(readFileSync(`/proc/${pid}/stat`, "utf8"))?.[1];
    } catch {
      return true;
    }
    if (state === "Z" || state === "X") return true;
    if (Date.now() > deadline) return false;
    await new Promise((r) => setTimeout(r, 50));
  }
}
