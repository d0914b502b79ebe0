import { existsSync, mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { logger } from "../util/log.js";
import { ensureBinaries, missingBinaries } from "./build/build.js";
import { binaryPath, component, ETCD_VERSION, KUBERNETES_VERSION } from "./build/targets.js";
import { ensurePki, readPem } from "./certs.js";
import { startLocalEndpoints, stopLocalEndpoints } from "./endpoints/lifecycle.js";
import {
  type ApiserverNetwork,
  apiserverUrl,
  componentArgs,
  HOST,
  healthUrl,
  LOOPBACK_NETWORK,
  type Ports,
} from "./flags.js";
import { type ClientTls, get } from "./http.js";
import { renderKubeconfig } from "./kubeconfig.js";
import {
  type ClusterLayout,
  COMPONENTS,
  type ControlPlaneComponent,
  clusterLayout,
  DEFAULT_CLUSTER,
  defaultClusterDir,
} from "./layout.js";
import { withLock } from "./lock.js";
import { allocatePorts, assertPortsFree } from "./ports.js";
import {
  findProcesses,
  ownedPid,
  removeFile,
  spawnDaemon,
  stopGroup,
  tailFile,
} from "./process.js";
import { formatDuration, type Progress, silentProgress } from "./progress.js";
import { type ClusterState, readState, writeState } from "./state.js";

const log = logger("local-controlplane");

export interface ClusterRef {
  /** Cluster name; picks the state directory `stateDir('cluster', name)`. Default "default". */
  name?: string;
  /** Explicit state directory (tests use a temp dir); overrides the name's default. */
  dir?: string;
}

export interface StartOptions extends ClusterRef {
  /** Ports to use; any not given are reused from the last start or picked free. */
  ports?: Partial<Ports>;
  progress?: Progress;
  /** Build missing binaries (many minutes the first time). Default true. */
  build?: boolean;
  /** How long to wait for every component to be ready. Default 180 s. */
  timeoutMs?: number;
  /** Aborting (e.g. on Ctrl-C) stops whatever was started and rejects. */
  signal?: AbortSignal;
  /**
   * Real nodes: the apiserver listens on this (project-created, non-loopback) address and
   * talks to kubelets. Fixed at a cluster's first start; a mismatch later is an error.
   */
  network?: ApiserverNetwork;
}

export interface ControlPlane {
  name: string;
  dir: string;
  kubeconfigPath: string;
  apiserverUrl: string;
  ports: Ports;
  /** True if a healthy running cluster was found and nothing was started. */
  reused: boolean;
  stop(): Promise<StopResult>;
}

export interface StopResult {
  /** Components that were running and are now stopped. */
  stopped: ControlPlaneComponent[];
  /** Of those, the ones that ignored SIGTERM and had to be killed. */
  killed: ControlPlaneComponent[];
}

export interface ComponentStatus {
  component: ControlPlaneComponent;
  pid?: number;
  running: boolean;
  log: string;
}

export interface ControlPlaneStatus {
  name: string;
  dir: string;
  /** The cluster has been started at least once (state exists). */
  exists: boolean;
  components: ComponentStatus[];
  /** All components run and the apiserver's /readyz answers 200. */
  ready: boolean;
  /** Which nodes it was created for (stand-in or real). */
  runtime?: ClusterState["runtime"];
  apiserverUrl?: string;
  kubeconfigPath: string;
}

export class ControlPlaneStartError extends Error {
  override name = "ControlPlaneStartError";
  constructor(
    message: string,
    readonly component: ControlPlaneComponent,
    readonly logFile: string,
    readonly logTail: string,
  ) {
    super(`${message}\n--- last lines of ${logFile} ---\n${logTail}`);
  }
}

function resolveRef(ref: ClusterRef): { name: string; layout: ClusterLayout } {
  const name = ref.name ?? DEFAULT_CLUSTER;
  if (!/^[a-z0-9][a-z0-9-]*$/.test(name)) {
    throw new Error(
      `invalid cluster name ${JSON.stringify(name)}: use lowercase letters, digits, -`,
    );
  }
  return { name, layout: clusterLayout(ref.dir ?? defaultClusterDir(name)) };
}

function adminTls(l: ClusterLayout): ClientTls {
  return {
    ca: readPem(l.pki.caCert),
    cert: readPem(l.pki.cert("admin")),
    key: readPem(l.pki.key("admin")),
  };
}

function binary(c: ControlPlaneComponent): string {
  return c === "etcd" ? binaryPath("etcd", "etcd") : binaryPath("kubernetes", c);
}

function runningPids(l: ClusterLayout): Map<ControlPlaneComponent, number> {
  const pids = new Map<ControlPlaneComponent, number>();
  for (const c of COMPONENTS) {
    const pid = ownedPid(l.pidFile(c), l.dir);
    if (pid !== undefined) pids.set(c, pid);
  }
  return pids;
}

function writeKubeconfigs(name: string, l: ClusterLayout, ports: Ports, host: string): void {
  const server = apiserverUrl(ports, host);
  const ca = readPem(l.pki.caCert);
  const write = (path: string, certName: string, user: string) => {
    const text = renderKubeconfig({
      name: `kubevisor-${name}`,
      server,
      caPem: ca,
      certPem: readPem(l.pki.cert(certName)),
      keyPem: readPem(l.pki.key(certName)),
      user,
    });
    mkdirSync(join(path, ".."), { recursive: true });
    writeFileSync(path, text, { mode: 0o600 });
  };
  write(l.kubeconfig, "admin", "kubevisor-admin");
  write(
    l.componentKubeconfig("kube-controller-manager"),
    "kube-controller-manager",
    "kube-controller-manager",
  );
  write(l.componentKubeconfig("kube-scheduler"), "kube-scheduler", "kube-scheduler");
}

function handle(
  name: string,
  l: ClusterLayout,
  ports: Ports,
  reused: boolean,
  host: string,
): ControlPlane {
  return {
    name,
    dir: l.dir,
    kubeconfigPath: l.kubeconfig,
    apiserverUrl: apiserverUrl(ports, host),
    ports,
    reused,
    stop: () => stopControlPlane({ name, dir: l.dir }),
  };
}

/**
 * Starts the local control plane (etcd, kube-apiserver, kube-controller-manager,
 * kube-scheduler) as detached processes on 127.0.0.1, or returns the running one if it is
 * healthy. Resolves once the apiserver is ready and the controller-manager has created the
 * default service account. On failure everything it started is stopped again.
 */
export async function startControlPlane(opts: StartOptions = {}): Promise<ControlPlane> {
  const { name, layout: l } = resolveRef(opts);
  const progress = opts.progress ?? silentProgress;
  const busy = (pid: number) => `cluster ${name} is being started or stopped by pid ${pid}`;
  return await withLock(l.lockFile, busy, async () => {
    const state = readState(l.stateFile);
    const net = opts.network ?? (state ? networkOf(state) : LOOPBACK_NETWORK);
    if (state && (state.apiserverAddress !== net.address || isReal(state) !== net.realNodes)) {
      throw new Error(
        `cluster ${name} was created for ${state.runtime} nodes; pick another --name or ` +
          `delete it first (kubevisor local down --name ${name} --purge)`,
      );
    }
    const running = runningPids(l);
    if (state && running.size === COMPONENTS.length) {
      const ready = await get(healthUrl("kube-apiserver", state.ports, net.address), adminTls(l));
      if (ready.status === 200) {
        // Started anew if it died (or predates it); the rest is reused as is.
        await startLocalEndpoints(l.dir, { signal: opts.signal });
        log.info({ name, dir: l.dir }, "reusing running control plane");
        return handle(name, l, state.ports, true, net.address);
      }
    }
    // Whatever is left of an earlier run (a crashed component, an unhealthy apiserver, a
    // process whose pid file was lost) is stopped so the start below begins clean.
    const leftovers = await stopComponents(l);
    if (leftovers.stopped.length > 0) {
      progress.note(`cluster ${name} was partly running or unhealthy; restarting it`);
    }

    const ports = await allocatePorts({ ...state?.ports, ...opts.ports });
    await assertPortsFree(ports);

    if (opts.build === false) {
      for (const c of [component("kubernetes"), component("etcd")]) {
        const missing = missingBinaries(c);
        if (missing.length > 0) {
          throw new Error(`missing ${missing.join(", ")}; run 'npm run kube:build' first`);
        }
      }
    } else {
      await ensureBinaries({ components: ["kubernetes", "etcd"], progress });
    }

    await ensurePki(l, { apiserverIps: net.address === HOST ? [] : [net.address] });
    writeKubeconfigs(name, l, ports, net.address);
    writeState(l.stateFile, {
      name,
      ports,
      kubernetesVersion: KUBERNETES_VERSION,
      etcdVersion: ETCD_VERSION,
      createdAt: state?.createdAt ?? new Date().toISOString(),
      runtime: net.realNodes ? "containerd" : "local",
      apiserverAddress: net.address,
    });

    try {
      await launch(l, ports, net, progress, opts.timeoutMs ?? 180_000, opts.signal);
    } catch (err) {
      await stopComponents(l);
      throw err;
    }
    return handle(name, l, ports, false, net.address);
  });
}

function isReal(state: ClusterState): boolean {
  return state.runtime === "containerd";
}

function networkOf(state: ClusterState): ApiserverNetwork {
  return { address: state.apiserverAddress, realNodes: isReal(state) };
}

async function launch(
  l: ClusterLayout,
  ports: Ports,
  net: ApiserverNetwork,
  progress: Progress,
  timeoutMs: number,
  signal: AbortSignal | undefined,
) {
  const started = Date.now();
  const deadline = started + timeoutMs;
  const tls = adminTls(l);
  const pids = new Map<ControlPlaneComponent, number>();
  const start = (c: ControlPlaneComponent) => {
    const args = componentArgs(c, l, ports, net);
    pids.set(c, spawnDaemon({ bin: binary(c), args, logFile: l.log(c), pidFile: l.pidFile(c) }));
  };
  const status: Partial<Record<ControlPlaneComponent, string>> = {};
  const show = () =>
    progress.update(COMPONENTS.map((c) => `${c}: ${status[c] ?? "waiting"}`).join(" · "));

  /** Polls until `check` passes; fails early if the component's process has died. */
  const waitFor = async (
    c: ControlPlaneComponent,
    what: string,
    check: () => Promise<{ ok: boolean; detail?: string }>,
  ) => {
    for (;;) {
      if (signal?.aborted) throw new Error(`interrupted while ${c} was starting`);
      const r = await check();
      if (r.ok) return;
      const pid = pids.get(c);
      if (pid !== undefined && ownedPid(l.pidFile(c), l.dir) === undefined) {
        throw new ControlPlaneStartError(
          `${c} exited while ${what}`,
          c,
          l.log(c),
          tailFile(l.log(c)),
        );
      }
      if (Date.now() > deadline) {
        throw new ControlPlaneStartError(
          `${c} not ready after ${formatDuration(timeoutMs)} (${what}${r.detail ? `: ${r.detail}` : ""})`,
          c,
          l.log(c),
          tailFile(l.log(c)),
        );
      }
      status[c] = `${what}${r.detail ? ` (${r.detail})` : ""}`;
      show();
      await sleep(100);
    }
  };
  const health = (c: ControlPlaneComponent) => async () => {
    const r = await get(healthUrl(c, ports, net.address), c === "etcd" ? undefined : tls);
    return {
      ok: r.status === 200,
      detail: r.status === 0 ? "not listening" : describeFailure(r.body),
    };
  };

  progress.step("starting control plane");
  start("etcd");
  await waitFor("etcd", "health", health("etcd"));
  status.etcd = "healthy";
  start("kube-apiserver");
  await waitFor("kube-apiserver", "readyz", health("kube-apiserver"));
  status["kube-apiserver"] = "ready";
  // Only now: until the apiserver has bootstrapped RBAC, their delegated authentication
  // setup is forbidden and they exit.
  start("kube-controller-manager");
  start("kube-scheduler");
  await Promise.all(
    (["kube-controller-manager", "kube-scheduler"] as const).map(async (c) => {
      await waitFor(c, "healthz", health(c));
      status[c] = "healthy";
    }),
  );
  // The controller-manager creates it; until then pods in "default" cannot be admitted.
  await waitFor("kube-controller-manager", "default service account", async () => {
    const r = await get(
      `${apiserverUrl(ports, net.address)}/api/v1/namespaces/default/serviceaccounts/default`,
      tls,
    );
    return { ok: r.status === 200 };
  });
  status["kube-controller-manager"] = "healthy";
  // The local endpoints controller publishes loopback pods behind Services, which the
  // controller-manager cannot (src/local/endpoints/slice.ts says why). It is one more
  // detached process of the control plane rather than part of the node processes: it needs
  // the admin credentials (a node identity may not write EndpointSlices), one instance per
  // cluster whatever the number of nodes, and a lifetime that is the control plane's, so
  // `local up` reuses it and `local down` stops it with the rest.
  await startLocalEndpoints(l.dir, { deadline, signal });
  progress.done(`ready at ${apiserverUrl(ports, net.address)}`);
  log.info({ dir: l.dir, ports, ms: Date.now() - started }, "control plane ready");
}

/** A readiness body lists failing checks as `[-]name failed`; name the first few. */
export function describeFailure(body: string): string | undefined {
  const failed = [...body.matchAll(/^\[-\](\S+)/gm)].map((m) => m[1]);
  if (failed.length === 0) return undefined;
  return `${failed.length} checks pending: ${failed.slice(0, 2).join(", ")}${failed.length > 2 ? ", …" : ""}`;
}

/**
 * Stops every process of the cluster, found by pid file and by a /proc scan (clients first,
 * etcd last so the apiserver can finish its writes), whole process groups; clears pid files.
 */
async function stopComponents(l: ClusterLayout): Promise<StopResult> {
  await stopLocalEndpoints(l.dir);
  const pids = runningPids(l);
  const result: StopResult = { stopped: [], killed: [] };
  const stop = async (c: ControlPlaneComponent) => {
    const targets = new Set(findProcesses(binary(c), l.dir));
    const pid = pids.get(c);
    if (pid !== undefined) targets.add(pid);
    if (targets.size > 0) {
      const killed = await Promise.all([...targets].map((p) => stopGroup(p)));
      if (killed.some(Boolean)) result.killed.push(c);
      result.stopped.push(c);
    }
    removeFile(l.pidFile(c));
  };
  await Promise.all(
    (["kube-scheduler", "kube-controller-manager", "kube-apiserver"] as const).map(stop),
  );
  await stop("etcd");
  if (result.stopped.length > 0) log.info({ dir: l.dir, ...result }, "control plane stopped");
  return result;
}

export interface StopOptions extends ClusterRef {
  /** Also delete the cluster's state (data, certificates, kubeconfig). */
  purge?: boolean;
}

/** Stops a cluster; stopping one that is not running is not an error (empty result). */
export async function stopControlPlane(opts: StopOptions = {}): Promise<StopResult> {
  const { name, layout: l } = resolveRef(opts);
  if (!existsSync(l.dir)) return { stopped: [], killed: [] };
  const busy = (pid: number) => `cluster ${name} is being started or stopped by pid ${pid}`;
  return await withLock(l.lockFile, busy, async () => {
    const result = await stopComponents(l);
    if (opts.purge) rmSync(l.dir, { recursive: true, force: true });
    return result;
  });
}

export async function controlPlaneStatus(ref: ClusterRef = {}): Promise<ControlPlaneStatus> {
  const { name, layout: l } = resolveRef(ref);
  const state = readState(l.stateFile);
  const pids = runningPids(l);
  const components = COMPONENTS.map((c) => ({
    component: c,
    pid: pids.get(c),
    running: pids.has(c),
    log: l.log(c),
  }));
  let ready = false;
  if (state && pids.size === COMPONENTS.length) {
    const url = healthUrl("kube-apiserver", state.ports, state.apiserverAddress);
    ready = (await get(url, adminTls(l))).status === 200;
  }
  return {
    name,
    dir: l.dir,
    exists: state !== undefined,
    components,
    ready,
    ...(state ? { runtime: state.runtime } : {}),
    apiserverUrl: state ? apiserverUrl(state.ports, state.apiserverAddress) : undefined,
    kubeconfigPath: l.kubeconfig,
  };
}

/** Path of a cluster's admin kubeconfig, whether or not the cluster runs. */
export function kubeconfigPath(ref: ClusterRef = {}): string {
  return resolveRef(ref).layout.kubeconfig;
}
