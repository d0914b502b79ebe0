import { mkdirSync, rmSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import {
  PatchStrategy,
  setHeaderOptions,
  type V1Container,
  type V1ContainerStatus,
  type V1Pod,
} from "@kubernetes/client-node";
import { KVM_RESOURCE } from "../../api/launcher.js";
import type { Logger } from "../../util/log.js";
import { ContainerProcess, runToCompletion } from "./container-process.js";
import type { NodeContext } from "./context.js";
import { ContainerConfigError, type Lookups, resolveArgv, resolveEnv } from "./env.js";
import type { PodFacts } from "./fieldpath.js";
import { type Bind, type ResolvedImage, resolveImage } from "./image-store.js";
import { readFrom, tail } from "./logs.js";
import { fetchLookups, ImagePullError, prepareVolumes, writePodEtc } from "./pod-setup.js";
import { type Action, type ActionContext, Prober, runAction } from "./probes.js";
import { bwrapArgs, type SandboxSpec } from "./sandbox.js";
import {
  type ContainerRecord,
  kubeTime,
  type PodRecord,
  podPhase,
  podStatus,
  type Terminated,
} from "./status.js";
import { startVolumeSync } from "./volume-sync.js";
import type { VolumeHost } from "./volumes.js";
import { containerMounts } from "./volumes.js";

/**
 * One pod on one node, from binding to confirmed deletion: allocate its IP, resolve images,
 * prepare volumes, run init containers in order and then the others, restart them per
 * restartPolicy, probe them, and report status after every change.
 */

const BACKOFF_BASE_MS = 10_000;
const BACKOFF_MAX_MS = 300_000;
/** A container that ran this long has its crash-loop backoff forgotten (kubelet: 10 min). */
const BACKOFF_RESET_MS = 600_000;
const CONFIG_RETRY_MS = 10_000;
const DEFAULT_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
const NODE_SHUTDOWN_MESSAGE = "Pod was terminated in response to imminent node shutdown.";

/** Delay before the n-th consecutive restart: immediate, then 10 s doubling to 5 min. */
export function restartBackoffMs(n: number): number {
  return n === 0 ? 0 : Math.min(BACKOFF_BASE_MS * 2 ** (n - 1), BACKOFF_MAX_MS);
}

/** Should a container that exited with `exitCode` run again? Init containers never loop on success. */
export function shouldRestart(policy: string, init: boolean, exitCode: number): boolean {
  if (policy === "Never") return false;
  if (policy === "Always" && !init) return true;
  return exitCode !== 0;
}

function toTerminated(
  t: NonNullable<NonNullable<V1ContainerStatus["state"]>["terminated"]>,
): Terminated {
  const time = (d: Date | string | undefined) => (d ? kubeTime(new Date(d)) : undefined);
  return {
    kind: "terminated",
    exitCode: t.exitCode,
    ...(t.signal ? { signal: t.signal } : {}),
    reason: t.reason ?? "Error",
    ...(t.message ? { message: t.message } : {}),
    ...(t.startedAt ? { startedAt: time(t.startedAt) } : {}),
    finishedAt: time(t.finishedAt) ?? kubeTime(new Date()),
  };
}

/**
 * A container's record when the worker starts. A pod this node ran before it restarted keeps
 * its restart count; a container it found running was killed on startup (see agent.ts), so it
 * is reported terminated like a kubelet reports a container it cannot locate, and restarted
 * only if restartPolicy says so.
 */
export function seedRecord(
  c: V1Container,
  waitingReason: string,
  prev?: V1ContainerStatus,
): ContainerRecord {
  const base = { name: c.name, image: c.image ?? "", ready: false, started: false };
  const restartCount = prev?.restartCount ?? 0;
  if (prev?.state?.terminated)
    return { ...base, restartCount, state: toTerminated(prev.state.terminated) };
  if (prev?.state?.running) {
    const startedAt = prev.state.running.startedAt;
    return {
      ...base,
      restartCount,
      state: {
        kind: "terminated",
        exitCode: 137,
        reason: "ContainerStatusUnknown",
        message: "The container could not be located when the pod was terminated",
        ...(startedAt ? { startedAt: kubeTime(new Date(startedAt)) } : {}),
        finishedAt: kubeTime(new Date()),
      },
    };
  }
  if (prev?.lastState?.terminated) {
    // It was waiting to be restarted: resume the crash loop where it was.
    return {
      ...base,
      restartCount: Math.max(0, restartCount - 1),
      state: toTerminated(prev.lastState.terminated),
    };
  }
  return { ...base, restartCount, state: { kind: "waiting", reason: waitingReason } };
}

export class PodWorker {
  readonly uid: string;
  private pod: V1Pod;
  private readonly log: Logger;
  private readonly record: PodRecord;
  private readonly procs = new Map<string, { proc: ContainerProcess; container: V1Container }>();
  private readonly wakers = new Set<() => void>();
  private ending: "deleting" | "gone" | "shutdown" | undefined;
  private lastSent = "";
  private reportDirty = false;
  private reportLoop: Promise<void> | undefined;
  private images = new Map<string, ResolvedImage>();
  private prepared:
    | { lookups: Lookups; hosts: Map<string, VolumeHost>; podEtc: Bind[]; facts: PodFacts }
    | undefined;
  private readonly running: Promise<void>;
  private finishing: Promise<void> | undefined;

  constructor(
    private readonly ctx: NodeContext,
    pod: V1Pod,
  ) {
    this.pod = pod;
    this.uid = pod.metadata?.uid ?? "";
    this.log = ctx.log.child({
      namespace: pod.metadata?.namespace,
      pod: pod.metadata?.name,
      uid: this.uid,
    });
    const spec = pod.spec;
    const prev = pod.status;
    const hasInit = (spec?.initContainers ?? []).length > 0;
    const find = (list: V1ContainerStatus[] | undefined, name: string) =>
      list?.find((s) => s.name === name);
    this.record = {
      uid: this.uid,
      hostIP: ctx.hostIP,
      startTime: prev?.startTime ? kubeTime(new Date(prev.startTime)) : kubeTime(new Date()),
      init: (spec?.initContainers ?? []).map((c) =>
        seedRecord(c, "PodInitializing", find(prev?.initContainerStatuses, c.name)),
      ),
      containers: (spec?.containers ?? []).map((c) =>
        seedRecord(
          c,
          hasInit ? "PodInitializing" : "ContainerCreating",
          find(prev?.containerStatuses, c.name),
        ),
      ),
    };
    this.running = this.run().catch((err) => this.log.error({ err }, "pod worker failed"));
  }

  private get meta() {
    return {
      name: this.pod.metadata?.name ?? "",
      namespace: this.pod.metadata?.namespace ?? "default",
    };
  }

  /** A newer version of the pod from the watch. */
  update(pod: V1Pod): void {
    this.pod = pod;
    if (pod.metadata?.deletionTimestamp && !this.ending) {
      this.ending = "deleting";
      this.finishing = this.finish();
    } else if (!this.ending) {
      this.report(); // readiness gates may have changed
    }
  }

  /** The pod is gone from the API (force deletion, or our own confirmation). */
  async vanished(): Promise<void> {
    if (!this.ending) {
      this.ending = "gone";
      this.finishing = this.finish();
    }
    await this.finishing;
  }

  /** The node stops: end every container and report the pod Failed, like graceful node shutdown. */
  async shutdown(graceMs: number): Promise<void> {
    if (!this.ending) {
      this.ending = "shutdown";
      this.finishing = this.finish(graceMs);
    }
    await this.finishing;
  }

  // ---- main flow -------------------------------------------------------------------------

  private async run(): Promise<void> {
    const phase = this.pod.status?.phase;
    if (phase === "Succeeded" || phase === "Failed") {
      // Ended earlier (by this node before it restarted): nothing runs again.
      for (const { ip } of this.ctx.ips.owned((o) => o.podUid === this.uid))
        this.ctx.ips.release(ip, this.uid);
      return;
    }
    this.record.podIP = this.ctx.ips.allocate({
      cluster: this.ctx.cluster,
      node: this.ctx.nodeName,
      podUid: this.uid,
    });
    this.report();
    if (!(await this.prepare())) return;
    const facts = this.prepared?.facts;
    const stopSync = facts ? startVolumeSync(this.ctx, this.pod, facts, this.log) : () => {};
    let ended: boolean;
    try {
      ended = await this.runContainers();
    } finally {
      stopSync();
    }
    if (!ended) return;
    // Every container is done for good: like the kubelet tearing down the sandbox, free the
    // address (status keeps showing it, as for any terminated pod).
    if (!this.ending && this.record.podIP) this.ctx.ips.release(this.record.podIP, this.uid);
  }

  /** Init containers, then the containers; false when an init container did not succeed. */
  private async runContainers(): Promise<boolean> {
    for (const [i, c] of (this.pod.spec?.initContainers ?? []).entries()) {
      const rec = this.record.init[i] as ContainerRecord;
      await this.supervise(c, rec, true);
      if (rec.state.kind !== "terminated" || rec.state.exitCode !== 0) return false;
    }
    for (const rec of this.record.containers) {
      if (rec.state.kind === "waiting")
        rec.state = { kind: "waiting", reason: "ContainerCreating" };
    }
    await Promise.all(
      (this.pod.spec?.containers ?? []).map((c, i) =>
        this.supervise(c, this.record.containers[i] as ContainerRecord, false),
      ),
    );
    return true;
  }

  /** Images and volumes; retried until they resolve or the pod ends. */
  private async prepare(): Promise<boolean> {
    const spec = this.pod.spec;
    const all = [...(spec?.initContainers ?? []), ...(spec?.containers ?? [])];
    const records = [...this.record.init, ...this.record.containers];
    for (let attempt = 0; !this.ending; attempt++) {
      try {
        const store = this.ctx.images();
        for (const c of all) {
          const r = resolveImage(c.image ?? "", store);
          if (!r.ok) throw new ImagePullError(r.message);
          this.images.set(c.name, r.image);
        }
        const facts: PodFacts = {
          pod: this.pod,
          nodeName: this.ctx.nodeName,
          podIP: this.record.podIP ?? "",
          hostIP: this.ctx.hostIP,
          allocatable: this.ctx.allocatable,
        };
        const lookups = await fetchLookups(this.ctx.core, this.pod);
        const hosts = await prepareVolumes(this.ctx, this.pod, facts, lookups);
        const podEtc = writePodEtc(this.ctx, this.pod, this.record.podIP ?? "");
        this.prepared = { lookups, hosts, podEtc, facts };
        return true;
      } catch (err) {
        const message = (err as Error).message;
        let retryMs = CONFIG_RETRY_MS;
        if (err instanceof ImagePullError) {
          const reason = attempt === 0 ? "ErrImagePull" : "ImagePullBackOff";
          for (const rec of records)
            if (rec.state.kind === "waiting") rec.state = { kind: "waiting", reason, message };
          retryMs = Math.min(5_000 * 2 ** attempt, 60_000);
          this.log.warn({ message }, "image not available");
        } else if (err instanceof ContainerConfigError) {
          for (const rec of records) {
            if (rec.state.kind === "waiting")
              rec.state = { kind: "waiting", reason: "CreateContainerConfigError", message };
          }
          this.log.warn({ message }, "pod configuration incomplete");
        } else {
          this.log.warn({ err }, "pod setup failed; retrying");
          retryMs = 2_000;
        }
        this.report();
        await this.sleep(retryMs);
      }
    }
    return false;
  }

  /** Runs one container until it must not run again (or the pod ends). */
  private async supervise(c: V1Container, rec: ContainerRecord, init: boolean): Promise<void> {
    const policy = this.pod.spec?.restartPolicy ?? "Always";
    let crashes = 0;
    while (!this.ending) {
      if (rec.state.kind === "terminated") {
        const t = rec.state;
        if (!shouldRestart(policy, init, t.exitCode)) return;
        const ranMs = t.startedAt ? Date.parse(t.finishedAt) - Date.parse(t.startedAt) : 0;
        if (ranMs > BACKOFF_RESET_MS) crashes = 0;
        const delay = restartBackoffMs(crashes++);
        rec.lastState = t;
        rec.restartCount++;
        if (delay > 0) {
          rec.state = {
            kind: "waiting",
            reason: "CrashLoopBackOff",
            message: `back-off ${delay / 1000}s restarting failed container=${c.name} pod=${this.meta.name}_${this.meta.namespace}(${this.uid})`,
          };
          this.report();
          await this.sleep(delay);
          if (this.ending) return;
        }
      }
      await this.runOnce(c, rec, init);
    }
  }

  private async runOnce(c: V1Container, rec: ContainerRecord, init: boolean): Promise<void> {
    const { layout } = this.ctx;
    let spec: SandboxSpec;
    try {
      spec = this.sandboxSpec(c);
    } catch (err) {
      if (!(err instanceof ContainerConfigError)) throw err;
      rec.state = { kind: "waiting", reason: "CreateContainerConfigError", message: err.message };
      this.log.warn({ container: c.name, err }, "cannot create container");
      this.report();
      await this.sleep(CONFIG_RETRY_MS);
      return;
    }
    const logFile = layout.containerLog(this.meta.namespace, this.meta.name, this.uid, c.name);
    mkdirSync(join(logFile, ".."), { recursive: true });
    writeFileSync(spec.terminationLog.source, "");
    let logOffset = 0;
    try {
      logOffset = statSync(logFile).size;
    } catch {
      // First run: no log yet.
    }
    const startedAt = kubeTime(new Date());
    const proc = ContainerProcess.start(
      bwrapArgs(spec),
      logFile,
      layout.containerPidFile(this.uid, c.name),
    );
    this.procs.set(c.name, { proc, container: c });
    rec.state = { kind: "running", startedAt };
    rec.started = !c.startupProbe;
    rec.ready = !init && !c.readinessProbe;
    this.log.info(
      { container: c.name, pid: proc.pid, restartCount: rec.restartCount },
      "container started",
    );
    this.report();
    const probers = this.startProbes(c, rec, proc, spec);
    const exit = await proc.exited;
    for (const p of probers) p.stop();
    this.procs.delete(c.name);
    rmSync(layout.containerPidFile(this.uid, c.name), { force: true });
    rec.ready = false;
    rec.started = false;
    let message = readFrom(spec.terminationLog.source, 0, 4096).trim();
    if (!message && exit.exitCode !== 0 && c.terminationMessagePolicy === "FallbackToLogsOnError") {
      message = tail(readFrom(logFile, logOffset), 80, 2048);
    }
    rec.state = {
      kind: "terminated",
      exitCode: exit.exitCode,
      ...(exit.signal ? { signal: exit.signal } : {}),
      reason: exit.exitCode === 0 ? "Completed" : "Error",
      ...(message ? { message } : {}),
      startedAt,
      finishedAt: kubeTime(new Date()),
    };
    this.log.info({ container: c.name, exitCode: exit.exitCode }, "container exited");
    this.report();
  }

  private sandboxSpec(c: V1Container): SandboxSpec {
    const prepared = this.prepared;
    const image = this.images.get(c.name);
    if (!prepared || !image) throw new Error("sandboxSpec before prepare");
    const hostname = this.pod.spec?.hostname ?? this.meta.name;
    const port = String(this.ctx.apiserverPort);
    // A real kubelet points these at the `kubernetes` Service IP; with no kube-proxy here,
    // in-cluster clients reach the apiserver on the host's loopback address instead.
    const base = {
      PATH: DEFAULT_PATH,
      HOSTNAME: hostname,
      KUBERNETES_SERVICE_HOST: this.ctx.hostIP,
      KUBERNETES_SERVICE_PORT: port,
      KUBERNETES_SERVICE_PORT_HTTPS: port,
      KUBERNETES_PORT: `tcp://${this.ctx.hostIP}:${port}`,
    };
    const env = resolveEnv(c, prepared.facts, prepared.lookups, base);
    const argv = resolveArgv(c, image.ref, env);
    const mounts = containerMounts(c, prepared.hosts);
    for (const m of mounts) if (!m.readOnly) mkdirSync(m.source, { recursive: true });
    const wantsKvm = [c.resources?.limits, c.resources?.requests].some(
      (r) => r?.[KVM_RESOURCE] !== undefined,
    );
    const dir = this.ctx.layout.containerDir(this.uid, c.name);
    mkdirSync(join(dir, "tmp"), { recursive: true });
    return {
      host: this.ctx.host,
      hostname,
      image: image.rootBinds,
      podEtc: prepared.podEtc,
      tmpDir: join(dir, "tmp"),
      terminationLog: {
        source: join(dir, "termination-log"),
        dest: c.terminationMessagePath ?? "/dev/termination-log",
      },
      mounts,
      devices: wantsKvm && this.ctx.kvm ? ["/dev/kvm"] : [],
      env,
      workingDir: c.workingDir || image.workingDir,
      argv,
    };
  }

  private actionContext(c: V1Container, spec: SandboxSpec): ActionContext {
    return {
      podIP: this.record.podIP ?? this.ctx.hostIP,
      ports: c.ports ?? [],
      exec: (command, timeoutMs) =>
        runToCompletion(bwrapArgs({ ...spec, argv: command }), timeoutMs),
    };
  }

  private startProbes(
    c: V1Container,
    rec: ContainerRecord,
    proc: ContainerProcess,
    spec: SandboxSpec,
  ): Prober[] {
    const ctx = this.actionContext(c, spec);
    const probers: Prober[] = [];
    const kill = (kind: string, message: string) => {
      this.log.info({ container: c.name, message }, `${kind} probe failed; restarting container`);
      void this.stopContainer(c, proc, this.graceMs());
    };
    const startMain = () => {
      if (c.livenessProbe) {
        probers.push(new Prober(c.livenessProbe, ctx, (ok, m) => ok || kill("liveness", m)));
      }
      if (c.readinessProbe) {
        probers.push(
          new Prober(c.readinessProbe, ctx, (ok) => {
            rec.ready = ok;
            this.report();
          }),
        );
      }
      for (const p of probers) p.start();
    };
    if (c.startupProbe) {
      const startup = new Prober(c.startupProbe, ctx, (ok, m) => {
        if (!ok) return kill("startup", m);
        startup.stop();
        rec.started = true;
        if (!c.readinessProbe) rec.ready = true;
        this.report();
        startMain();
      });
      probers.push(startup);
      startup.start();
    } else {
      startMain();
    }
    return probers;
  }

  private graceMs(): number {
    const s =
      this.pod.metadata?.deletionGracePeriodSeconds ??
      this.pod.spec?.terminationGracePeriodSeconds ??
      30;
    return s * 1000;
  }

  /** preStop hook (bounded by the grace period), then SIGTERM, then SIGKILL at the deadline. */
  private async stopContainer(
    c: V1Container,
    proc: ContainerProcess,
    graceMs: number,
  ): Promise<void> {
    const deadline = Date.now() + graceMs;
    const preStop = c.lifecycle?.preStop as Action | undefined;
    if (preStop && proc.running && graceMs > 0) {
      const spec = this.safeSpec(c);
      if (spec) {
        const r = await runAction(preStop, this.actionContext(c, spec), graceMs);
        this.log.info({ container: c.name, ok: r.ok, message: r.message }, "preStop hook ran");
      }
    }
    await proc.terminate(Math.max(0, deadline - Date.now()));
  }

  private safeSpec(c: V1Container): SandboxSpec | undefined {
    try {
      return this.sandboxSpec(c);
    } catch {
      return undefined;
    }
  }

  // ---- ending ----------------------------------------------------------------------------

  private async finish(shutdownGraceMs?: number): Promise<void> {
    this.wake();
    const grace =
      this.ending === "gone"
        ? 2_000
        : Math.min(this.graceMs(), shutdownGraceMs ?? Number.POSITIVE_INFINITY);
    await Promise.all(
      [...this.procs.values()].map(({ proc, container }) =>
        this.stopContainer(container, proc, grace),
      ),
    );
    await this.running;
    if (this.ending !== "gone") {
      this.record.ended = this.endedPhase();
      this.report();
      await this.reportLoop;
    }
    this.cleanup();
    if (this.ending === "deleting") await this.confirmDeletion();
  }

  private endedPhase(): PodRecord["ended"] {
    const phase = podPhase(this.record, this.pod.spec?.restartPolicy ?? "Always");
    if (this.ending === "shutdown") {
      if (phase === "Succeeded") return undefined;
      return { phase: "Failed", reason: "Terminated", message: NODE_SHUTDOWN_MESSAGE };
    }
    if (phase === "Succeeded" || phase === "Failed") return undefined;
    const allOk = this.record.containers.every(
      (c) => c.state.kind === "terminated" && c.state.exitCode === 0,
    );
    return { phase: allOk ? "Succeeded" : "Failed" };
  }

  private cleanup(): void {
    if (this.record.podIP) this.ctx.ips.release(this.record.podIP, this.uid);
    // Volumes and sandbox files go with the pod; its logs stay for `kubevisor local logs`.
    rmSync(this.ctx.layout.podDir(this.uid), { recursive: true, force: true });
  }

  /** The kubelet's last word: DELETE with grace period 0, only for this very pod (UID). */
  private async confirmDeletion(): Promise<void> {
    try {
      await this.ctx.core.deleteNamespacedPod({
        ...this.meta,
        gracePeriodSeconds: 0,
        body: { gracePeriodSeconds: 0, preconditions: { uid: this.uid } },
      });
      this.log.info("pod deletion confirmed");
    } catch (err) {
      const code = (err as { code?: number }).code;
      if (code !== 404 && code !== 409) this.log.error({ err }, "confirming pod deletion failed");
    }
  }

  // ---- status ----------------------------------------------------------------------------

  private report(): void {
    if (this.ending === "gone") return;
    this.reportDirty = true;
    this.reportLoop ??= this.flushReports().finally(() => {
      this.reportLoop = undefined;
    });
  }

  private async flushReports(): Promise<void> {
    while (this.reportDirty) {
      this.reportDirty = false;
      const status = podStatus(this.pod, this.record, new Date());
      const body = JSON.stringify(status);
      if (body === this.lastSent) continue;
      try {
        const updated = await this.ctx.core.patchNamespacedPodStatus(
          { ...this.meta, body: { status } },
          setHeaderOptions("Content-Type", PatchStrategy.StrategicMergePatch),
        );
        this.lastSent = body;
        if (!this.pod.metadata?.deletionTimestamp)
          this.pod = { ...this.pod, status: updated.status };
      } catch (err) {
        const code = (err as { code?: number }).code;
        if (code === 404 || this.ending === "gone") return;
        this.log.warn({ err }, "status update failed; retrying");
        this.reportDirty = true;
        await new Promise((r) => setTimeout(r, 1_000));
      }
    }
  }

  // ---- timing ----------------------------------------------------------------------------

  /** A sleep the end of the pod cuts short. */
  private sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        this.wakers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wakers.add(done);
    });
  }

  private wake(): void {
    for (const w of [...this.wakers]) w();
  }
}
