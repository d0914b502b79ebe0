/**
 * Helpers for end-to-end tests on the local cluster (tests/e2e/global-setup.ts): kubectl,
 * polling, and the launcher console reached the way the operator reaches it (mutual TLS with
 * a client certificate from the operator CA).
 */
import { execFile } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import type { ConnectionOptions } from "node:tls";
import { inject } from "vitest";
import WebSocket from "ws";
import { LAUNCHER_CLIENT_CN, LAUNCHER_PORT, launcherServerName } from "../../src/api/index.js";
import { findPodLogs } from "../../src/local/node/logs.js";
import { RELEASE_NAMESPACE } from "../../src/local/product.js";
import { issueCertificate } from "../../src/util/pki.js";

export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

export async function kubectl(args: string[], input?: string): Promise<KubectlResult> {
  return await new Promise((resolve) => {
    const child = execFile(
      "kubectl",
      args,
      { env: process.env, maxBuffer: 64 << 20 },
      (err, stdout, stderr) =>
        resolve({ code: err ? ((err as { code?: number }).code ?? 1) : 0, stdout, stderr }),
    );
    if (input !== undefined) child.stdin?.end(input);
  });
}

/** kubectl that must succeed; returns stdout. */
export async function kc(...args: string[]): Promise<string> {
  const r = await kubectl(args);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")}: ${r.stderr.trim()}`);
  return r.stdout;
}

export async function getJson<T = Record<string, unknown>>(...args: string[]): Promise<T> {
  return JSON.parse(await kc("get", ...args, "-o", "json")) as T;
}

/** Polls `probe` until it returns a value other than undefined, or fails naming `what`. */
export async function waitFor<T>(
  what: string,
  probe: () => Promise<T | undefined>,
  timeoutMs = 180_000,
  intervalMs = 500,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  while (Date.now() < deadline) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = err;
    }
    await sleep(intervalMs);
  }
  throw new Error(`timed out waiting for ${what}${lastError ? `: ${String(lastError)}` : ""}`);
}

export interface VmObject {
  metadata: { name: string; namespace: string; uid: string };
  spec: Record<string, unknown>;
  status?: {
    phase?: string;
    nodeName?: string;
    launcherPod?: string;
    ipAddress?: string;
    acceleration?: string;
    conditions?: { type: string; status: string; reason?: string; message?: string }[];
    migration?: { name?: string; phase?: string };
  };
}

export async function getVm(ns: string, name: string): Promise<VmObject> {
  return await getJson<VmObject>("vm", name, "-n", ns);
}

export async function waitForVmPhase(
  ns: string,
  name: string,
  phase: string,
  timeoutMs?: number,
): Promise<VmObject> {
  return await waitFor(
    `VM ${ns}/${name} to be ${phase}`,
    async () => {
      const vm = await getVm(ns, name);
      return vm.status?.phase === phase ? vm : undefined;
    },
    timeoutMs,
  );
}

/** A VM manifest booting the test guest; `spec` is merged over the defaults. */
export function vmManifest(ns: string, name: string, spec: Record<string, unknown> = {}): string {
  return JSON.stringify({
    apiVersion: "kubevisor.io/v1alpha1",
    kind: "VirtualMachine",
    metadata: { name, namespace: ns },
    spec: {
      memory: { size: "256Mi" },
      boot: {
        kernel: {
          image: "kubevisor/test-guest:0.1.0",
          kernelPath: "/boot/vmlinuz",
          initrdPath: "/boot/initrd.img",
          cmdline: "console=ttyS0 quiet",
        },
      },
      terminationGracePeriodSeconds: 10,
      ...spec,
    },
  });
}

export async function createNamespace(ns: string): Promise<void> {
  await kc("create", "namespace", ns);
}

let clientCert: Promise<{ caPem: string; certPem: string; keyPem: string }> | undefined;

/** A client certificate from the operator CA, as the operator itself presents to launchers. */
function operatorClientCert() {
  clientCert ??= (async () => {
    const secret = await getJson<{ data: Record<string, string> }>(
      "secret",
      "kubevisor-ca",
      "-n",
      RELEASE_NAMESPACE,
    );
    const decode = (k: string) => Buffer.from(secret.data[k] ?? "", "base64").toString("utf8");
    const ca = { certPem: decode("tls.crt"), keyPem: decode("tls.key") };
    // The launcher admits only the operator's name (LAUNCHER_CLIENT_CN), not just its CA.
    const cert = await issueCertificate(ca, { commonName: LAUNCHER_CLIENT_CN, usage: "client" });
    return { caPem: ca.certPem, ...cert };
  })();
  return clientCert;
}

/** The serial console of a VM's current launcher pod; collects output until closed. */
export class Console {
  output = "";
  private constructor(private readonly ws: WebSocket) {
    ws.on("message", (data: Buffer) => {
      this.output += data.toString("utf8");
    });
  }

  static async open(ns: string, vm: string, podIP: string): Promise<Console> {
    const tls = await operatorClientCert();
    const options: WebSocket.ClientOptions & ConnectionOptions = {
      ca: tls.caPem,
      cert: tls.certPem,
      key: tls.keyPem,
      servername: launcherServerName(ns, vm),
    };
    const ws = new WebSocket(`wss://${podIP}:${LAUNCHER_PORT}/console`, options);
    await new Promise<void>((resolve, reject) => {
      ws.once("open", () => resolve());
      ws.once("error", reject);
    });
    return new Console(ws);
  }

  send(text: string): void {
    this.ws.send(Buffer.from(text));
  }

  async waitFor(pattern: RegExp | string, timeoutMs = 60_000): Promise<string> {
    return await waitFor(
      `console output ${String(pattern)}`,
      async () => {
        const m =
          typeof pattern === "string" ? this.output.includes(pattern) : pattern.test(this.output);
        return m ? this.output : undefined;
      },
      timeoutMs,
      100,
    );
  }

  close(): void {
    this.ws.close();
  }
}

/** The guest's serial counter values seen so far (`kubevisor-counter N ...` lines). */
export function counters(output: string): number[] {
  return [...output.matchAll(/kubevisor-counter (\d+)/g)].map((m) => Number(m[1]));
}

/**
 * A launcher pod's log, read after it has ended, on either runtime: the stand-in keeps its
 * files after the pod is gone (src/local/node/logs.ts); a real kubelet deletes them with the
 * pod, so there `kubectl logs -f` follows from now until the container ends.
 */
export function followPodLog(ns: string, pod: string): { text(): Promise<string> } {
  if (inject("runtime") !== "containerd") {
    return {
      text: async () => {
        const logs = findPodLogs(inject("clusterDir"), ns, pod)[0];
        if (!logs) throw new Error(`no logs of ${ns}/${pod} on the stand-in nodes`);
        return readFileSync(join(logs.dir, "launcher.log"), "utf8");
      },
    };
  }
  const follow = kubectl(["logs", "-f", "-n", ns, pod]);
  return {
    text: async () => {
      const r = await follow;
      if (r.code !== 0) throw new Error(`kubectl logs -f ${ns}/${pod}: ${r.stderr.trim()}`);
      return r.stdout;
    },
  };
}

/**
 * A host directory to back a hostPath PersistentVolume. A real kubelet mounts it as it is
 * (no fsGroup change for hostPath), so it is opened to the launcher's uid, like a share
 * exported to it; files made in it need the same (`chmodSync(file, 0o666)`).
 */
export function hostPathScratch(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  chmodSync(dir, 0o777);
  return dir;
}
