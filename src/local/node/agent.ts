import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync, rmSync, statfsSync, writeFileSync } from "node:fs";
import { cpus, release, totalmem } from "node:os";
import {
  CoordinationV1Api,
  CoreV1Api,
  ListWatch,
  PatchStrategy,
  setHeaderOptions,
  type V1Lease,
  type V1Node,
  type V1Pod,
  Watch,
} from "@kubernetes/client-node";
import { type Logger, logger } from "../../util/log.js";
import { KUBERNETES_VERSION } from "../build/targets.js";
import { clusterLayout } from "../layout.js";
import { readPidFile } from "../process.js";
import { readState } from "../state.js";
import { containerPid, killGroup } from "./container-process.js";
import type { NodeContext } from "./context.js";
import { nodeIdentity } from "./identity.js";
import { hostImageStore } from "./image-store.js";
import { IpAllocator } from "./ip-allocator.js";
import { type NodeLayout, nodeLayout, podIpDir } from "./layout.js";
import { goArch, type HostFacts, nodeObject, nodeResources, nodeStatus } from "./node-object.js";
import { PodWorker } from "./pod-worker.js";
import { probeHostSystem } from "./sandbox.js";
import { kubeTime } from "./status.js";

/**
 * The kubelet part of a local node: registers the Node, renews its Lease, heartbeats its
 * status, and runs a PodWorker for every pod bound to it.
 */

const LEASE_NAMESPACE = "kube-node-lease";
const LEASE_DURATION_S = 40;
const LEASE_RENEW_MS = 10_000;
const STATUS_PERIOD_MS = 30_000;
const HOST_IP = "127.0.0.1";

export interface AgentOptions {
  clusterDir: string;
  name: string;
}

/** metav1.MicroTime wants exactly six fractional digits; Date#toISOString gives three. */
function microTime(d: Date): Date {
  return d.toISOString().replace(/\.(\d{3})Z$/, ".$1000Z") as unknown as Date;
}

function readOr(path: string, fallback: string): string {
  try {
    return readFileSync(path, "utf8").trim();
  } catch {
    return fallback;
  }
}

function hostFacts(name: string, stateDir: string): HostFacts {
  const fs = statfsSync(stateDir);
  const prettyName = /^PRETTY_NAME="?([^"\n]*)"?$/m.exec(readOr("/etc/os-release", ""))?.[1];
  // Two local nodes share one host; give each its own stable machine id.
  const machineID = createHash("sha256")
    .update(`${readOr("/etc/machine-id", "")}/${name}`)
    .digest("hex")
    .slice(0, 32);
  return {
    cpus: cpus().length,
    memoryBytes: totalmem(),
    ephemeralStorageBytes: fs.blocks * fs.bsize,
    kvm: existsSync("/dev/kvm"),
    kernelVersion: release(),
    osImage: prettyName ?? "Linux",
    machineID,
    bootID: readOr("/proc/sys/kernel/random/boot_id", ""),
    kubeletVersion: KUBERNETES_VERSION,
    arch: goArch(process.arch),
  };
}

/** Kills container process groups a previous node process left behind (after a crash). */
async function killLeftovers(layout: NodeLayout, log: Logger): Promise<void> {
  if (!existsSync(layout.podsDir)) return;
  for (const uid of readdirSync(layout.podsDir)) {
    const containersDir = `${layout.podDir(uid)}/containers`;
    if (!existsSync(containersDir)) continue;
    for (const name of readdirSync(containersDir)) {
      const pidFile = layout.containerPidFile(uid, name);
      // Only a process whose command line names this pod's directory is ours to kill.
      const pid = containerPid(pidFile, layout.podDir(uid));
      if (pid !== undefined) {
        log.warn(
          { uid, container: name, pid },
          "killing container left by a previous node process",
        );
        await killGroup(pid);
      } else if (readPidFile(pidFile) !== undefined) {
        log.debug({ uid, container: name }, "stale container pid file");
      }
      rmSync(pidFile, { force: true });
    }
  }
}

export class NodeAgent {
  private readonly log: Logger;
  private readonly layout: NodeLayout;
  private readonly workers = new Map<string, PodWorker>();
  private ctx!: NodeContext;
  private coordination!: CoordinationV1Api;
  private facts!: HostFacts;
  private readyHeartbeat = true;
  private readySince = kubeTime(new Date());
  private timers: NodeJS.Timeout[] = [];
  private pods: ListWatch<V1Pod> | undefined;
  private stopping = false;

  constructor(private readonly opts: AgentOptions) {
    this.layout = nodeLayout(opts.clusterDir, opts.name);
    this.log = logger("local-node", { node: opts.name });
  }

  async start(): Promise<void> {
    const { clusterDir, name } = this.opts;
    const cluster = clusterLayout(clusterDir);
    const state = readState(cluster.stateFile);
    if (!state)
      throw new Error(`no local cluster in ${clusterDir}: run 'kubevisor local up' first`);
    const server = `https://${HOST_IP}:${state.ports.apiserver}`;
    const identity = await nodeIdentity(clusterDir, this.layout, name, server);
    this.log.info({ identity: identity.kind, server }, "starting local node");
    const kc = identity.kubeconfig;
    const core = kc.makeApiClient(CoreV1Api);
    this.coordination = kc.makeApiClient(CoordinationV1Api);
    this.facts = hostFacts(name, clusterDir);
    this.ctx = {
      nodeName: name,
      cluster: state.name,
      layout: this.layout,
      core,
      ips: new IpAllocator(podIpDir()),
      host: probeHostSystem(),
      hostIP: HOST_IP,
      apiserverPort: state.ports.apiserver,
      allocatable: nodeResources(this.facts),
      kvm: this.facts.kvm,
      images: hostImageStore,
      log: this.log,
    };
    await killLeftovers(this.layout, this.log);
    await this.register();
    await this.renewLease();
    this.timers.push(
      setInterval(
        () => void this.renewLease().catch((err) => this.warn("lease renewal failed", err)),
        LEASE_RENEW_MS,
      ),
      setInterval(
        () => void this.patchStatus().catch((err) => this.warn("node status update failed", err)),
        STATUS_PERIOD_MS,
      ),
    );
    await this.watchPods(kc);
    writeFileSync(this.layout.readyFile, `${new Date().toISOString()}\n`);
    this.log.info("local node ready");
  }

  /** Graceful node shutdown: every pod's containers end (within `graceMs`), then Ready=False. */
  async stop(graceMs: number): Promise<void> {
    if (this.stopping) return;
    this.stopping = true;
    rmSync(this.layout.readyFile, { force: true });
    await this.pods?.stop();
    await Promise.all([...this.workers.values()].map((w) => w.shutdown(graceMs)));
    for (const t of this.timers) clearInterval(t);
    if (this.ctx) {
      this.readyHeartbeat = false;
      this.readySince = kubeTime(new Date());
      await this.patchStatus().catch((err) => this.warn("could not mark the node NotReady", err));
    }
    this.log.info("local node stopped");
  }

  private warn(msg: string, err: unknown): void {
    this.log.warn({ err }, msg);
  }

  private async register(): Promise<void> {
    const body = nodeObject(this.opts.name, this.facts) as V1Node;
    try {
      await this.ctx.core.createNode({ body });
      this.log.info("node registered");
    } catch (err) {
      if ((err as { code?: number }).code !== 409) throw err;
      // Re-registering: refresh labels only; spec (unschedulable, taints) is not ours.
      await this.ctx.core.patchNode(
        { name: this.opts.name, body: { metadata: { labels: body.metadata?.labels } } },
        setHeaderOptions("Content-Type", PatchStrategy.MergePatch),
      );
    }
    await this.patchStatus();
  }

  private async patchStatus(): Promise<void> {
    const status = nodeStatus(this.opts.name, this.facts, {
      now: kubeTime(new Date()),
      ready: this.readyHeartbeat,
      since: this.readySince,
    });
    await this.ctx.core.patchNodeStatus(
      { name: this.opts.name, body: { status } },
      setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
    );
  }

  private async renewLease(): Promise<void> {
    const name = this.opts.name;
    const now = microTime(new Date());
    let lease: V1Lease;
    try {
      lease = await this.coordination.readNamespacedLease({ name, namespace: LEASE_NAMESPACE });
    } catch (err) {
      if ((err as { code?: number }).code !== 404) throw err;
      const node = await this.ctx.core.readNode({ name });
      await this.coordination.createNamespacedLease({
        namespace: LEASE_NAMESPACE,
        body: {
          metadata: {
            name,
            namespace: LEASE_NAMESPACE,
            ownerReferences: [
              { apiVersion: "v1", kind: "Node", name, uid: node.metadata?.uid ?? "" },
            ],
          },
          spec: { holderIdentity: name, leaseDurationSeconds: LEASE_DURATION_S, renewTime: now },
        },
      });
      return;
    }
    lease.spec = {
      ...lease.spec,
      holderIdentity: name,
      leaseDurationSeconds: LEASE_DURATION_S,
      renewTime: now,
    };
    await this.coordination.replaceNamespacedLease({
      name,
      namespace: LEASE_NAMESPACE,
      body: lease,
    });
  }

  private async watchPods(kc: import("@kubernetes/client-node").KubeConfig): Promise<void> {
    const fieldSelector = `spec.nodeName=${this.opts.name}`;
    const lw = new ListWatch<V1Pod>(
      "/api/v1/pods",
      new Watch(kc),
      () => this.ctx.core.listPodForAllNamespaces({ fieldSelector }),
      false,
      undefined,
      fieldSelector,
    );
    const upsert = (pod: V1Pod) => {
      if (this.stopping) return;
      const uid = pod.metadata?.uid ?? "";
      const w = this.workers.get(uid);
      if (w) w.update(pod);
      else this.workers.set(uid, new PodWorker(this.ctx, pod));
    };
    lw.on("add", upsert);
    lw.on("update", upsert);
    lw.on("delete", (pod) => {
      const uid = pod.metadata?.uid ?? "";
      const w = this.workers.get(uid);
      if (!w) return;
      void w.vanished().finally(() => this.workers.delete(uid));
    });
    lw.on("error", (err) => {
      if (this.stopping) return;
      this.warn("pod watch failed; restarting it", err);
      setTimeout(
        () => void lw.start().catch((e) => this.warn("pod watch restart failed", e)),
        2_000,
      );
    });
    this.pods = lw;
    await lw.start();
    // Addresses held for pods this node no longer has (deleted while it was down).
    const known = new Set(lw.list().map((p) => p.metadata?.uid));
    for (const { ip, owner } of this.ctx.ips.owned(
      (o) => o.cluster === this.ctx.cluster && o.node === this.opts.name && !known.has(o.podUid),
    )) {
      this.ctx.ips.release(ip, owner.podUid);
    }
    if (existsSync(this.layout.podsDir)) {
      for (const uid of readdirSync(this.layout.podsDir)) {
        if (!known.has(uid)) rmSync(this.layout.podDir(uid), { recursive: true, force: true });
      }
    }
  }
}
