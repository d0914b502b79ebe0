import type { Server } from "node:http";
import type { KubeConfig, V1Node, V1Pod, V1PodDisruptionBudget } from "@kubernetes/client-node";
import {
  COMPONENT_LAUNCHER,
  GROUP,
  LABEL_COMPONENT,
  VERSION,
  VirtualMachineMigrationResource,
  VirtualMachineResource,
} from "../api/index.js";
import { KubeClient, paths } from "../kube/client.js";
import { Controller } from "../kube/controller.js";
import { Informer } from "../kube/informer.js";
import { LeaderElector } from "../kube/leader.js";
import { logger } from "../util/log.js";
import { productVersion } from "../util/version.js";
import { CaStore, pollIntervalMs, type Trust } from "./certs/ca-store.js";
import { LeafKeeper, OPERATOR_CLIENT_REQUEST } from "./certs/leaf-keeper.js";
import { type CertPolicy, DEFAULT_CERT_POLICY, policyProblem } from "./certs/rotation.js";
import { EventRecorder } from "./events.js";
import { startHttpServer } from "./http.js";
import { LauncherClient } from "./launcher-client.js";
import { OperatorMetrics, vmFacts } from "./metrics.js";
import { DEFAULT_MIGRATION_CONFIG, type MigrationConfig } from "./migration/config.js";
import { MigrationController } from "./migration/controller.js";
import { MigrationLauncherClient } from "./migration/launcher-api.js";
import { MigrationMetrics, migrationFacts } from "./migration/metrics.js";
import { DEFAULT_DECIDE_CONFIG, type DecideConfig } from "./vm/decide.js";
import type { LauncherPodConfig } from "./vm/launcher-pod.js";
import { COMPONENT_PDB } from "./vm/pdb.js";
import { PodIndex } from "./vm/pod-index.js";
import { type RawVm, VmReconciler, type VmReconcilerFaults } from "./vm/reconciler.js";

export const LEASE_NAME = "kubevisor-operator";
/**
 * Parallel VM reconciles. A pass mostly waits on the apiserver, so several run at once;
 * KubeVirt's virt-controller uses 10 for its VM and VMI controllers.
 */
export const DEFAULT_WORKERS = 10;
export const COMPONENT_NAME = "kubevisor-operator";

export interface OperatorOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  launcherImage: string;
  imagePullPolicy?: LauncherPodConfig["imagePullPolicy"];
  imagePullSecrets?: LauncherPodConfig["imagePullSecrets"];
  /** Whether guests may open connections out of their pods (default allow). */
  guestOutbound?: LauncherPodConfig["guestOutbound"];
  identity: string;
  leaderElection: boolean;
  /** Lease timings; client-go's defaults (15 s / 10 s / 2 s) when unset. */
  lease?: { durationMs?: number; renewDeadlineMs?: number; retryPeriodMs?: number };
  workers?: number;
  /** /metrics, /healthz, /readyz; no HTTP server when unset. */
  http?: { port: number; host: string };
  decide?: Partial<DecideConfig>;
  /** Port launchers serve their API on (tests' stand-in launchers may use another). */
  launcherPort?: number;
  /** Live migration: parallel limits and timeouts. */
  migration?: Partial<MigrationConfig>;
  /** Give each VM a NetworkPolicy over its launcher pods (see vm/network-policy.ts). */
  networkPolicy?: boolean;
  /** Certificate lifetimes and the CA rotation's pace (certs/rotation.ts). */
  certificates?: Partial<CertPolicy>;
  /**
   * The leader's hook for CA bundles kept outside the CA Secret (the APIService caBundle):
   * publishes the bundle, answers whether it holds the pending CA (promotion waits for it).
   */
  publishTrust?: (t: Trust) => Promise<boolean>;
  /** Fault injection for tests (e.g. die between a pod create and its UID record). */
  faults?: VmReconcilerFaults;
}

export interface RunningOperator {
  identity: string;
  metrics: OperatorMetrics;
  /** The HTTP port actually bound, when an HTTP server runs. */
  httpPort?: number;
  isLeader(): boolean;
  stop(): Promise<void>;
}

interface Migration {
  metadata?: { namespace?: string };
  spec?: { vmName?: string };
}

/**
 * Starts the operator in this process: caches first (a standby keeps warm ones), then —
 * once it leads, or at once without leader election — the VM controller. Returns a handle
 * that stops everything in order.
 */
export async function startOperator(o: OperatorOptions): Promise<RunningOperator> {
  const log = logger("operator", { identity: o.identity });
  const client = new KubeClient(o.kubeConfig);
  const decideConfig = { ...DEFAULT_DECIDE_CONFIG, ...o.decide };
  const podConfig: LauncherPodConfig = {
    image: o.launcherImage,
    imagePullPolicy: o.imagePullPolicy ?? "IfNotPresent",
    imagePullSecrets: o.imagePullSecrets ?? [],
    guestOutbound: o.guestOutbound ?? "allow",
  };

  const certPolicy = { ...DEFAULT_CERT_POLICY, ...o.certificates };
  const policyError = policyProblem(certPolicy);
  if (policyError) throw new Error(`certificates: ${policyError}`);
  const caStore = await CaStore.open(client, o.namespace, certPolicy, log);
  const certPoll = pollIntervalMs(certPolicy);
  const identity = await LeafKeeper.start(
    caStore,
    certPolicy,
    OPERATOR_CLIENT_REQUEST,
    log,
    certPoll,
  );
  const launcher = new LauncherClient(
    () => identity.clientTls(),
    o.launcherPort ? { port: o.launcherPort } : {},
  );

  const byComponent = (c: string) => `${LABEL_COMPONENT}=${c}`;
  const vms = new Informer<RawVm>(
    client,
    paths.custom(GROUP, VERSION, VirtualMachineResource.plural),
    log,
  );
  const migrations = new Informer<Migration & RawVm>(
    client,
    paths.custom(GROUP, VERSION, VirtualMachineMigrationResource.plural),
    log,
  );
  const pods = new Informer<V1Pod>(client, paths.pods(), log, byComponent(COMPONENT_LAUNCHER));
  const nodes = new Informer<V1Node>(client, paths.nodes(), log);
  const pdbs = new Informer<V1PodDisruptionBudget>(
    client,
    paths.pdbs(),
    log,
    byComponent(COMPONENT_PDB),
  );
  // No Secret informer: the operator reads and writes Secrets by name only, so its
  // ServiceAccount needs no cluster-wide list or watch on them.
  const informers = [vms, migrations, pods, nodes, pdbs];

  // Only the replica that leads reports VMs and migrations: sums over replicas stay true.
  const leads = () => mayAct();
  const metrics = new OperatorMetrics(
    () => (leads() ? vms.list().map(vmFacts) : []),
    productVersion(),
  );
  const events = new EventRecorder(client, COMPONENT_NAME, o.identity, log);
  const podIndex = new PodIndex();

  const migrationLauncher = new MigrationLauncherClient(launcher);
  const migrationMetrics = new MigrationMetrics(metrics.registry, () =>
    leads() ? migrations.list().map(migrationFacts) : [],
  );

  let controller: Controller | undefined;
  let migrationController: Controller | undefined;
  let stopping: Promise<void> | undefined;
  let elector: LeaderElector | undefined;
  let shutDown = false;
  // A pass may act while this replica leads; a voluntary stop lets the passes in flight
  // finish (a created pod gets its UID recorded) before the lease is let go.
  const mayAct = () => controller !== undefined && (elector ? elector.isLeader() : true);

  const reconciler = new VmReconciler({
    client,
    vms,
    pods: podIndex,
    nodes,
    pdbs,
    launcher,
    events,
    metrics,
    trust: () => caStore.trust(),
    certPolicy,
    podConfig,
    decideConfig,
    ...(o.networkPolicy ? { networkPolicy: { operatorNamespace: o.namespace } } : {}),
    ...(o.faults ? { faults: o.faults } : {}),
    mayAct,
    log,
    migrations,
  });

  const migrationReconciler = new MigrationController({
    client,
    migrations,
    vms,
    pods,
    nodes,
    launcher: migrationLauncher,
    events,
    metrics: migrationMetrics,
    podConfig,
    config: { ...DEFAULT_MIGRATION_CONFIG, ...o.migration },
    trust: () => caStore.trust(),
    mayAct,
    log: log.child({ controller: "migration" }),
  });
  migrationReconciler.watch((key) => migrationController?.queue.add(key));

  const enqueue = (namespace: string | undefined, name: string | undefined) => {
    if (namespace && name) controller?.queue.add(`${namespace}/${name}`);
  };
  vms.on("change", (vm) => enqueue(vm.metadata?.namespace, vm.metadata?.name));
  pods.on("add", (pod) => podIndex.upsert(pod));
  pods.on("update", (pod) => podIndex.upsert(pod));
  pods.on("delete", (pod) => podIndex.remove(pod));
  pods.on("change", (pod) => enqueue(pod.metadata?.namespace, PodIndex.vmNameOf(pod)));
  migrations.on("change", (m) => enqueue(m.metadata?.namespace, m.spec?.vmName));
  // A new bundle or signing CA: every launcher Secret is brought up to date at once.
  caStore.onChange(() => {
    for (const vm of vms.list()) enqueue(vm.metadata?.namespace, vm.metadata?.name);
  });
  // A node turning (not) ready matters to the VMs on it; heartbeats alone do not.
  const nodeReady = new Map<string, boolean>();
  nodes.on("change", (node) => {
    const name = node.metadata?.name ?? "";
    const ready = node.status?.conditions?.find((c) => c.type === "Ready")?.status === "True";
    if (nodeReady.get(name) === ready) return;
    nodeReady.set(name, ready);
    for (const vm of vms.list()) {
      if (vm.status?.nodeName === name) enqueue(vm.metadata?.namespace, vm.metadata?.name);
    }
  });

  const startLeading = () => {
    const run = async () => {
      await stopping;
      if (shutDown || controller) return;
      controller = new Controller("vm", (key) => reconciler.reconcile(key), {
        workers: o.workers ?? DEFAULT_WORKERS,
        metrics,
        log: log.child({ controller: "vm" }),
      });
      controller.start();
      // One worker: admission against the parallel limits must see its own decisions.
      migrationController = new Controller(
        "migration",
        (key) => migrationReconciler.reconcile(key),
        { workers: 1, metrics, log: log.child({ controller: "migration" }) },
      );
      migrationController.start();
      for (const key of migrationReconciler.initialKeys()) migrationController.queue.add(key);
      metrics.leading.set(1);
      for (const vm of vms.list()) enqueue(vm.metadata?.namespace, vm.metadata?.name);
    };
    void run();
  };
  const stopLeading = () => {
    const c = controller;
    const mc = migrationController;
    controller = undefined;
    migrationController = undefined;
    metrics.leading.set(0);
    stopping = Promise.all([c?.stop(), mc?.stop()]).then(() => undefined);
  };

  await Promise.all(informers.map((i) => i.start()));
  log.info({ vms: vms.list().length, pods: pods.list().length }, "caches synced");
  metrics.ready.set(1);

  let server: Server | undefined;
  let httpPort: number | undefined;
  if (o.http) {
    const started = await startHttpServer(o.http.port, o.http.host, metrics.registry, {
      healthy: () => !shutDown,
      ready: () => informers.every((i) => i.synced),
    });
    server = started.server;
    httpPort = started.port;
  }

  // Every replica re-reads the CA; only the leader rotates it (certs/ca-store.ts).
  const stopCa = caStore.start(certPoll, () => mayAct() && !shutDown, o.publishTrust);

  if (o.leaderElection) {
    elector = new LeaderElector({
      client,
      namespace: o.namespace,
      name: LEASE_NAME,
      identity: o.identity,
      leaseDurationMs: o.lease?.durationMs,
      renewDeadlineMs: o.lease?.renewDeadlineMs,
      retryPeriodMs: o.lease?.retryPeriodMs,
      onStartedLeading: startLeading,
      onStoppedLeading: stopLeading,
      log,
    });
    elector.start();
  } else {
    startLeading();
  }

  return {
    identity: o.identity,
    metrics,
    ...(httpPort !== undefined ? { httpPort } : {}),
    isLeader: () => mayAct(),
    async stop() {
      shutDown = true;
      stopCa();
      identity.stop();
      // Drain first, still holding the lease: no new keys, passes in flight finish and may
      // write; only then is the lease released for another replica.
      await Promise.all([controller?.stop(), migrationController?.stop()]);
      if (elector) await elector.stop();
      else stopLeading();
      await stopping;
      await events.flush();
      await Promise.all(informers.map((i) => i.stop()));
      await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
      launcher.close();
      client.close();
      log.info("operator stopped");
    },
  };
}
