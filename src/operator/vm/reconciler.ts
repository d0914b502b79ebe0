import type {
  KubernetesObject,
  V1Node,
  V1ObjectMeta,
  V1Pod,
  V1PodDisruptionBudget,
} from "@kubernetes/client-node";
import {
  COMPONENT_LAUNCHER,
  LABEL_COMPONENT,
  LABEL_VM,
  type LauncherStatus,
  VirtualMachine,
  VirtualMachineResource,
  type VirtualMachineStatus,
} from "../../api/index.js";
import {
  isAlreadyExists,
  isConflict,
  isNotFound,
  type KubeClient,
  KubeError,
  paths,
} from "../../kube/client.js";
import { FencedError, type ReconcileResult } from "../../kube/controller.js";
import type { Informer } from "../../kube/informer.js";
import type { Logger } from "../../util/log.js";
import type { Trust } from "../certs/ca-store.js";
import type { CertPolicy } from "../certs/rotation.js";
import type { EventRecorder, InvolvedObject } from "../events.js";
import { type LauncherClient, LauncherError, type LauncherFault } from "../launcher-client.js";
import type { OperatorMetrics } from "../metrics.js";
import { readMigratability } from "../migration/claim-modes.js";
import type { Migratability } from "../migration/migratable.js";
import { CONDITION_FAILURE, findCondition, setCondition } from "./conditions.js";
import {
  type Action,
  type DecideConfig,
  type Decision,
  decide,
  deletionActions,
  rejectedLaunch,
  VM_FINALIZER,
} from "./decide.js";
import { clusterOffersKvm } from "./kvm.js";
import { ensureNetworkPolicy, ensureTlsSecret } from "./launch-objects.js";
import { launcherAnswerFreshMs } from "./launcher-freshness.js";
import {
  buildLauncherPod,
  type LauncherPodConfig,
  NO_RESOLVED_VOLUMES,
  type ResolvedVolumes,
} from "./launcher-pod.js";
import { disruptionBudgetName, vmLabelValue } from "./naming.js";
import { isTerminal, type ObservedPod, observePod } from "./observe.js";
import { buildDisruptionBudget, wantsDisruptionBudget } from "./pdb.js";
import type { PodIndex } from "./pod-index.js";
import { ANNOTATION_STATE_REQUEST } from "./requests.js";
import { statusPatch } from "./status-patch.js";
import { checkVolumeSources, mayStillMount } from "./volume-sources.js";

/** A VirtualMachine as the API serves it: not yet validated. */
export interface RawVm extends KubernetesObject {
  metadata: V1ObjectMeta;
  spec?: unknown;
  status?: Record<string, unknown>;
}

export interface VmReconcilerDeps {
  client: KubeClient;
  vms: Informer<RawVm>;
  pods: PodIndex;
  nodes: Informer<V1Node>;
  pdbs: Informer<V1PodDisruptionBudget>;
  launcher: LauncherClient;
  events: EventRecorder;
  metrics: OperatorMetrics;
  /** The operator CA as it is now (the CA store re-reads it; the leader rotates it). */
  trust: () => Trust;
  certPolicy: CertPolicy;
  podConfig: LauncherPodConfig;
  decideConfig: DecideConfig;
  /** When set, each VM gets a NetworkPolicy letting only these operator pods call its launchers. */
  networkPolicy?: { operatorNamespace: string };
  /** False once this replica may no longer act (lost the leader lease). */
  mayAct: () => boolean;
  log: Logger;
  /** VirtualMachineMigrations: a VM naming one that vanished is released (see decide). */
  migrations?: Informer<RawVm>;
  faults?: VmReconcilerFaults;
}

/** Test seams in the executor: each runs at one point of a pass and may throw or stall. */
export interface VmReconcilerFaults {
  /** After a launcher pod create returned, before its UID is recorded. */
  afterPodCreate?: (podName: string) => Promise<void>;
}

const MAX_REMEMBERED = 4096;

/**
 * One reconcile pass of one VM: read the world (caches; a live list before creating a pod),
 * decide (pure), then carry the decision out in a safe order — status first, since it
 * carries the launch claim, then pods, then the requests consumed, then Events.
 */
export class VmReconciler {
  /**
   * Per VM key, the unrecorded claim (launch number) this process sees and since when, on
   * its monotonic clock: decide gives a live creator `claimGraceMs` before moving on.
   */
  private readonly claimsSeen = new Map<string, { launch: number; since: number }>();
  /** Per VM key, the resourceVersion our latest write to it replaced. */
  private readonly overwritten = new Map<string, string>();
  /** Latest launcher /status per pod uid, so event bursts do not hammer launchers. */
  private readonly launcherStatus = new Map<string, { at: number } & LauncherAnswer>();
  /** Per VM key, its claims' volume modes as this pass read them, for the pod it creates. */
  private readonly volumes = new Map<string, ResolvedVolumes>();
  /** Latest migratability per VM uid: its claims are read at most every half poll. */
  private readonly migratable = new Map<string, { at: number; verdict: Migratability }>();
  /**
   * Per VM key, when its launcher TLS Secret is next due and the trust it was made with: a
   * running VM's Secret is read again only then, or when the CA bundle changed.
   */
  private readonly tlsChecked = new Map<string, { dueAt: number; bundlePem: string }>();

  constructor(private readonly deps: VmReconcilerDeps) {}

  async reconcile(key: string): Promise<ReconcileResult> {
    const [namespace = "", name = ""] = key.split("/");
    let raw = this.deps.vms.get(name, namespace);
    if (!raw) {
      this.overwritten.delete(key);
      this.claimsSeen.delete(key);
      this.volumes.delete(key);
      this.tlsChecked.delete(key);
      return {};
    }
    // The cache still shows the version our last write replaced: deciding on it would only
    // redo that write and conflict. The watch event of our write brings the key back.
    if (this.overwritten.get(key) === raw.metadata.resourceVersion) return { requeueAfterMs: 1000 };
    this.overwritten.delete(key);
    const pods = this.deps.pods.podsOf(namespace, name).map(observePod);
    const parsed = VirtualMachine.safeParse(raw);
    if (!parsed.success) return this.reconcileInvalid(raw, pods, parsed.error.issues);
    let vm = parsed.data;
    const log = this.deps.log.child({ namespace, vm: name });

    // Only the pod whose UID this operator recorded is ever asked anything (see decide).
    const current = pods.find(
      (p) => p.name === vm.status?.launcherPod && p.uid === vm.status?.launcherPodUID,
    );
    const answer = current ? await this.askLauncher(vm, current, log) : {};
    // Secrets and claims the pod mounts: looked up (by name) while a pod may be created or
    // is not started yet; a missing one stops the launch and is named on the VM.
    const sources = mayStillMount(current)
      ? await checkVolumeSources(this.deps.client, vm)
      : undefined;
    if (sources) this.volumes.set(key, sources.resolved);
    const migratability = await this.migratability(vm, log);
    const migrationGone = await this.migrationGone(vm);
    let now = new Date();
    let tlsSecretConflict: string | undefined;
    const decideNow = () =>
      decide({
        vm,
        pods,
        ...answer,
        ...(tlsSecretConflict ? { tlsSecretConflict } : {}),
        nodeReady: current?.nodeName ? this.nodeReady(current.nodeName) : undefined,
        ...(sources ? { missingSources: sources.missing } : {}),
        ...(migratability ? { migratability } : {}),
        ...(migrationGone ? { migrationGone } : {}),
        ...this.claimSeen(key, vm),
        now,
        config: this.deps.decideConfig,
      });
    let decision = decideNow();
    let requeue: number | undefined;
    try {
      if (decision.actions.some((a) => a.type === "addFinalizer")) {
        // With the finalizer written, decide again on the VM as it now is: one pass, not two.
        const metadata = await this.addFinalizer(raw);
        raw = { ...raw, metadata: { ...raw.metadata, ...metadata } };
        vm = { ...vm, metadata: { ...vm.metadata, ...metadata } };
        decision = decideNow();
      }
      if (decision.actions.some((a) => a.type === "launch")) {
        // The Secret the pod will mount must be ours; if its name is taken, decide again
        // knowing that (no launch, a Failure condition saying whose it is).
        const fence = () => this.fence();
        tlsSecretConflict = await this.ensureTls(key, vm, fence);
        const policy = this.deps.networkPolicy;
        if (!tlsSecretConflict && policy)
          await ensureNetworkPolicy(this.deps.client, vm, policy.operatorNamespace, fence);
        // Decide again on a fresh clock: the claim's age is what the creator checks, and
        // issuing a certificate can take a while on a busy node.
        now = new Date();
        decision = decideNow();
      }
      requeue = await this.execute(raw, vm, decision, log);
      // A running launcher's Secret is renewed in place before its certificate is due.
      if (current && !decision.actions.some((a) => a.type === "launch"))
        await this.renewTls(key, vm, log);
    } catch (err) {
      // Released by our own finalizer removal, or deleted meanwhile: nothing left to do.
      if (isNotFound(err) && !(await this.exists(namespace, name))) return {};
      throw err;
    }
    if (!vm.metadata.deletionTimestamp && vm.metadata.finalizers?.includes(VM_FINALIZER)) {
      await this.ensureDisruptionBudget(vm);
    }
    return { requeueAfterMs: requeue ?? decision.requeueAfterMs };
  }

  private async ensureTls(key: string, vm: VirtualMachine, fence: () => void) {
    const trust = this.deps.trust();
    const { conflict, dueAt } = await ensureTlsSecret(
      this.deps.client,
      trust,
      this.deps.certPolicy,
      vm,
      fence,
    );
    if (conflict || dueAt === undefined) this.tlsChecked.delete(key);
    else this.tlsChecked.set(key, { dueAt, bundlePem: trust.bundlePem });
    return conflict;
  }

  private async renewTls(key: string, vm: VirtualMachine, log: Logger) {
    const seen = this.tlsChecked.get(key);
    if (seen && seen.dueAt > Date.now() && seen.bundlePem === this.deps.trust().bundlePem) return;
    const conflict = await this.ensureTls(key, vm, () => this.fence());
    // Someone replaced our Secret under a running VM: keep its launcher's files as they are.
    if (conflict) log.warn({ reason: conflict }, "launcher TLS Secret not renewed");
  }

  private async execute(
    raw: RawVm,
    vm: VirtualMachine,
    d: Decision,
    log: Logger,
  ): Promise<number | undefined> {
    const { client } = this.deps;
    const ns = vm.metadata.namespace ?? "";
    const name = vm.metadata.name ?? "";
    const key = `${ns}/${name}`;
    let resourceVersion = raw.metadata.resourceVersion;
    this.fence();

    const launch = d.actions.find((a) => a.type === "launch");
    if (launch) {
      // Live, not from the cache: no other launcher pod of this VM may be alive when a launch
      // is claimed.
      const alive = await this.otherLivePods(vm, launch.podName, log);
      // The cache was behind: a pod it did not show is alive. Claim nothing; look again.
      if (alive) return 1000;
    }

    const patch = statusPatch(vm.status, d.status);
    if (patch) {
      // The resourceVersion precondition makes the write a compare-and-swap: a launch is
      // claimed by exactly one writer, and a decision made on stale data is thrown away.
      const written = await client.mergePatch<RawVm>(`${paths.vm(ns, name)}/status`, {
        metadata: { resourceVersion },
        status: patch,
      });
      this.replaced(key, resourceVersion, written.metadata.resourceVersion);
      resourceVersion = written.metadata.resourceVersion;
      this.observePhase(vm, d.status);
      log.debug({ patch }, "status written");
    }

    let requeue: number | undefined;
    for (const action of d.actions) {
      this.fence();
      const result = await this.act(vm, d.status, action, resourceVersion, log);
      if (typeof result === "string") resourceVersion = result;
      else if (typeof result === "number") requeue = result;
    }
    for (const e of d.events)
      void this.deps.events.record(involved(raw), e.type, e.reason, e.message);
    return requeue;
  }

  /** Returns a new resourceVersion after a VM write, or a requeue delay. */
  private async act(
    vm: VirtualMachine,
    decided: VirtualMachineStatus,
    action: Action,
    resourceVersion: string | undefined,
    log: Logger,
  ): Promise<string | number | undefined> {
    const { client } = this.deps;
    const ns = vm.metadata.namespace ?? "";
    const name = vm.metadata.name ?? "";
    switch (action.type) {
      case "launch":
        return this.launch(vm, decided, action, resourceVersion, log);
      case "deletePod":
        log.info({ pod: action.name, why: action.why }, "deleting launcher pod");
        await this.deletePod(ns, action.name, action.uid);
        void this.deps.events.record(
          involvedVm(vm),
          "Normal",
          "LauncherPodDeleted",
          `deleting launcher pod ${action.name}: ${action.why}`,
        );
        return undefined;
      case "cleanupPod":
        await this.deletePod(ns, action.name, action.uid);
        return undefined;
      case "startLauncher":
        return this.startLauncher(vm, action, log);
      case "clearStateRequest": {
        const written = await client.mergePatch<RawVm>(paths.vm(ns, name), {
          metadata: { resourceVersion, annotations: { [ANNOTATION_STATE_REQUEST]: null } },
        });
        return written.metadata.resourceVersion;
      }
      case "removeFinalizer": {
        const written = await client.mergePatch<RawVm>(paths.vm(ns, name), {
          metadata: {
            resourceVersion,
            finalizers: (vm.metadata.finalizers ?? []).filter((f) => f !== VM_FINALIZER),
          },
        });
        log.info("launcher pods gone; released the VM");
        return written.metadata.resourceVersion;
      }
      case "addFinalizer":
        return undefined;
    }
  }

  /**
   * Launch n was claimed by the status write just made, after a live check that no other
   * launcher pod of the VM is alive. Create its pod only while the claim is young enough
   * that no other replica can have given up on it; record the UID the create returned (the
   * only pod of this launch ever trusted); check the claim still stands (a replica stalled
   * past that point is caught here), else take the pod back. A create the apiserver refuses
   * is recorded as PodRejected, and the same claim is tried again later.
   */
  private async launch(
    vm: VirtualMachine,
    decided: VirtualMachineStatus,
    action: Extract<Action, { type: "launch" }>,
    resourceVersion: string | undefined,
    log: Logger,
  ): Promise<string | number | undefined> {
    const { client } = this.deps;
    const { launch, podName } = action;
    const ns = vm.metadata.namespace ?? "";
    this.fence();
    let created: V1Pod;
    try {
      created = await client.create<V1Pod>(
        paths.pods(ns),
        buildLauncherPod(vm, launch, this.deps.podConfig, {
          ...(this.volumes.get(`${ns}/${vm.metadata.name ?? ""}`) ?? NO_RESOLVED_VOLUMES),
          kvmOffered: clusterOffersKvm(this.deps.nodes.list()),
        }),
      );
    } catch (err) {
      if (isAlreadyExists(err)) {
        // Not ours (or ours with its answer lost): never adopted; decide refuses it.
        log.warn({ pod: podName }, "a pod already holds the launcher name; not adopting it");
        return undefined;
      }
      if (!isRejection(err)) throw err;
      return this.recordRejection(vm, decided, podName, err, resourceVersion, log);
    }
    log.info({ pod: podName, launch }, "created launcher pod");
    await this.deps.faults?.afterPodCreate?.(podName);
    void this.deps.events.record(
      involvedVm(vm),
      "Normal",
      "LauncherPodCreated",
      `created launcher pod ${podName} (launch ${launch})`,
    );
    return this.recordPodUid(vm, launch, podName, created.metadata?.uid ?? "", log);
  }

  /**
   * POST /start to the recorded pod (decide chose it by UID; the pod IP is re-read from the
   * cache under that UID). A failure is only logged: the launcher still waits, and the
   * next pass, soon (decide requeues while Starting), asks it again.
   */
  private async startLauncher(
    vm: VirtualMachine,
    action: Extract<Action, { type: "startLauncher" }>,
    log: Logger,
  ): Promise<undefined> {
    const ns = vm.metadata.namespace ?? "";
    const pod = this.deps.pods
      .podsOf(ns, vm.metadata.name ?? "")
      .map(observePod)
      .find((p) => p.uid === action.uid);
    if (!pod?.podIP) return undefined;
    this.launcherStatus.delete(action.uid);
    try {
      await this.deps.launcher.start({
        podIP: pod.podIP,
        namespace: ns,
        vmName: vm.metadata.name ?? "",
      });
      log.info({ pod: action.name }, "told the launcher to start the guest");
    } catch (err) {
      log.warn({ pod: action.name, err }, "launcher /start failed; will ask again");
    }
    return undefined;
  }

  /**
   * How long this process has seen the VM's current claim (decide uses it only while the
   * claim's pod is not observed: never recorded, or recorded and gone while unscheduled).
   */
  private claimSeen(key: string, vm: VirtualMachine): { claimSeenMs?: number } {
    const status = vm.status;
    if (!status?.launcherPod) {
      this.claimsSeen.delete(key);
      return {};
    }
    const launch = status.launchCount ?? 0;
    const now = performance.now();
    const seen = this.claimsSeen.get(key);
    if (seen?.launch === launch) return { claimSeenMs: now - seen.since };
    this.claimsSeen.set(key, { launch, since: now });
    if (this.claimsSeen.size > MAX_REMEMBERED) this.claimsSeen.clear();
    return { claimSeenMs: 0 };
  }

  /** Writes the created pod's UID into the claim, unless the claim was superseded. */
  private async recordPodUid(
    vm: VirtualMachine,
    launch: number,
    podName: string,
    uid: string,
    log: Logger,
  ): Promise<string | undefined> {
    const { client } = this.deps;
    const ns = vm.metadata.namespace ?? "";
    const name = vm.metadata.name ?? "";
    for (let attempt = 0; ; attempt++) {
      const fresh = await client.get<RawVm>(paths.vm(ns, name)).catch((err) => {
        if (isNotFound(err)) return undefined;
        throw err;
      });
      const status = fresh?.status as VirtualMachineStatus | undefined;
      const stillClaimed =
        fresh?.metadata.uid === vm.metadata.uid &&
        status?.launchCount === launch &&
        status.launcherPod === podName;
      if (!fresh || !stillClaimed) {
        log.error(
          { pod: podName, launch },
          "launch claim superseded while creating its pod; deleting the pod",
        );
        await this.deletePod(ns, podName, uid);
        return undefined;
      }
      try {
        this.fence();
        const before = fresh.metadata.resourceVersion;
        const written = await client.mergePatch<RawVm>(`${paths.vm(ns, name)}/status`, {
          metadata: { resourceVersion: before },
          status: { launcherPodUID: uid },
        });
        this.replaced(`${ns}/${name}`, before, written.metadata.resourceVersion);
        return written.metadata.resourceVersion;
      } catch (err) {
        if (!isConflict(err) || attempt >= 4) throw err;
      }
    }
  }

  private async recordRejection(
    vm: VirtualMachine,
    decided: VirtualMachineStatus,
    podName: string,
    err: KubeError,
    resourceVersion: string | undefined,
    log: Logger,
  ): Promise<string | number> {
    const ns = vm.metadata.namespace ?? "";
    const name = vm.metadata.name ?? "";
    const apiMessage = err.message.replace(/^POST \S+: /, "");
    log.warn({ pod: podName, err }, "launcher pod rejected by the apiserver");
    const rejected = rejectedLaunch(vm, decided, podName, apiMessage, new Date());
    const patch = statusPatch(decided, rejected.status);
    this.fence();
    const written = await this.deps.client.mergePatch<RawVm>(`${paths.vm(ns, name)}/status`, {
      metadata: { resourceVersion },
      status: patch ?? {},
    });
    this.replaced(`${ns}/${name}`, resourceVersion, written.metadata.resourceVersion);
    const e = rejected.event;
    void this.deps.events.record(involvedVm(vm), e.type, e.reason, e.message);
    return written.metadata.resourceVersion ?? this.deps.decideConfig.rejectRetryMs;
  }

  /**
   * Live (not cached) check that the pod the VM recorded is not alive: a cache that lags
   * must not make a running guest look gone. Only that pod matters — any other launcher pod
   * was never told to start (start gate), so it cannot run the guest. A status from before
   * UIDs were recorded (a launch, no UID field) counts every live launcher pod but `podName`.
   */
  private async otherLivePods(vm: VirtualMachine, podName: string, log: Logger): Promise<boolean> {
    const live = await this.deps.client.list<V1Pod>(paths.pods(vm.metadata.namespace ?? ""), {
      labelSelector: `${LABEL_VM}=${vmLabelValue(vm.metadata.name ?? "")},${LABEL_COMPONENT}=${COMPONENT_LAUNCHER}`,
    });
    const recorded = vm.status?.launcherPodUID;
    const legacy = vm.status?.launcherPod !== undefined && recorded === undefined;
    const mayRunGuest = (p: ObservedPod) => (legacy ? p.name !== podName : p.uid === recorded);
    const alive = live.items.map(observePod).filter((p) => !isTerminal(p) && mayRunGuest(p));
    if (alive.length === 0) return false;
    log.warn(
      { alive: alive.map((p) => p.name), launch: podName },
      "another launcher pod is alive; not launching",
    );
    return true;
  }

  /**
   * Remember that our write replaced version `before` — unless the write changed nothing
   * (same version after): no watch event would then ever release the key.
   */
  private replaced(key: string, before: string | undefined, after: string | undefined) {
    if (before && after && before !== after) this.overwritten.set(key, before);
  }

  private async addFinalizer(
    raw: RawVm,
  ): Promise<Pick<V1ObjectMeta, "finalizers" | "resourceVersion">> {
    const ns = raw.metadata.namespace ?? "";
    const name = raw.metadata.name ?? "";
    this.fence();
    const written = await this.deps.client.mergePatch<RawVm>(paths.vm(ns, name), {
      metadata: {
        resourceVersion: raw.metadata.resourceVersion,
        finalizers: [...(raw.metadata.finalizers ?? []), VM_FINALIZER],
      },
    });
    this.replaced(`${ns}/${name}`, raw.metadata.resourceVersion, written.metadata.resourceVersion);
    return {
      finalizers: written.metadata.finalizers,
      resourceVersion: written.metadata.resourceVersion,
    };
  }

  private async exists(ns: string, name: string): Promise<boolean> {
    try {
      await this.deps.client.get(paths.vm(ns, name));
      return true;
    } catch (err) {
      if (isNotFound(err)) return false;
      throw err;
    }
  }

  private async deletePod(ns: string, name: string, uid: string) {
    try {
      // Graceful (the pod's own grace period): the launcher shuts the guest down first.
      // The uid precondition makes sure it is the pod we decided about, not a namesake.
      await this.deps.client.delete(paths.pod(ns, name), {
        apiVersion: "v1",
        kind: "DeleteOptions",
        preconditions: { uid },
      });
    } catch (err) {
      if (!isNotFound(err) && !isConflict(err)) throw err;
    }
  }

  private async ensureDisruptionBudget(vm: VirtualMachine) {
    const { client, pdbs } = this.deps;
    const ns = vm.metadata.namespace ?? "";
    const name = disruptionBudgetName(vm.metadata.name ?? "");
    const existing = pdbs.get(name, ns);
    const want = wantsDisruptionBudget(vm);
    if (want && !existing) {
      this.fence();
      await client.create(paths.pdbs(ns), buildDisruptionBudget(vm)).catch((err) => {
        if (!isAlreadyExists(err)) throw err;
      });
    } else if (!want && existing?.metadata?.uid) {
      this.fence();
      await client
        .delete(paths.pdb(ns, name), {
          apiVersion: "v1",
          kind: "DeleteOptions",
          preconditions: { uid: existing.metadata.uid },
        })
        .catch((err) => {
          if (!isNotFound(err) && !isConflict(err)) throw err;
        });
    }
  }

  /** The launcher's /status, asked at most every half poll interval per pod. */
  private async askLauncher(
    vm: VirtualMachine,
    pod: ObservedPod,
    log: Logger,
  ): Promise<LauncherAnswer> {
    if (pod.stage !== "Running" || !pod.podIP || pod.terminating) return {};
    const cached = this.launcherStatus.get(pod.uid);
    const now = Date.now();
    const fresh = launcherAnswerFreshMs(cached, this.deps.decideConfig.statusPollMs);
    if (cached && now - cached.at < fresh) return answerOf(cached);
    let answer: LauncherAnswer;
    try {
      answer = {
        launcher: await this.deps.launcher.status({
          podIP: pod.podIP,
          namespace: vm.metadata.namespace ?? "",
          vmName: vm.metadata.name ?? "",
        }),
      };
    } catch (err) {
      const fault: LauncherFault = err instanceof LauncherError ? err.fault : "unreachable";
      const message = err instanceof Error ? err.message : String(err);
      log.debug({ pod: pod.name, fault, err }, "launcher /status unusable");
      answer = { launcherFault: { fault, message } };
    }
    this.launcherStatus.set(pod.uid, { at: now, ...answer });
    if (this.launcherStatus.size > MAX_REMEMBERED) this.pruneLauncherStatus(now);
    return answer;
  }

  // ---- migration inputs ----

  /**
   * Whether the VM can live-migrate, for its Migratable condition: its claims read live,
   * at most every half poll interval. Undefined when they cannot be read now (the
   * condition then stays as it was).
   */
  private async migratability(vm: VirtualMachine, log: Logger): Promise<Migratability | undefined> {
    if (vm.metadata.deletionTimestamp) return undefined;
    const uid = vm.metadata.uid ?? "";
    const cached = this.migratable.get(uid);
    const now = Date.now();
    if (cached && now - cached.at < this.deps.decideConfig.statusPollMs / 2) return cached.verdict;
    try {
      const verdict = await readMigratability(this.deps.client, vm);
      this.migratable.set(uid, { at: now, verdict });
      if (this.migratable.size > MAX_REMEMBERED) this.migratable.clear();
      return verdict;
    } catch (err) {
      log.debug({ err }, "claims unreadable; Migratable left as it was");
      return cached?.verdict;
    }
  }

  /**
   * Whether `status.migration` names an unfinished migration whose object no longer exists.
   * The cache says so first; a live GET confirms (a cache that lags must not release a VM
   * whose pods a migration still owns).
   */
  private async migrationGone(vm: VirtualMachine): Promise<boolean> {
    const named = vm.status?.migration;
    const { migrations } = this.deps;
    if (!migrations || !named || named.phase === "Succeeded" || named.phase === "Failed")
      return false;
    const ns = vm.metadata.namespace ?? "";
    if (migrations.get(named.name, ns)) return false;
    try {
      await this.deps.client.get(paths.migration(ns, named.name));
      return false;
    } catch (err) {
      if (isNotFound(err)) return true;
      throw err;
    }
  }

  /** Entries of pods long gone would otherwise stay forever. */
  private pruneLauncherStatus(now: number) {
    for (const [uid, entry] of this.launcherStatus) {
      if (now - entry.at > this.deps.decideConfig.statusPollMs) this.launcherStatus.delete(uid);
    }
  }

  private nodeReady(nodeName: string): boolean | undefined {
    const node = this.deps.nodes.get(nodeName);
    if (!node) return undefined;
    return node.status?.conditions?.find((c) => c.type === "Ready")?.status === "True";
  }

  /**
   * A VM the CRD accepted but zod refuses (e.g. an older CRD, or a rule the schema cannot
   * express): say why on the VM, never crash; a deletion still completes.
   */
  private async reconcileInvalid(
    raw: RawVm,
    pods: ObservedPod[],
    issues: { path: PropertyKey[]; message: string }[],
  ): Promise<ReconcileResult> {
    const { client } = this.deps;
    const ns = raw.metadata.namespace ?? "";
    const name = raw.metadata.name ?? "";
    if (raw.metadata.deletionTimestamp) {
      for (const action of deletionActions(raw.metadata, pods)) {
        this.fence();
        if (action.type === "deletePod") await this.deletePod(ns, action.name, action.uid);
        if (action.type === "removeFinalizer") {
          await client.mergePatch(paths.vm(ns, name), {
            metadata: {
              resourceVersion: raw.metadata.resourceVersion,
              finalizers: (raw.metadata.finalizers ?? []).filter((f) => f !== VM_FINALIZER),
            },
          });
        }
      }
      return {};
    }
    const message = issues
      .map((i) => `${i.path.map(String).join(".") || "(root)"}: ${i.message}`)
      .join("; ");
    const status = (raw.status ?? {}) as VirtualMachineStatus;
    const old = findCondition(status.conditions, CONDITION_FAILURE);
    if (old?.status === "True" && old.reason === "InvalidSpec" && old.message === message)
      return {};
    this.fence();
    const conditions = setCondition(
      status.conditions,
      {
        type: CONDITION_FAILURE,
        status: "True",
        reason: "InvalidSpec",
        message,
        observedGeneration: raw.metadata.generation,
      },
      new Date(),
    );
    await client.mergePatch(`${paths.vm(ns, name)}/status`, {
      metadata: { resourceVersion: raw.metadata.resourceVersion },
      status: { conditions, observedGeneration: raw.metadata.generation },
    });
    this.deps.log.warn({ namespace: ns, vm: name, message }, "invalid VM spec");
    void this.deps.events.record(involved(raw), "Warning", "InvalidSpec", message);
    return {};
  }

  private observePhase(vm: VirtualMachine, after: VirtualMachineStatus) {
    if (!after.phase || after.phase === vm.status?.phase || !vm.metadata.creationTimestamp) return;
    const age = (Date.now() - Date.parse(vm.metadata.creationTimestamp)) / 1000;
    if (Number.isFinite(age))
      this.deps.metrics.phaseTransition.observe({ phase: after.phase }, Math.max(0, age));
  }

  private fence() {
    if (!this.deps.mayAct()) throw new FencedError("not the leader any more; not writing");
  }
}

/** What the current launcher said, or why what it said cannot be used. */
interface LauncherAnswer {
  launcher?: LauncherStatus;
  launcherFault?: { fault: LauncherFault; message: string };
}

const answerOf = ({ launcher, launcherFault }: LauncherAnswer): LauncherAnswer => ({
  ...(launcher ? { launcher } : {}),
  ...(launcherFault ? { launcherFault } : {}),
});

/** The apiserver refused the object for good (quota, admission, validation), not for now. */
function isRejection(err: unknown): err is KubeError {
  return err instanceof KubeError && [400, 403, 422].includes(err.status);
}

function involved(raw: RawVm): InvolvedObject {
  return {
    apiVersion: raw.apiVersion ?? "",
    kind: raw.kind ?? VirtualMachineResource.kind,
    metadata: raw.metadata,
  };
}

function involvedVm(vm: VirtualMachine): InvolvedObject {
  return { apiVersion: vm.apiVersion, kind: vm.kind, metadata: vm.metadata };
}
