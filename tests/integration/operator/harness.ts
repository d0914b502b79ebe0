/**
 * Test fixtures for the operator on a real control plane with no kubelet: a Node object the
 * real scheduler binds pods to (its Lease heartbeated so it stays Ready), a stand-in kubelet
 * that patches pod status the way a kubelet would and finishes graceful deletions, and a
 * stand-in launcher — a real mTLS HTTPS server answering GET /status.
 */
import type { IncomingMessage, ServerResponse } from "node:http";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import type { TLSSocket } from "node:tls";
import { KubeConfig, type V1Node, type V1Pod } from "@kubernetes/client-node";
import { afterAll, beforeAll, expect, inject } from "vitest";
import {
  GROUP,
  isBootableDisk,
  LAUNCHER_CONTAINER,
  type LauncherStatus,
  VERSION,
  type VirtualMachineSpecInput,
  type VirtualMachineStatus,
} from "../../../src/api/index.js";
import { isAlreadyExists, isNotFound, KubeClient, paths } from "../../../src/kube/client.js";
import { ensureOperatorCA } from "../../../src/operator/ca.js";
import {
  type OperatorOptions,
  type RunningOperator,
  startOperator,
} from "../../../src/operator/operator.js";
import { logger, rootLogger } from "../../../src/util/log.js";
import { issueCertificate } from "../../../src/util/pki.js";

// The operator runs in-process; its info logs would drown the test report.
rootLogger.level = process.env.KUBEVISOR_LOG_LEVEL ?? "warn";

export function kubeConfig(): KubeConfig {
  const kc = new KubeConfig();
  kc.loadFromFile(inject("kubeconfig"));
  return kc;
}

export const client = () => new KubeClient(kubeConfig());

export const vmPath = (ns: string, name?: string) =>
  paths.custom(GROUP, VERSION, "virtualmachines", ns, name);

export interface Vm {
  metadata: {
    name: string;
    namespace: string;
    uid: string;
    generation: number;
    resourceVersion: string;
    finalizers?: string[];
    annotations?: Record<string, string>;
    deletionTimestamp?: string;
  };
  spec: VirtualMachineSpecInput;
  status?: VirtualMachineStatus;
}

export async function ensureNamespace(c: KubeClient, name: string) {
  await c
    .create("/api/v1/namespaces", { apiVersion: "v1", kind: "Namespace", metadata: { name } })
    .catch((err) => {
      if (!isAlreadyExists(err)) throw err;
    });
}

export function createVm(
  c: KubeClient,
  ns: string,
  name: string,
  spec: Partial<VirtualMachineSpecInput> = {},
) {
  return c.create<Vm>(vmPath(ns), {
    apiVersion: `${GROUP}/${VERSION}`,
    kind: "VirtualMachine",
    metadata: { name, namespace: ns },
    spec: {
      memory: { size: "128Mi" },
      // Something to boot, as the API requires; tests that give a bootable disk need none.
      ...(spec.disks?.some(isBootableDisk) ? {} : { boot: { kernel: { image: TEST_KERNEL } } }),
      ...spec,
    },
  });
}

const TEST_KERNEL = "kubevisor/test-guest:latest";

export const getVm = (c: KubeClient, ns: string, name: string) => c.get<Vm>(vmPath(ns, name));

export async function launcherPods(c: KubeClient, ns: string, vm?: string): Promise<V1Pod[]> {
  const selector = `kubevisor.io/component=launcher${vm ? `,kubevisor.io/vm=${vm}` : ""}`;
  const list = await c.list<V1Pod>(paths.pods(ns), { labelSelector: selector });
  return list.items;
}

/** Polls until `check` returns a value (not undefined/false) or throws after `timeoutMs`. */
export async function until<T>(
  what: string,
  check: () => Promise<T | undefined | false>,
  timeoutMs = 20_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const value = await check();
      if (value !== undefined && value !== false) return value;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline)
      throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

export async function untilVm(
  c: KubeClient,
  ns: string,
  name: string,
  what: string,
  pred: (vm: Vm) => boolean,
  timeoutMs?: number,
) {
  return until(
    `${ns}/${name}: ${what}`,
    async () => {
      const vm = await getVm(c, ns, name);
      return pred(vm) ? vm : undefined;
    },
    timeoutMs,
  );
}

export async function eventsOf(c: KubeClient, ns: string, name: string) {
  const list = await c.list<{
    reason: string;
    message: string;
    type: string;
    count: number;
    involvedObject: { name: string; kind: string };
  }>(paths.events(ns));
  return list.items.filter(
    (e) => e.involvedObject.kind === "VirtualMachine" && e.involvedObject.name === name,
  );
}

/** A Node the scheduler can place launcher pods on; its Lease is renewed until stop(). */
export class FakeNode {
  private timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly c: KubeClient,
    readonly name: string,
    private readonly capacity = { cpu: "8", memory: "16Gi", pods: "110" },
  ) {}

  async start() {
    const node: V1Node = {
      apiVersion: "v1",
      kind: "Node",
      metadata: {
        name: this.name,
        labels: {
          "kubernetes.io/hostname": this.name,
          "kubernetes.io/os": "linux",
          "kubernetes.io/arch": "amd64",
        },
      },
      spec: {},
    };
    await this.c.create(paths.nodes(), node).catch((err) => {
      if (!isAlreadyExists(err)) throw err;
    });
    await this.heartbeat();
    this.timer = setInterval(() => void this.heartbeat().catch(() => {}), 5000);
    // The scheduler skips nodes with the not-ready taint admission put on at creation.
    await until(
      `node ${this.name} schedulable`,
      async () => {
        const n = await this.c.get<V1Node>(`${paths.nodes()}/${this.name}`);
        return !(n.spec?.taints ?? []).some((t) => t.key.startsWith("node.kubernetes.io/"));
      },
      60_000,
    );
  }

  private async heartbeat() {
    const now = new Date().toISOString().replace(/\.\d{3}Z$/, "Z");
    const condition = (type: string, status: string, reason: string) => ({
      type,
      status,
      reason,
      message: reason,
      lastHeartbeatTime: now,
      lastTransitionTime: now,
    });
    await this.c.request("PATCH", `${paths.nodes()}/${this.name}/status`, {
      contentType: "application/strategic-merge-patch+json",
      body: {
        status: {
          capacity: this.capacity,
          allocatable: this.capacity,
          conditions: [
            condition("Ready", "True", "KubeletReady"),
            condition("MemoryPressure", "False", "KubeletHasSufficientMemory"),
            condition("DiskPressure", "False", "KubeletHasNoDiskPressure"),
            condition("PIDPressure", "False", "KubeletHasSufficientPID"),
          ],
          addresses: [
            { type: "InternalIP", address: "127.0.0.1" },
            { type: "Hostname", address: this.name },
          ],
        },
      },
    });
    const lease = `/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases/${this.name}`;
    const micro = new Date().toISOString().replace(/Z$/, "000Z");
    try {
      await this.c.mergePatch(lease, {
        spec: { renewTime: micro, holderIdentity: this.name, leaseDurationSeconds: 40 },
      });
    } catch (err) {
      if (!isNotFound(err)) throw err;
      await this.c.create("/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases", {
        apiVersion: "coordination.k8s.io/v1",
        kind: "Lease",
        metadata: { name: this.name, namespace: "kube-node-lease" },
        spec: { holderIdentity: this.name, leaseDurationSeconds: 40, renewTime: micro },
      });
    }
  }

  stop() {
    clearInterval(this.timer);
  }
}

const stamp = () => new Date().toISOString().replace(/\.\d{3}Z$/, "Z");

/** Plays the kubelet's part for launcher pods: status patches and graceful deletions. */
export class FakeKubelet {
  private timer: NodeJS.Timeout | undefined;
  private busy = false;
  /** Bound pods are set Running+Ready with the next free 127.0.0.x address, when true. */
  autoRun = true;
  /** While true, graceful deletions are left pending, as if the guest took long to stop. */
  holdDeletions = false;
  /** Status the stand-in launcher reports; by pod name. */
  private nextIp: number;
  readonly ips = new Map<string, string>();

  constructor(
    private readonly c: KubeClient,
    private readonly ns: string,
    firstIp = 100,
  ) {
    this.nextIp = firstIp;
  }

  start() {
    this.timer = setInterval(() => void this.tick(), 100);
  }

  stop() {
    clearInterval(this.timer);
  }

  private async tick() {
    if (this.busy) return;
    this.busy = true;
    try {
      for (const pod of await launcherPods(this.c, this.ns)) {
        const phase = pod.status?.phase;
        const terminal = phase === "Succeeded" || phase === "Failed";
        if (pod.metadata?.deletionTimestamp) {
          if (this.holdDeletions) continue;
          // The launcher caught SIGTERM and stopped the guest; the kubelet reports it and
          // removes the pod for good.
          if (!terminal && pod.spec?.nodeName)
            await this.terminate(pod, 0, "GuestStopped: stopped by SIGTERM");
          await this.c
            .delete(paths.pod(this.ns, pod.metadata.name ?? ""), {
              apiVersion: "v1",
              kind: "DeleteOptions",
              gracePeriodSeconds: 0,
              preconditions: { uid: pod.metadata.uid },
            })
            .catch(() => {});
          continue;
        }
        if (this.autoRun && pod.spec?.nodeName && phase === "Pending") await this.run(pod);
      }
    } catch {
      // The next tick tries again.
    } finally {
      this.busy = false;
    }
  }

  ipOf(pod: V1Pod): string {
    const name = pod.metadata?.name ?? "";
    let ip = this.ips.get(name);
    if (!ip) {
      ip = `127.0.0.${this.nextIp++}`;
      this.ips.set(name, ip);
    }
    return ip;
  }

  async run(pod: V1Pod, ready = true) {
    const ip = this.ipOf(pod);
    const now = stamp();
    const cond = (type: string, status = "True") => ({ type, status, lastTransitionTime: now });
    await this.c.request("PATCH", `${paths.pod(this.ns, pod.metadata?.name ?? "")}/status`, {
      contentType: "application/merge-patch+json",
      body: {
        status: {
          phase: "Running",
          podIP: ip,
          podIPs: [{ ip }],
          hostIP: "127.0.0.1",
          startTime: now,
          conditions: [
            cond("PodScheduled"),
            cond("Initialized"),
            cond("ContainersReady", ready ? "True" : "False"),
            cond("Ready", ready ? "True" : "False"),
          ],
          containerStatuses: [
            {
              name: LAUNCHER_CONTAINER,
              image: pod.spec?.containers[0]?.image,
              imageID: "",
              ready,
              restartCount: 0,
              started: true,
              state: { running: { startedAt: now } },
            },
          ],
        },
      },
    });
  }

  /** The launcher process ended with `code` and wrote `message` as its termination message. */
  async terminate(pod: V1Pod, code: number, message: string, ranForMs = 60_000) {
    const finished = new Date();
    const started = new Date(finished.getTime() - ranForMs);
    const fmt = (d: Date) => d.toISOString().replace(/\.\d{3}Z$/, "Z");
    await this.c.request("PATCH", `${paths.pod(this.ns, pod.metadata?.name ?? "")}/status`, {
      contentType: "application/merge-patch+json",
      body: {
        status: {
          phase: code === 0 ? "Succeeded" : "Failed",
          conditions: [{ type: "Ready", status: "False", lastTransitionTime: fmt(finished) }],
          containerStatuses: [
            {
              name: LAUNCHER_CONTAINER,
              image: pod.spec?.containers[0]?.image,
              imageID: "",
              ready: false,
              restartCount: 0,
              started: false,
              state: {
                terminated: {
                  exitCode: code,
                  reason: code === 0 ? "Completed" : "Error",
                  message,
                  startedAt: fmt(started),
                  finishedAt: fmt(finished),
                },
              },
            },
          ],
        },
      },
    });
  }
}

/**
 * A stand-in launcher API: mTLS with a serving certificate from the operator CA, for every
 * VM of the namespace. It listens on all addresses, so it answers on whatever 127.0.0.x
 * the stand-in kubelet gave a pod; the operator is pointed at its port.
 */
export class FakeLauncher {
  private server: Server | undefined;
  status: LauncherStatus = {
    phase: "Running",
    acceleration: "TCG",
    accelerationReason: "KVM is not available: /dev/kvm missing",
  };
  /** Client certificate common names seen, to prove the operator presented one. */
  readonly clients: string[] = [];
  /** TLS server names asked for (`<vm>.<ns>.launcher.kubevisor.io`), with the pod IP dialled. */
  readonly asked: { servername: string; ip: string }[] = [];
  /**
   * Lets a test answer for some VMs itself (a misbehaving launcher); return true when it did.
   * `vm` is the VM name from the TLS server name.
   */
  respond?: (vm: string, req: IncomingMessage, res: ServerResponse) => boolean;
  /**
   * Answers to the migration endpoints, by the address the request arrived on (each pod
   * has its own 127.0.0.x): a launcher scripted to say what real QEMU rarely does.
   */
  migrate?: (podIp: string, method: string, path: string) => unknown;
  /** Per-pod /status, by the address asked; `status` when it answers undefined. */
  statusOf?: (podIp: string) => LauncherStatus | undefined;
  /** Migration requests seen: `${podIp} ${method} ${path}`. */
  readonly migrateCalls: string[] = [];
  /**
   * Pod IPs that were sent POST /start. With `gated`, a pod answers `Preparing` with
   * `awaitingStart` until then, as a launcher at its start gate does.
   */
  readonly started: string[] = [];
  gated = false;
  port = 0;

  async start(c: KubeClient, operatorNs: string, vmNs: string) {
    // The CA the operator will find and use (it creates it only when missing).
    const ca = await ensureOperatorCA(c, operatorNs, logger("test"));
    const serving = await issueCertificate(ca, {
      commonName: "fake-launcher",
      dnsNames: [`*.${vmNs}.launcher.${GROUP}`],
      usage: "server",
    });
    const server = createServer(
      {
        cert: serving.certPem,
        key: serving.keyPem,
        ca: ca.certPem,
        requestCert: true,
        rejectUnauthorized: true,
      },
      (req, res) => {
        const socket = req.socket as TLSSocket;
        const peer = socket.getPeerCertificate();
        this.clients.push(String(peer.subject?.CN));
        const servername = String((socket as TLSSocket & { servername?: string }).servername);
        this.asked.push({ servername, ip: socket.localAddress ?? "" });
        if (this.respond?.(servername.split(".")[0] ?? "", req, res)) return;
        const ip = (req.socket.localAddress ?? "").replace(/^::ffff:/, "");
        if (req.url === "/start" && req.method === "POST") {
          this.started.push(ip);
          req.resume();
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify({ started: true }));
          return;
        }
        if (req.url === "/status") {
          const waiting = this.gated && !this.started.includes(ip);
          res.writeHead(200, { "content-type": "application/json" });
          res.end(
            JSON.stringify(
              waiting
                ? { phase: "Preparing", awaitingStart: true }
                : (this.statusOf?.(ip) ?? this.status),
            ),
          );
          return;
        }
        const answer = req.url?.startsWith("/migrate")
          ? this.migrate?.(ip, req.method ?? "GET", req.url)
          : undefined;
        if (answer !== undefined) {
          this.migrateCalls.push(`${ip} ${req.method} ${req.url}`);
          req.resume();
          res.writeHead(200, { "content-type": "application/json" });
          res.end(JSON.stringify(answer));
          return;
        }
        res.writeHead(404);
        res.end();
      },
    );
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(0, "0.0.0.0", resolve);
    });
    this.server = server;
    this.port = (server.address() as AddressInfo).port;
  }

  async close() {
    const server = this.server;
    server?.closeAllConnections();
    if (server) await new Promise((r) => server.close(r));
  }
}

export interface Env {
  c: KubeClient;
  ns: string;
  operatorNs: string;
  node: FakeNode;
  kubelet: FakeKubelet;
  launcher: FakeLauncher;
}

/** Per-file setup: namespaces, a node, the stand-in kubelet. */
export async function setupEnv(name: string, firstIp: number): Promise<Env> {
  const c = client();
  const ns = `op-${name}`;
  const operatorNs = `op-${name}-system`;
  await ensureNamespace(c, ns);
  await ensureNamespace(c, operatorNs);
  const node = new FakeNode(c, `node-${name}`);
  await node.start();
  const kubelet = new FakeKubelet(c, ns, firstIp);
  kubelet.start();
  const launcher = new FakeLauncher();
  await launcher.start(c, operatorNs, ns);
  return { c, ns, operatorNs, node, kubelet, launcher };
}

/** Deletes the VMs of the namespace while the operator still runs, so finalizers clear. */
export async function teardownEnv(env: Env, operators: RunningOperator[]) {
  const vms = await env.c.list<Vm>(vmPath(env.ns));
  await Promise.all(
    vms.items.map((vm) => env.c.delete(vmPath(env.ns, vm.metadata.name)).catch(() => {})),
  );
  await until(
    "VMs gone",
    async () => (await env.c.list<Vm>(vmPath(env.ns))).items.length === 0,
    30_000,
  ).catch(() => {});
  await Promise.all(operators.map((o) => o.stop()));
  env.kubelet.stop();
  env.node.stop();
  await env.launcher.close();
  await env.c.delete(`${paths.nodes()}/${env.node.name}`).catch(() => {});
  env.c.close();
}

export const FAST = {
  claimGraceMs: 1000,
  quickFailureMs: 0,
  restartDelayMs: 0,
  statusPollMs: 1000,
};

export function operatorOptions(env: Env, extra: Partial<OperatorOptions> = {}): OperatorOptions {
  return {
    kubeConfig: kubeConfig(),
    namespace: env.operatorNs,
    launcherImage: "kubevisor:test",
    identity: `test-${Math.random().toString(16).slice(2, 8)}`,
    leaderElection: false,
    decide: FAST,
    launcherPort: env.launcher.port,
    ...extra,
  };
}

export const start = (env: Env, extra: Partial<OperatorOptions> = {}) =>
  startOperator(operatorOptions(env, extra));

/**
 * The per-file fixture of a test file with one operator throughout: setupEnv, `prepare`, then
 * the operator in beforeAll; teardownEnv in afterAll. `env` is filled in by beforeAll (the
 * same object throughout, so it may be destructured at the top of the file).
 */
export function operatorSuite(
  name: string,
  firstIp: number,
  extra: Partial<OperatorOptions> = {},
  prepare: (env: Env) => void = () => {},
): { env: Env; operator: () => RunningOperator } {
  const env = {} as Env;
  let operator: RunningOperator | undefined;
  beforeAll(async () => {
    Object.assign(env, await setupEnv(name, firstIp));
    prepare(env);
    operator = await start(env, extra);
  });
  afterAll(async () => {
    await teardownEnv(env, operator ? [operator] : []);
  });
  return {
    env,
    operator: () => {
      if (!operator) throw new Error("the operator has not started (beforeAll failed?)");
      return operator;
    },
  };
}

export function expectNoDuplicates(pods: V1Pod[]) {
  const live = pods.filter((p) => !["Succeeded", "Failed"].includes(p.status?.phase ?? ""));
  expect(
    live.length,
    `live launcher pods: ${live.map((p) => p.metadata?.name).join(", ")}`,
  ).toBeLessThanOrEqual(1);
}
