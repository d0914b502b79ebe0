import type { V1Pod } from "@kubernetes/client-node";
import {
  checkMigrationTarget,
  type LauncherMigrationState,
  type LauncherStatus,
  MigrationTargetError,
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
import type { Trust } from "../certs/ca-store.js";
import type { EventRecorder } from "../events.js";
import type { LauncherAddress } from "../launcher-client.js";
import type { LauncherPodConfig } from "../vm/launcher-pod.js";
import { isTerminal, type ObservedPod, observePod } from "../vm/observe.js";
import type { RawVm } from "../vm/reconciler.js";
import { statusPatch } from "../vm/status-patch.js";
import { recordedPod } from "../vm/trust.js";
import { readMigratability } from "./claim-modes.js";
import type { MigrationConfig } from "./config.js";
import {
  decideMigration,
  MIGRATION_FINALIZER,
  type MigrationAction,
  type MigrationDecideInput,
  type MigrationDecision,
  type StartSettings,
  type VmWrite,
} from "./decide.js";
import type { MigrationLauncherClient } from "./launcher-api.js";
import type { MigrationMetrics } from "./metrics.js";
import { buildTargetPod } from "./target-pod.js";
import { advanceMark, type ProgressMark } from "./timing.js";
import { issueMigrationTls } from "./tls.js";

export { MIGRATION_FINALIZER } from "./decide.js";

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
  /** The operator CA, as it is now: signs each migration's two certificates (tls.ts). */
  trust: () => Trust;
  mayAct: () => boolean;
  log: Logger;
}

type Migration = VirtualMachineMigration;

/** What one pass read of the world, beside the decision's input. */
interface Seen {
  input: MigrationDecideInput;
  rawSource?: V1Pod;
}

/**
 * The executor of `decideMigration`: one pass reads the world (caches, the launchers'
 * answers), decides (pure), writes the migration's status once — first, so an operator
 * killed anywhere after it resumes from it — then carries out the actions in order, then
 * records Events. Names are deterministic and launchers answer POSTs idempotently, so a
 * repeated action is harmless.
 */
export class MigrationReconciler {
  /** Last time each running migration's byte count moved (by uid). */
  private readonly marks = new Map<string, ProgressMark>();
  /** The source's last answer per migration (by uid): its final figures outlive its pod. */
  private readonly lastSource = new Map<string, LauncherMigrationState>();
  /** Cancels under way (by uid): a cancel waits for QEMU, and no pass waits for it. */
  private readonly cancelling = new Set<string>();
  /**
   * Target pod UIDs from this process's own create answers (by migration uid): trusted
   * while the status write that records them is not yet in the cache, or failed.
   */
  private readonly createdTargets = new Map<string, string>();
  /** Targets whose listen answer named another place than their pod (by uid): never sent to. */
  private readonly refused = new Map<string, string>();

  constructor(private readonly deps: MigrationReconcilerDeps) {}

  async reconcile(key: string): Promise<ReconcileResult> {
    const [namespace = "", name = ""] = key.split("/");
    const raw = this.deps.migrations.get(name, namespace);
    if (!raw) return {};
    const parsed = VirtualMachineMigration.safeParse(raw);
    if (!parsed.success) return {};
    const m = parsed.data;
    const log = this.deps.log.child({
      namespace: m.metadata.namespace,
      migration: m.metadata.name,
      phase: m.status?.phase ?? "Pending",
    });
    this.deps.metrics.seen(namespace, m.spec.vmName);
    const seen = await this.observe(m);
    const d = decideMigration(seen.input);
    try {
      await this.execute(m, seen, d, log);
    } catch (err) {
      // Deleted meanwhile (its finalizer gone): nothing is left to decide about.
      if (isNotFound(err) && !this.deps.migrations.get(name, namespace)) return {};
      throw err;
    }
    return d.requeueAfterMs !== undefined ? { requeueAfterMs: d.requeueAfterMs } : {};
  }

  // ---- reading the world ----

  private async observe(m: Migration): Promise<Seen> {
    const ns = m.metadata.namespace ?? "";
    const phase = m.status?.phase ?? "Pending";
    const vm = this.vm(ns, m.spec.vmName);
    const rawSource = this.rawPod(ns, m.status?.sourcePod);
    const sourcePod = rawSource ? observePod(rawSource) : undefined;
    const { targetPod, refused } = this.targetPod(m);
    const now = new Date();
    const input: MigrationDecideInput = {
      migration: m,
      ...(vm ? { vm } : {}),
      ...(sourcePod ? { sourcePod } : {}),
      ...(targetPod ? { targetPod } : {}),
      ...(refused ? { targetPodRefused: `${refused.name} (uid ${refused.uid})` } : {}),
      slots: this.slotUses(),
      now,
      config: this.deps.config,
    };
    const deleting = m.metadata.deletionTimestamp !== undefined;
    if (phase === "Pending" && vm && !deleting) {
      input.migratable = await readMigratability(this.deps.client, vm);
    }
    if (phase === "Scheduling" && targetPod) {
      const status = await this.ask(m, targetPod, (at) => this.deps.launcher.status(at));
      if (status) input.targetLauncher = status as LauncherStatus;
    }
    if (phase === "Running") {
      const uid = m.metadata.uid ?? "";
      const [asked, target] = await Promise.all([
        this.ask(m, sourcePod, (at) => this.deps.launcher.state(at)),
        this.ask(m, targetPod, (at) => this.deps.launcher.state(at)),
      ]);
      // A source pod that was itself a migration target reports its arrival until it is
      // asked to send: for this migration it has not been asked yet.
      const source: LauncherMigrationState | undefined =
        asked && asked.role !== "source" ? { role: "source", phase: "None" } : asked;
      const last = this.lastSource.get(uid);
      if (last) input.lastSource = last;
      if (source) {
        input.source = source;
        this.lastSource.set(uid, source);
        const mark = advanceMark(
          this.marks.get(uid),
          source.dataProcessedBytes ?? 0,
          now.getTime(),
        );
        this.marks.set(uid, mark);
        input.progressMark = mark;
      }
      if (target) input.target = target;
      const refused = this.refused.get(uid);
      if (refused) input.targetRefused = refused;
    }
    return { input, ...(rawSource ? { rawSource } : {}) };
  }

  /** A launcher's answer, or undefined when its pod is not up or it does not answer. */
  private async ask<T>(
    m: Migration,
    pod: ObservedPod | undefined,
    call: (at: LauncherAddress) => Promise<T>,
  ): Promise<T | undefined> {
    if (!pod?.podIP || isTerminal(pod)) return undefined;
    return await call(this.address(m, pod.podIP)).catch(() => undefined);
  }

  // ---- carrying the decision out ----

  private async execute(m: Migration, seen: Seen, d: MigrationDecision, log: Logger) {
    const { client } = this.deps;
    const ns = m.metadata.namespace ?? "";
    const name = m.metadata.name ?? "";
    let resourceVersion = m.metadata.resourceVersion;
    if (d.actions.some((a) => a.type === "addFinalizer")) {
      this.fence();
      await client.mergePatch(paths.migration(ns, name), {
        metadata: {
          resourceVersion,
          finalizers: [...(m.metadata.finalizers ?? []), MIGRATION_FINALIZER],
        },
      });
      return;
    }
    const patch = statusPatch(m.status as never, d.status as never);
    if (patch) {
      this.fence();
      const written = await client.mergePatch<RawVm>(`${paths.migration(ns, name)}/status`, {
        metadata: { resourceVersion },
        status: patch,
      });
      resourceVersion = written.metadata.resourceVersion;
      log.debug({ patch }, "status written");
      this.observeEnd(m, d.status, log);
    }
    for (const action of d.actions) {
      this.fence();
      await this.act(m, seen, action, resourceVersion, log);
    }
    const vm = seen.input.vm;
    for (const e of d.events) {
      if (e.on === "migration") void this.deps.events.record(m, e.type, e.reason, e.message);
      else if (vm) void this.deps.events.record(vm, e.type, e.reason, e.message);
    }
  }

  private async act(
    m: Migration,
    seen: Seen,
    action: MigrationAction,
    resourceVersion: string | undefined,
    log: Logger,
  ) {
    const { client } = this.deps;
    const ns = m.metadata.namespace ?? "";
    switch (action.type) {
      case "addFinalizer":
        return;
      case "removeFinalizer":
        await client
          .mergePatch(paths.migration(ns, m.metadata.name ?? ""), {
            metadata: {
              resourceVersion,
              finalizers: (m.metadata.finalizers ?? []).filter((f) => f !== MIGRATION_FINALIZER),
            },
          })
          .catch((err) => {
            if (!isNotFound(err)) throw err;
          });
        return;
      case "writeVm":
        return this.writeVm(m, seen.input.vm, action.write, log);
      case "createTarget":
        return this.createTarget(m, seen, resourceVersion, log);
      case "startTarget":
        return this.startTarget(m, seen.input.targetPod, log);
      case "startMigration":
        return this.startMigration(m, seen.input, action.settings, log);
      case "cancel":
        return this.cancel(m, seen.input.sourcePod, log);
      case "deletePod":
        log.info({ pod: action.name, why: action.why }, `deleting the ${action.role} pod`);
        await client
          .delete(paths.pod(ns, action.name), {
            apiVersion: "v1",
            kind: "DeleteOptions",
            preconditions: { uid: action.uid },
            gracePeriodSeconds: action.graceSeconds,
          })
          .catch((err) => {
            if (!isNotFound(err) && !isConflict(err)) throw err;
          });
        void this.deps.events.record(
          m,
          "Normal",
          action.role === "target" ? "TargetPodDeleted" : "SourcePodDeleted",
          `deleted ${action.role} pod ${action.name}: ${action.why}`,
        );
        return;
    }
  }

  /**
   * The migration reconciler's only VM write: `status.migration`, and at the switch-over
   * the pod the guest now runs in, all in one merge patch on the VM as read (a
   * compare-and-swap). The VM's phase and conditions stay the VM reconciler's.
   */
  private async writeVm(m: Migration, vm: VirtualMachine | undefined, write: VmWrite, log: Logger) {
    if (!vm) return;
    const status: Record<string, unknown> = {
      migration: { name: m.metadata.name ?? "", phase: write.phase },
    };
    const to = write.switchTo;
    if (to) {
      Object.assign(status, {
        launcherPod: to.name,
        nodeName: to.nodeName,
        ipAddress: to.podIP,
      } satisfies VirtualMachineStatus);
      // Launcher pod UID pinning (h4-trust): the VM records which pod it trusts; the
      // switch-over moves that trust to the target. The field is pruned by an API server
      // whose CRD does not know it yet.
      status.launcherPodUID = to.uid;
      log.info({ pod: to.name, node: to.nodeName }, "the VM follows the guest to the target");
    }
    await this.deps.client.mergePatch(
      `${paths.vm(vm.metadata.namespace ?? "", vm.metadata.name ?? "")}/status`,
      { metadata: { resourceVersion: vm.metadata.resourceVersion }, status },
    );
  }

  /**
   * Create the target pod and record its UID from the create's own answer (a CAS on the
   * migration as this pass wrote it). A pod already under the name is not ours to use: the
   * next pass sees it unrecorded and ends the migration (TargetPodRefused).
   */
  private async createTarget(
    m: Migration,
    seen: Seen,
    resourceVersion: string | undefined,
    log: Logger,
  ) {
    const { vm } = seen.input;
    if (!vm || !seen.rawSource) return;
    const pod = buildTargetPod(
      vm,
      { name: m.metadata.name ?? "", uid: m.metadata.uid ?? "" },
      seen.rawSource,
      m.status?.sourceNode ?? "",
      this.deps.podConfig,
    );
    const ns = m.metadata.namespace ?? "";
    const created = await this.deps.client.create<V1Pod>(paths.pods(ns), pod).catch((err) => {
      if (!isAlreadyExists(err)) throw err;
      log.warn({ pod: pod.metadata?.name }, "a pod already holds the target name; not using it");
      return undefined;
    });
    if (!created) return;
    log.info({ pod: pod.metadata?.name }, "created target pod");
    this.createdTargets.set(m.metadata.uid ?? "", created.metadata?.uid ?? "");
    this.fence();
    await this.deps.client.mergePatch(`${paths.migration(ns, m.metadata.name ?? "")}/status`, {
      metadata: { resourceVersion },
      status: { targetPodUID: created.metadata?.uid ?? "" },
    });
  }

  /** POST /start to the recorded target (decide saw it wait at its gate). */
  private async startTarget(m: Migration, target: ObservedPod | undefined, log: Logger) {
    if (!target?.podIP || isTerminal(target)) return;
    await this.deps.launcher.start(this.address(m, target.podIP)).catch((err: unknown) => {
      log.warn({ err }, "target /start failed; will ask again");
    });
    log.info({ pod: target.name }, "told the target to start and wait for the guest");
  }

  /**
   * Tell the target to listen and the source to send; both are idempotent. Kept in one
   * function: what is sent to the launchers (e.g. per-migration certificates) changes here.
   */
  private async startMigration(
    m: Migration,
    input: MigrationDecideInput,
    settings: StartSettings,
    log: Logger,
  ) {
    const { targetPod, sourcePod } = input;
    if (!targetPod?.podIP || !sourcePod?.podIP || isTerminal(sourcePod)) return;
    const listenMs = settings.completionMs + 60_000;
    // Issued afresh on every try: after a restart the target (already listening) still
    // admits the same source name, and a new certificate under that name is as good.
    const trust = this.deps.trust();
    const tls = await issueMigrationTls(
      trust.signing,
      m.metadata.uid ?? "",
      listenMs,
      trust.bundlePem,
    );
    this.fence();
    const answer = await this.deps.launcher.listen(this.address(m, targetPod.podIP), {
      postCopy: settings.postCopy,
      timeoutMs: listenMs,
      tls: tls.target,
    });
    // The target's answer is checked like any input: the guest goes to its pod IP only. A
    // refusal is remembered for the next pass to decide on (TargetRefused).
    try {
      checkMigrationTarget({ ...answer, targetIP: targetPod.podIP });
    } catch (err) {
      if (!(err instanceof MigrationTargetError)) throw err;
      log.warn({ err }, "the target's answer names another place; not sending");
      this.refused.set(m.metadata.uid ?? "", `the target's answer: ${err.message}`);
      return;
    }
    this.fence();
    await this.deps.launcher.send(this.address(m, sourcePod.podIP), {
      ...answer,
      targetIP: targetPod.podIP,
      tls: tls.source,
      ...(settings.bandwidthBytesPerSec !== undefined
        ? { bandwidthBytesPerSec: settings.bandwidthBytesPerSec }
        : {}),
      autoConverge: settings.autoConverge,
      postCopy: settings.postCopy,
      timeoutMs: settings.completionMs,
    });
    log.info({ uri: answer.migrationUri, disks: answer.diskIndexes }, "source sending the guest");
    void this.deps.events.record(
      m,
      "Normal",
      "Migrating",
      `source ${sourcePod.name} sends the guest to ${answer.migrationUri}`,
    );
  }

  /** Fire the cancel and return: the source's state, read by the next passes, tells the end. */
  private cancel(m: Migration, sourcePod: ObservedPod | undefined, log: Logger) {
    const uid = m.metadata.uid ?? "";
    if (!sourcePod?.podIP || isTerminal(sourcePod) || this.cancelling.has(uid)) return;
    this.cancelling.add(uid);
    log.info("cancelling on the source");
    void this.deps.launcher
      .cancel(this.address(m, sourcePod.podIP))
      .catch((err: unknown) => log.warn({ err }, "cancel failed; will look again"))
      .finally(() => this.cancelling.delete(uid));
  }

  /** Metrics once a migration's end is written. */
  private observeEnd(m: Migration, after: VirtualMachineMigrationStatus, log: Logger) {
    const before = m.status?.phase;
    if (before === after.phase || (after.phase !== "Succeeded" && after.phase !== "Failed")) return;
    const { metrics } = this.deps;
    const succeeded = after.phase === "Succeeded";
    const vm = { namespace: m.metadata.namespace ?? "", vmi: m.spec.vmName };
    metrics.outcomes.inc({ ...vm, outcome: succeeded ? "succeeded" : "failed" });
    if (succeeded && after.downtimeMs !== undefined)
      metrics.downtime.observe(vm, after.downtimeMs / 1000);
    const created = Date.parse(m.metadata.creationTimestamp ?? "");
    if (Number.isFinite(created)) {
      metrics.duration.observe(vm, Math.max(0, (Date.now() - created) / 1000));
    }
    const uid = m.metadata.uid ?? "";
    this.marks.delete(uid);
    this.lastSource.delete(uid);
    this.refused.delete(uid);
    this.createdTargets.delete(uid);
    if (succeeded) {
      log.info(
        { downtimeMs: after.downtimeMs, totalTimeMs: after.totalTimeMs },
        "migration succeeded",
      );
    } else {
      log.warn({ reason: after.reason ?? after.phase, message: after.message }, "migration failed");
    }
  }

  // ---- caches ----

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

  private vm(namespace: string, name: string): VirtualMachine | undefined {
    const raw = this.deps.vms.get(name, namespace);
    const parsed = raw ? VirtualMachineSchema.safeParse(raw) : undefined;
    return parsed?.success ? parsed.data : undefined;
  }

  private rawPod(namespace: string, name: string | undefined): V1Pod | undefined {
    return name ? this.deps.pods.get(name, namespace) : undefined;
  }

  /**
   * The target pod whose UID this migration recorded (vm/trust.ts's rule, shared with the
   * VM's launches), and a pod under the target name that is not it. A migration from
   * before UIDs were recorded (no field) past Scheduling trusts the name, as it did.
   */
  private targetPod(m: Migration): { targetPod?: ObservedPod; refused?: ObservedPod } {
    const ns = m.metadata.namespace ?? "";
    const raw = this.rawPod(ns, m.status?.targetPod);
    const pods = raw ? [observePod(raw)] : [];
    const uid = m.status?.targetPodUID || this.createdTargets.get(m.metadata.uid ?? "");
    const phase = m.status?.phase ?? "Pending";
    const legacy = uid === undefined && phase !== "Pending" && phase !== "Scheduling";
    const { recorded, others } = recordedPod(pods, m.status?.targetPod, uid, legacy);
    const [refused] = others;
    return { ...(recorded ? { targetPod: recorded } : {}), ...(refused ? { refused } : {}) };
  }

  private address(m: Migration, podIP: string): LauncherAddress {
    return { podIP, namespace: m.metadata.namespace ?? "", vmName: m.spec.vmName };
  }

  private fence() {
    if (!this.deps.mayAct()) throw new FencedError("not the leader any more; not writing");
  }
}
