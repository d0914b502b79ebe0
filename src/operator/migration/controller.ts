import type { V1Node, V1Pod } from "@kubernetes/client-node";
import {
  ANNOTATION_MIGRATION_TARGET,
  GROUP,
  VERSION,
  VirtualMachine,
  VirtualMachineMigration,
  VirtualMachineMigrationResource,
} from "../../api/index.js";
import { isAlreadyExists, paths } from "../../kube/client.js";
import type { ReconcileResult } from "../../kube/controller.js";
import type { Informer } from "../../kube/informer.js";
import { PodIndex } from "../vm/pod-index.js";
import { readMigratability } from "./claim-modes.js";
import { evacuationMigration, planEvacuation } from "./drain.js";
import type { Migratability } from "./migratable.js";
import { MigrationReconciler, type MigrationReconcilerDeps } from "./reconciler.js";
import { ANNOTATION_MIGRATION } from "./target-pod.js";

const NODE_PREFIX = "node/";
/** A cordoned node is looked at again this often while VMs remain on it. */
const DRAIN_RECHECK_MS = 5000;

export interface MigrationControllerDeps extends MigrationReconcilerDeps {
  nodes: Informer<V1Node>;
}

/**
 * The migration controller's reconcile: `ns/name` keys are VirtualMachineMigrations,
 * `node/NAME` keys are cordoned nodes to empty. `watch` turns informer events into keys.
 */
export class MigrationController {
  private readonly migrations: MigrationReconciler;

  constructor(private readonly deps: MigrationControllerDeps) {
    this.migrations = new MigrationReconciler(deps);
  }

  reconcile(key: string): Promise<ReconcileResult> {
    return key.startsWith(NODE_PREFIX)
      ? this.reconcileNode(key.slice(NODE_PREFIX.length))
      : this.migrations.reconcile(key);
  }

  /** Route every change that can move a migration or a drain to the right key. */
  watch(enqueue: (key: string) => void) {
    const { migrations, vms, pods, nodes } = this.deps;
    const key = (ns?: string, name?: string) => ns && name && enqueue(`${ns}/${name}`);
    migrations.on("change", (m) => key(m.metadata.namespace, m.metadata.name));
    vms.on("change", (vm) => {
      const active = (vm.status?.migration as { name?: string } | undefined)?.name;
      key(vm.metadata.namespace, active);
      const node = vm.status?.nodeName as string | undefined;
      if (node && nodes.get(node)?.spec?.unschedulable) enqueue(`${NODE_PREFIX}${node}`);
    });
    pods.on("change", (pod: V1Pod) => {
      const ns = pod.metadata?.namespace;
      if (pod.metadata?.annotations?.[ANNOTATION_MIGRATION_TARGET] === "true") {
        key(ns, pod.metadata.annotations[ANNOTATION_MIGRATION]);
      }
      const vmName = PodIndex.vmNameOf(pod);
      const vm = vmName ? vms.get(vmName, ns) : undefined;
      key(ns, (vm?.status?.migration as { name?: string } | undefined)?.name);
    });
    nodes.on("change", (node) => {
      if (node.spec?.unschedulable) enqueue(`${NODE_PREFIX}${node.metadata?.name}`);
    });
  }

  /** All keys worth a first look after gaining the lead. */
  initialKeys(): string[] {
    const keys = this.deps.migrations
      .list()
      .map((m) => `${m.metadata.namespace}/${m.metadata.name}`);
    for (const node of this.deps.nodes.list()) {
      if (node.spec?.unschedulable) keys.push(`${NODE_PREFIX}${node.metadata?.name}`);
    }
    return keys;
  }

  /** A cordoned node: migrate its VMs away (the drain's evictions wait on the budgets). */
  private async reconcileNode(nodeName: string): Promise<ReconcileResult> {
    const { nodes, vms, migrations, client, events, log, config } = this.deps;
    if (!nodes.get(nodeName)?.spec?.unschedulable) return {};
    const parsedVms = vms.list().flatMap((raw) => {
      const p = VirtualMachine.safeParse(raw);
      return p.success && p.data.status?.nodeName === nodeName ? [p.data] : [];
    });
    const parsedMigrations = migrations.list().flatMap((raw) => {
      const p = VirtualMachineMigration.safeParse(raw);
      return p.success ? [p.data] : [];
    });
    const verdicts = new Map<string, Migratability>();
    // Read live for this decision; the VM's Migratable condition is the VM reconciler's.
    for (const vm of parsedVms) {
      verdicts.set(vm.metadata.name ?? "", await readMigratability(client, vm));
    }
    const plan = planEvacuation(
      nodeName,
      parsedVms,
      parsedMigrations,
      (vm) =>
        verdicts.get(vm.metadata.name ?? "") ?? { migratable: false, message: "not evaluated" },
      config.evacuationAttempts,
    );
    for (const { vm, name } of plan.create) {
      const ns = vm.metadata.namespace ?? "";
      const body = evacuationMigration(vm, name, nodeName);
      if (!this.deps.mayAct()) return {};
      await client
        .create(paths.custom(GROUP, VERSION, VirtualMachineMigrationResource.plural, ns), body)
        .then(() => {
          log.info(
            { namespace: ns, vm: vm.metadata.name, node: nodeName, migration: name },
            "evacuating",
          );
          void events.record(
            vm,
            "Normal",
            "Evacuating",
            `node ${nodeName} is draining: created migration ${name}`,
          );
        })
        .catch((err) => {
          if (!isAlreadyExists(err)) throw err;
        });
    }
    for (const { vm, message } of plan.blocked) {
      void events.record(
        vm,
        "Warning",
        "EvictionBlocked",
        `node ${nodeName} is draining, but the VM ${message}; it keeps running there`,
      );
    }
    const remaining = parsedVms.some((vm) => vm.spec.evictionStrategy !== "None");
    return remaining ? { requeueAfterMs: DRAIN_RECHECK_MS } : {};
  }
}
