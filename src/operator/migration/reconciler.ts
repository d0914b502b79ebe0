import type { V1PersistentVolumeClaim, V1Pod } from "@kubernetes/client-node";
import {
  checkMigrationTarget,
  type LauncherMigrationState,
  MigrationTargetError,
  quantityToBytes,
  type VirtualMachine,
  VirtualMachineMigration,
  type VirtualMachineMigrationStatus,
  VirtualMachine as VirtualMachineSchema,
  type VirtualMachineStatus,
} from "../../api/index.js";
import {
  isAlreadyExists,
  isConflict,
  isNotFound,
  type KubeClient,
  paths,
} from "../../kube/client.js";
import { FencedError, type ReconcileResult } from "../../kube/controller.js";
import type { Informer } from "../../kube/informer.js";
import type { Logger } from "../../util/log.js";
import type { PemPair } from "../../util/pki.js";
import type { EventRecorder, InvolvedObject } from "../events.js";
import type { LauncherAddress } from "../launcher-client.js";
import { findCondition, rfc3339, setCondition } from "../vm/conditions.js";
import type { LauncherPodConfig } from "../vm/launcher-pod.js";
import { isTerminal, type ObservedPod, observePod } from "../vm/observe.js";
import type { RawVm } from "../vm/reconciler.js";
import type { MigrationConfig } from "./config.js";
import type { MigrationLauncherClient } from "./launcher-api.js";
import { slotRefusal } from "./limits.js";
import type { MigrationMetrics } from "./metrics.js";
import { type Migratability, migratability } from "./migratable.js";
import { abortStep, runningStep, type Sides, type Step } from "./steps.js";
import { buildTargetPod, targetPodName } from "./target-pod.js";
import {
  advanceMark,
  completionTimeoutMs,
  downtimeMs,
  overrun,
  type ProgressMark,
} from "./timing.js";
import { issueMigrationTls } from "./tls.js";

export const MIGRATION_FINALIZER = "kubevisor.io/migration-protection";
export const CONDITION_MIGRATABLE = "Migratable";

export interface MigrationReconcilerDeps {
  client: KubeClient;
  migrations: Informer<RawVm>;
  vms: Informer<RawVm>;
  pods: Informer<V1Pod>;
  launcher: MigrationLauncherClient;
  events: EventRecorder;
  metrics: MigrationMetrics;
  podConfig: LauncherPodConfig;
  config: MigrationConfig;
  /** The operator CA: signs each migration's two certificates (tls.ts). */
  ca: PemPair;
  mayAct: () => boolean;
  log: Logger;
}

type Migration = VirtualMachineMigration;
type Phase = NonNullable<VirtualMachineMigrationStatus["phase"]>;

const pvcPath = (ns: string, name: string) =>
  `/api/v1/namespaces/${ns}/persistentvolumeclaims/${name}`;

/**
 * One pass over one VirtualMachineMigration. Every phase is written to the status before
 * the step it announces is taken, names are deterministic, and launchers answer POSTs
 * idempotently — so an operator killed anywhere picks up where it was: a migration in
 * Running asks the source how far it got instead of starting again.
 */
export class MigrationReconciler {
  /** Last time each running migration's byte count moved (by uid). */
  private readonly marks = new Map<string, ProgressMark>();
  /**
   * The source's last answer per migration (by uid): a source exits shortly after its
   * guest left, and its final figures (downtime, total time) must outlive it.
   */
  private readonly lastSource = new Map<string, LauncherMigrationState>();

  constructor(private readonly deps: MigrationReconcilerDeps) {}

  async reconcile(key: string): Promise<ReconcileResult> {
    const [namespace = "", name = ""] = key.split("/");
    const raw = this.deps.migrations.get(name, namespace);
    if (!raw) return {};
    const parsed = VirtualMachineMigration.safeParse(raw);
    if (!parsed.success) return {};
    const m = parsed.data;
    const phase: Phase = m.status?.phase ?? "Pending";
    const log = this.deps.log.child({ migration: key, phase });
    const vm = this.vm(namespace, m.spec.vmName);

    if (phase === "Succeeded" || phase === "Failed") return this.settle(m, vm, log);
    if (!m.metadata.deletionTimestamp && !m.metadata.finalizers?.includes(MIGRATION_FINALIZER)) {
      this.fence();
      await this.deps.client.mergePatch(paths.migration(namespace, name), {
        metadata: {
          resourceVersion: m.metadata.resourceVersion,
          finalizers: [...(m.metadata.finalizers ?? []), MIGRATION_FINALIZER],
        },
      });
      return {};
    }
    if (m.metadata.deletionTimestamp) {
      if (phase === "Pending" && vm?.status?.migration?.name !== name) {
        return this.fail(m, vm, "Deleted", "the migration was deleted before it started", log);
      }
      return this.abort(m, vm, "Deleted", "the migration was deleted; cancelled", log);
    }
    switch (phase) {
      case "Pending":
        return this.pending(m, vm, log);
      case "Scheduling":
        return this.scheduling(m, vm, log);
      case "TargetReady":
        return this.targetReady(m, vm, log);
      case "Running":
        return this.running(m, vm, log);
    }
  }

  // ---- phases ----

  private async pending(m: Migration, vm: VirtualMachine | undefined, log: Logger) {
    const ns = m.metadata.namespace ?? "";
    const name = m.metadata.name ?? "";
    if (!vm)
      return this.fail(m, vm, "VMNotFound", `VirtualMachine ${m.spec.vmName} not found`, log);
    const claim = vm.status?.migration;
    const ours = claim?.name === name;
    if (claim && !ours && claim.phase !== "Succeeded" && claim.phase !== "Failed") {
      return this.fail(
        m,
        vm,
        "MigrationInProgress",
        `VM ${m.spec.vmName} is already being migrated by ${claim.name}`,
        log,
      );
    }
    const sourcePodName = vm.status?.launcherPod;
    const sourceNode = vm.status?.nodeName;
    if (!ours && (vm.status?.phase !== "Running" || !sourcePodName || !sourceNode)) {
      return this.fail(
        m,
        vm,
        "VMNotRunning",
        `VM ${m.spec.vmName} is ${vm.status?.phase ?? "not started"}; only a running VM migrates`,
        log,
      );
    }
    const verdict = await this.migratable(vm);
    await this.setMigratableCondition(vm, verdict);
    if (!verdict.migratable) {
      void this.event(vm, "Warning", "NotMigratable", verdict.message);
      return this.fail(m, vm, "NotMigratable", verdict.message, log);
    }
    const waiting = ours
      ? undefined
      : slotRefusal({ name, namespace: ns }, sourceNode ?? "", this.slotUses(), this.deps.config);
    if (waiting) {
      if (m.status?.reason !== "WaitingForSlot" || m.status.message !== waiting) {
        await this.writeStatus(m, { phase: "Pending", reason: "WaitingForSlot", message: waiting });
        void this.event(m, "Normal", "WaitingForSlot", waiting);
      }
      return { requeueAfterMs: 2000 };
    }
    // Claim the VM first: the claim is what makes this the VM's only migration, and what
    // tells the VM controller to leave the pods alone.
    if (!ours) {
      this.fence();
      await this.deps.client.mergePatch(`${paths.vm(ns, m.spec.vmName)}/status`, {
        metadata: { resourceVersion: vm.metadata.resourceVersion },
        status: { migration: { name, phase: "Scheduling" } },
      });
    }
    const targetPod = targetPodName(m.spec.vmName, m.metadata.uid ?? "");
    await this.writeStatus(m, {
      phase: "Scheduling",
      sourceNode: sourceNode ?? vm.status?.nodeName,
      sourcePod: sourcePodName ?? vm.status?.launcherPod,
      targetPod,
      startTime: m.status?.startTime ?? rfc3339(new Date()),
      reason: undefined,
      message: undefined,
    });
    const msg = `migrating from ${sourceNode} (pod ${sourcePodName}) to a new pod ${targetPod}`;
    log.info({ sourceNode, sourcePod: sourcePodName, targetPod }, "migration admitted");
    void this.event(m, "Normal", "Scheduling", msg);
    void this.event(vm, "Normal", "MigrationStarted", `${name}: ${msg}`);
    return { requeueAfterMs: 0 };
  }

  private async scheduling(m: Migration, vm: VirtualMachine | undefined, log: Logger) {
    const ns = m.metadata.namespace ?? "";
    const status = m.status ?? {};
    const target = this.pod(ns, status.targetPod);
    if (!vm) return this.abort(m, vm, "VMNotFound", "the VM is gone", log);
    if (!target) {
      const source = this.rawPod(ns, status.sourcePod);
      if (!source || isTerminal(observePod(source))) {
        return this.abort(m, vm, "SourceFailed", `source pod ${status.sourcePod} is gone`, log);
      }
      const pod = buildTargetPod(
        vm,
        { name: m.metadata.name ?? "", uid: m.metadata.uid ?? "" },
        source,
        status.sourceNode ?? "",
        this.deps.podConfig,
      );
      this.fence();
      await this.deps.client.create(paths.pods(ns), pod).catch((err) => {
        if (!isAlreadyExists(err)) throw err;
      });
      log.info({ pod: pod.metadata?.name }, "created target pod");
      void this.event(m, "Normal", "TargetPodCreated", `created target pod ${pod.metadata?.name}`);
      return { requeueAfterMs: 1000 };
    }
    if (isTerminal(target)) {
      return this.abort(m, vm, "TargetFailed", `target pod ${target.name} ended before use`, log);
    }
    const age = Date.now() - Date.parse(status.startTime ?? "");
    if (target.unschedulable && age > this.deps.config.targetScheduleTimeoutMs) {
      return this.abort(
        m,
        vm,
        "TargetUnschedulable",
        `target pod ${target.name} cannot be scheduled: ${target.unschedulable}`,
        log,
      );
    }
    if (target.stage !== "Running" || !target.podIP) return { requeueAfterMs: 1000 };
    const launcher = await this.deps.launcher
      .status(this.address(m, target.podIP))
      .catch(() => undefined);
    if (launcher?.phase !== "WaitingForMigration") return { requeueAfterMs: 1000 };
    if (vm.status?.acceleration && launcher.acceleration !== vm.status.acceleration) {
      return this.abort(
        m,
        vm,
        "AcceleratorMismatch",
        `the guest runs under ${vm.status.acceleration} but node ${target.nodeName} offers ${launcher.acceleration}`,
        log,
      );
    }
    await this.writeStatus(m, { phase: "TargetReady", targetNode: target.nodeName });
    void this.event(
      m,
      "Normal",
      "TargetReady",
      `target pod ${target.name} on ${target.nodeName} waits for the guest`,
    );
    return { requeueAfterMs: 0 };
  }

  private async targetReady(m: Migration, vm: VirtualMachine | undefined, log: Logger) {
    if (!vm) return this.abort(m, vm, "VMNotFound", "the VM is gone", log);
    // Written before the source is told: after a restart, Running means "ask the source".
    await this.writeStatus(m, { phase: "Running" });
    await this.vmMigrationPhase(vm, m.metadata.name ?? "", "Running");
    return this.running(m, vm, log);
  }

  private async running(m: Migration, vm: VirtualMachine | undefined, log: Logger) {
    if (!vm) return this.abort(m, vm, "VMNotFound", "the VM is gone", log);
    const sides = await this.sides(m);
    const step = runningStep(sides);
    if (step.kind === "progress" && sides.source) {
      const over = this.overrun(m, vm, sides.source);
      if (over) return this.abort(m, vm, over.reason, over.message, log, sides);
      await this.recordProgress(m, sides.source);
      return { requeueAfterMs: this.deps.config.pollMs };
    }
    if (step.kind === "start") {
      try {
        await this.startSource(m, sides, log);
      } catch (err) {
        // A target that names anything but its own pod IP is not sent the guest, ever.
        if (!(err instanceof MigrationTargetError)) throw err;
        return this.fail(m, vm, "TargetRefused", `the target's answer: ${err.message}`, log);
      }
      return { requeueAfterMs: this.deps.config.pollMs };
    }
    return this.act(m, vm, step, sides, log);
  }

  // ---- endings ----

  /**
   * End early: cancel what is under way, and remove the target only once it is safe.
   * `known`: both sides as just read in this pass, so they are not asked again.
   */
  private async abort(
    m: Migration,
    vm: VirtualMachine | undefined,
    reason: string,
    message: string,
    log: Logger,
    known?: Sides,
  ): Promise<ReconcileResult> {
    const phase = m.status?.phase ?? "Pending";
    if (phase === "Pending" || phase === "Scheduling" || phase === "TargetReady") {
      // The source was never told to send (Running is written first): nothing to call back.
      return this.fail(m, vm, reason, message, log);
    }
    const sides = known ?? (await this.sides(m));
    return this.act(m, vm, abortStep(sides, reason, message), sides, log);
  }

  private async act(
    m: Migration,
    vm: VirtualMachine | undefined,
    step: Step,
    sides: Sides,
    log: Logger,
  ): Promise<ReconcileResult> {
    switch (step.kind) {
      case "succeed":
        return this.succeed(m, vm, sides, log);
      case "fail":
        return this.fail(m, vm, step.reason, step.message, log);
      case "cancel": {
        const source = this.sourceAddress(m, sides.sourcePod);
        log.info({ reason: step.reason }, "cancelling on the source");
        void this.event(m, "Normal", "Cancelling", `${step.reason}: ${step.message}`);
        if (source) {
          this.fence();
          await this.deps.launcher.cancel(source).catch((err: unknown) => {
            log.warn({ err: String(err) }, "cancel failed; will look again");
          });
        }
        // Look again: the source now says Cancelled (or, too late, Succeeded).
        if (m.metadata.deletionTimestamp || step.reason !== "TargetFailed") {
          const after = await this.sides(m);
          const next = abortStep(after, step.reason, step.message);
          if (next.kind !== "cancel") return this.act(m, vm, next, after, log);
        }
        return { requeueAfterMs: 500 };
      }
      case "wait":
        log.debug({ why: step.why }, "waiting");
        return { requeueAfterMs: this.deps.config.pollMs };
      case "start":
      case "progress":
        return { requeueAfterMs: this.deps.config.pollMs };
    }
  }

  /** The guest runs on the target: the VM follows it, in one write, then the migration. */
  private async succeed(
    m: Migration,
    vm: VirtualMachine | undefined,
    sides: Sides,
    log: Logger,
  ): Promise<ReconcileResult> {
    const ns = m.metadata.namespace ?? "";
    const name = m.metadata.name ?? "";
    const target = sides.targetPod;
    if (vm && target && vm.status?.launcherPod !== target.name) {
      this.fence();
      await this.deps.client.mergePatch(`${paths.vm(ns, vm.metadata.name ?? "")}/status`, {
        metadata: { resourceVersion: vm.metadata.resourceVersion },
        status: {
          launcherPod: target.name,
          nodeName: target.nodeName,
          ipAddress: target.podIP,
          phase: "Running",
          migration: { name, phase: "Succeeded" },
        } satisfies VirtualMachineStatus,
      });
    }
    const now = new Date();
    const uid = m.metadata.uid ?? "";
    const source = sides.source ?? this.lastSource.get(uid);
    const downtime = downtimeMs(source, sides.target);
    const total = totalTimeMs(m, source, now);
    await this.writeStatus(m, {
      phase: "Succeeded",
      targetNode: target?.nodeName ?? m.status?.targetNode,
      endTime: rfc3339(now),
      ...(downtime !== undefined ? { downtimeMs: Math.round(downtime) } : {}),
      ...(total !== undefined ? { totalTimeMs: Math.round(total) } : {}),
      ...progressOf(source),
      reason: "Succeeded",
      message: `the guest runs in ${target?.name} on ${target?.nodeName}`,
    });
    const { metrics } = this.deps;
    metrics.outcomes.inc({ outcome: "succeeded", reason: "Succeeded" });
    if (downtime !== undefined) metrics.downtime.observe(downtime / 1000);
    this.observeDuration(m, now);
    this.forget(ns, name, uid);
    const summary = `moved from ${m.status?.sourceNode} to ${target?.nodeName}: downtime ${downtime ?? "?"} ms, total ${total !== undefined ? Math.round(total) : "?"} ms`;
    log.info({ downtimeMs: downtime, totalTimeMs: total }, "migration succeeded");
    void this.event(m, "Normal", "Succeeded", summary);
    if (vm) void this.event(vm, "Normal", "Migrated", `${name}: ${summary}`);
    return {};
  }

  /** The guest stays on (or is gone with) the source: remove the target, say why. */
  private async fail(
    m: Migration,
    vm: VirtualMachine | undefined,
    reason: string,
    message: string,
    log: Logger,
  ): Promise<ReconcileResult> {
    const ns = m.metadata.namespace ?? "";
    const name = m.metadata.name ?? "";
    await this.deleteTarget(m);
    const now = new Date();
    await this.writeStatus(m, {
      phase: "Failed",
      reason,
      message,
      endTime: rfc3339(now),
      ...(m.status?.startTime ? {} : { startTime: rfc3339(now) }),
    });
    this.deps.metrics.outcomes.inc({ outcome: "failed", reason });
    this.observeDuration(m, now);
    this.forget(ns, name, m.metadata.uid ?? "");
    log.warn({ reason, message }, "migration failed");
    void this.event(m, "Warning", reason, message);
    if (vm) void this.event(vm, "Warning", "MigrationFailed", `${name}: ${reason}: ${message}`);
    return { requeueAfterMs: 0 };
  }

  /**
   * An ended migration: make sure its effects are complete (the VM released or switched,
   * a failed target removed), then let the object go.
   */
  private async settle(m: Migration, vm: VirtualMachine | undefined, log: Logger) {
    const name = m.metadata.name ?? "";
    const phase = m.status?.phase as Phase;
    if (vm?.status?.migration?.name === name && vm.status.migration.phase !== phase) {
      if (phase === "Succeeded" && vm.status.launcherPod !== m.status?.targetPod) {
        // The switch-over write was lost with an operator: redo it from the target pod.
        const target = this.pod(m.metadata.namespace ?? "", m.status?.targetPod);
        return this.succeed(m, vm, { ...(target ? { targetPod: target } : {}) }, log);
      }
      await this.vmMigrationPhase(vm, name, phase);
    }
    if (phase === "Failed") await this.deleteTarget(m);
    if (m.metadata.finalizers?.includes(MIGRATION_FINALIZER)) {
      this.fence();
      await this.deps.client
        .mergePatch(paths.migration(m.metadata.namespace ?? "", name), {
          metadata: {
            resourceVersion: m.metadata.resourceVersion,
            finalizers: m.metadata.finalizers.filter((f) => f !== MIGRATION_FINALIZER),
          },
        })
        .catch((err) => {
          if (!isNotFound(err)) throw err;
        });
    }
    return {};
  }

  // ---- helpers ----

  private async startSource(m: Migration, sides: Sides, log: Logger) {
    const target = sides.targetPod;
    const source = this.sourceAddress(m, sides.sourcePod);
    if (!target?.podIP || !source) return;
    const vm = this.vm(m.metadata.namespace ?? "", m.spec.vmName);
    const completionMs = completionTimeoutMs(
      vm?.spec.memory.size ?? "1Gi",
      m.spec.completionTimeoutPerGiB ?? this.deps.config.completionTimeoutPerGiB,
    );
    const listenMs = completionMs + 60_000;
    // Issued afresh on every try: after a restart the target (already listening) still
    // admits the same source name, and a new certificate under that name is as good.
    const tls = await issueMigrationTls(this.deps.ca, m.metadata.uid ?? "", listenMs);
    this.fence();
    const answer = await this.deps.launcher.listen(this.address(m, target.podIP), {
      postCopy: m.spec.allowPostCopy ?? false,
      timeoutMs: listenMs,
      tls: tls.target,
    });
    // The target's answer is checked like any input: the guest goes to its pod IP only.
    checkMigrationTarget({ ...answer, targetIP: target.podIP });
    await this.deps.launcher.send(source, {
      ...answer,
      targetIP: target.podIP,
      tls: tls.source,
      ...(m.spec.bandwidth !== undefined
        ? { bandwidthBytesPerSec: quantityToBytes(m.spec.bandwidth) }
        : {}),
      autoConverge: m.spec.allowAutoConverge ?? false,
      postCopy: m.spec.allowPostCopy ?? false,
      timeoutMs: completionMs,
    });
    log.info({ uri: answer.migrationUri, disks: answer.diskIndexes }, "source sending the guest");
    void this.event(
      m,
      "Normal",
      "Migrating",
      `source ${sides.sourcePod?.name} sends the guest to ${answer.migrationUri}`,
    );
  }

  private overrun(m: Migration, vm: VirtualMachine, source: LauncherMigrationState) {
    const uid = m.metadata.uid ?? "";
    const now = Date.now();
    const mark = advanceMark(this.marks.get(uid), source.dataProcessedBytes ?? 0, now);
    this.marks.set(uid, mark);
    return overrun(source, mark, now, {
      completionMs: completionTimeoutMs(
        vm.spec.memory.size,
        m.spec.completionTimeoutPerGiB ?? this.deps.config.completionTimeoutPerGiB,
      ),
      progressMs: this.deps.config.progressTimeoutMs,
    });
  }

  private async recordProgress(m: Migration, source: LauncherMigrationState) {
    const ns = m.metadata.namespace ?? "";
    const name = m.metadata.name ?? "";
    const { metrics } = this.deps;
    const labels = { namespace: ns, migration: name };
    metrics.dataProcessed.set(labels, source.dataProcessedBytes ?? 0);
    metrics.dataRemaining.set(labels, source.dataRemainingBytes ?? 0);
    metrics.dataTotal.set(labels, source.dataTotalBytes ?? 0);
    const progress = progressOf(source);
    if (JSON.stringify(progress.progress) !== JSON.stringify(m.status?.progress)) {
      await this.writeStatus(m, progress);
    }
  }

  /** Both launchers' accounts and both pods, as far as they can be had right now. */
  private async sides(m: Migration): Promise<Sides> {
    const ns = m.metadata.namespace ?? "";
    const sourcePod = this.pod(ns, m.status?.sourcePod);
    const targetPod = this.pod(ns, m.status?.targetPod);
    const ask = (pod?: ObservedPod) =>
      pod?.podIP && !isTerminal(pod)
        ? this.deps.launcher.state(this.address(m, pod.podIP)).catch(() => undefined)
        : Promise.resolve(undefined);
    const [asked, target] = await Promise.all([ask(sourcePod), ask(targetPod)]);
    // A source pod that was itself a migration target reports its arrival until it is
    // asked to send: for this migration it has not been asked yet.
    const source: LauncherMigrationState | undefined =
      asked && asked.role !== "source" ? { role: "source", phase: "None" } : asked;
    if (source) this.lastSource.set(m.metadata.uid ?? "", source);
    return {
      ...(source ? { source } : {}),
      ...(target ? { target } : {}),
      ...(sourcePod ? { sourcePod } : {}),
      ...(targetPod ? { targetPod } : {}),
    };
  }

  private async deleteTarget(m: Migration) {
    const ns = m.metadata.namespace ?? "";
    const target = this.rawPod(ns, m.status?.targetPod);
    if (!target?.metadata?.uid || target.metadata.deletionTimestamp) return;
    this.fence();
    await this.deps.client
      .delete(paths.pod(ns, target.metadata.name ?? ""), {
        apiVersion: "v1",
        kind: "DeleteOptions",
        preconditions: { uid: target.metadata.uid },
        // The target never ran the guest: nothing to shut down gracefully.
        gracePeriodSeconds: 5,
      })
      .catch((err) => {
        if (!isNotFound(err) && !isConflict(err)) throw err;
      });
    void this.event(m, "Normal", "TargetPodDeleted", `deleted target pod ${target.metadata.name}`);
  }

  private async vmMigrationPhase(vm: VirtualMachine, name: string, phase: Phase) {
    if (vm.status?.migration?.name !== name || vm.status.migration.phase === phase) return;
    this.fence();
    await this.deps.client.mergePatch(
      `${paths.vm(vm.metadata.namespace ?? "", vm.metadata.name ?? "")}/status`,
      {
        metadata: { resourceVersion: vm.metadata.resourceVersion },
        status: { migration: { name, phase } },
      },
    );
  }

  /** Say on the VM whether it can migrate, so `kubectl get vm -o yaml` answers "why not". */
  async setMigratableCondition(vm: VirtualMachine, verdict: Migratability) {
    const old = findCondition(vm.status?.conditions, CONDITION_MIGRATABLE);
    const status = verdict.migratable ? "True" : "False";
    if (old?.status === status && old.reason === verdict.reason && old.message === verdict.message)
      return;
    const conditions = setCondition(
      vm.status?.conditions,
      { type: CONDITION_MIGRATABLE, status, reason: verdict.reason, message: verdict.message },
      new Date(),
    );
    this.fence();
    await this.deps.client.mergePatch(
      `${paths.vm(vm.metadata.namespace ?? "", vm.metadata.name ?? "")}/status`,
      { metadata: { resourceVersion: vm.metadata.resourceVersion }, status: { conditions } },
    );
  }

  /** Claims are read live: an access mode decides whether two nodes may open the disk. */
  async migratable(vm: VirtualMachine): Promise<Migratability> {
    const ns = vm.metadata.namespace ?? "";
    const modes = new Map<string, string[] | undefined>();
    for (const disk of vm.spec.disks) {
      const claim = disk.persistentVolumeClaim?.claimName;
      if (!claim || modes.has(claim)) continue;
      const pvc = await this.deps.client
        .get<V1PersistentVolumeClaim>(pvcPath(ns, claim))
        .catch((err) => {
          if (isNotFound(err)) return undefined;
          throw err;
        });
      modes.set(claim, pvc ? (pvc.status?.accessModes ?? pvc.spec?.accessModes ?? []) : undefined);
    }
    return migratability(vm, (claim) => modes.get(claim));
  }

  private async writeStatus(m: Migration, change: Partial<VirtualMachineMigrationStatus>) {
    this.fence();
    const patch: Record<string, unknown> = { observedGeneration: m.metadata.generation };
    for (const [k, v] of Object.entries(change)) patch[k] = v === undefined ? null : v;
    const written = await this.deps.client.mergePatch<RawVm>(
      `${paths.migration(m.metadata.namespace ?? "", m.metadata.name ?? "")}/status`,
      { metadata: { resourceVersion: m.metadata.resourceVersion }, status: patch },
    );
    // Later writes in this pass build on this one.
    m.metadata.resourceVersion = written.metadata.resourceVersion;
    m.status = { ...m.status, ...(written.status as VirtualMachineMigrationStatus) };
  }

  private slotUses() {
    return this.deps.migrations.list().map((raw) => {
      const status = (raw.status ?? {}) as VirtualMachineMigrationStatus;
      return {
        name: raw.metadata.name ?? "",
        namespace: raw.metadata.namespace ?? "",
        ...(status.phase ? { phase: status.phase } : {}),
        ...(status.sourceNode ? { sourceNode: status.sourceNode } : {}),
      };
    });
  }

  private forget(namespace: string, name: string, uid: string) {
    this.deps.metrics.forget(namespace, name);
    this.marks.delete(uid);
    this.lastSource.delete(uid);
  }

  private observeDuration(m: Migration, now: Date) {
    const created = Date.parse(m.metadata.creationTimestamp ?? "");
    if (Number.isFinite(created)) {
      this.deps.metrics.duration.observe(Math.max(0, (now.getTime() - created) / 1000));
    }
  }

  private vm(namespace: string, name: string): VirtualMachine | undefined {
    const raw = this.deps.vms.get(name, namespace);
    const parsed = raw ? VirtualMachineSchema.safeParse(raw) : undefined;
    return parsed?.success ? parsed.data : undefined;
  }

  private rawPod(namespace: string, name: string | undefined): V1Pod | undefined {
    return name ? this.deps.pods.get(name, namespace) : undefined;
  }

  private pod(namespace: string, name: string | undefined): ObservedPod | undefined {
    const raw = this.rawPod(namespace, name);
    return raw ? observePod(raw) : undefined;
  }

  private address(m: Migration, podIP: string): LauncherAddress {
    return { podIP, namespace: m.metadata.namespace ?? "", vmName: m.spec.vmName };
  }

  private sourceAddress(m: Migration, pod?: ObservedPod): LauncherAddress | undefined {
    return pod?.podIP && !isTerminal(pod) ? this.address(m, pod.podIP) : undefined;
  }

  private event(
    obj: { apiVersion: string; kind: string; metadata: InvolvedObject["metadata"] },
    type: "Normal" | "Warning",
    reason: string,
    message: string,
  ) {
    return this.deps.events.record(obj, type, reason, message);
  }

  private fence() {
    if (!this.deps.mayAct()) throw new FencedError("not the leader any more; not writing");
  }
}

function progressOf(source?: LauncherMigrationState): Partial<VirtualMachineMigrationStatus> {
  if (!source) return {};
  const progress: NonNullable<VirtualMachineMigrationStatus["progress"]> = {};
  if (source.dataTotalBytes !== undefined) progress.dataTotalBytes = source.dataTotalBytes;
  if (source.dataProcessedBytes !== undefined)
    progress.dataProcessedBytes = source.dataProcessedBytes;
  if (source.dataRemainingBytes !== undefined)
    progress.dataRemainingBytes = source.dataRemainingBytes;
  return { progress };
}

/**
 * The source's own clock (mirroring disks plus `migrate` to completion) when it said;
 * otherwise the time since the migration was admitted.
 */
function totalTimeMs(
  m: Migration,
  source: LauncherMigrationState | undefined,
  now: Date,
): number | undefined {
  if (source?.totalTimeMs !== undefined) return source.totalTimeMs + (source.diskCopyMs ?? 0);
  const start = Date.parse(m.status?.startTime ?? "");
  return Number.isFinite(start) ? now.getTime() - start : undefined;
}
