import type { z } from "zod";
import {
  API_VERSION,
  GROUP,
  type RunStrategy,
  VERSION,
  VirtualMachineMigrationResource,
  VirtualMachineMigrationSpec,
  VirtualMachineResource,
} from "../api/index.js";
import { MIGRATION_KIND_PLURAL, type VmAction } from "../api/subresources.js";
import { type KubeClient, paths } from "../kube/client.js";
import { ANNOTATION_RESTART_REQUESTED, ANNOTATION_STATE_REQUEST } from "../operator/vm/requests.js";
import type { UserInfo } from "./auth.js";
import { failure, type Status, success } from "./status.js";

/** The parts of a VirtualMachine the actions look at; the object is read raw. */
export interface VmView {
  metadata: { name: string; namespace: string; annotations?: Record<string, string> };
  spec: { runStrategy?: z.infer<typeof RunStrategy> };
  status?: { phase?: string; migration?: { name: string; phase?: string } };
}

/** Annotation on a migration created through `migrate`: who asked (the server creates it). */
export const ANNOTATION_REQUESTED_BY = `${GROUP}/requested-by`;

/** What an action does to the cluster, decided without touching it. */
export type Plan =
  | { kind: "patchVm"; patch: unknown; message: string }
  | { kind: "createMigration"; body: unknown }
  | { kind: "answer"; status: Status };

/**
 * Pure: start/stop/restart as documented in src/operator/vm/requests.ts. Always,
 * RerunOnFailure and Halted VMs run or not by spec.runStrategy (stop → Halted, start →
 * Always); Manual and Once VMs, which have no standing wish to run, take a one-shot
 * state-request annotation; restart is a fresh restart-requested timestamp.
 */
export function planStateChange(vm: VmView, action: Exclude<VmAction, "migrate">, now: Date): Plan {
  const name = vm.metadata.name;
  const strategy = vm.spec.runStrategy ?? "Always";
  const annotate = (key: string, value: string, message: string): Plan => ({
    kind: "patchVm",
    patch: { metadata: { annotations: { [key]: value } } },
    message,
  });
  if (action === "restart") {
    // The operator starts a stopped VM on restart, except a Halted one (src/operator/README.md).
    if (strategy === "Halted") return conflict(`VM ${name} is halted; use start`);
    return annotate(
      ANNOTATION_RESTART_REQUESTED,
      now.toISOString(),
      `restart of VM ${name} requested`,
    );
  }
  if (strategy === "Manual" || strategy === "Once") {
    return annotate(ANNOTATION_STATE_REQUEST, action, `${action} of VM ${name} requested`);
  }
  const wanted = action === "start" ? "Always" : "Halted";
  if (action === "start" && strategy !== "Halted") {
    return { kind: "answer", status: success(`VM ${name} already runs (runStrategy ${strategy})`) };
  }
  if (action === "stop" && strategy === "Halted") {
    return { kind: "answer", status: success(`VM ${name} is already halted`) };
  }
  return {
    kind: "patchVm",
    patch: { spec: { runStrategy: wanted } },
    message: `VM ${name}: runStrategy set to ${wanted}`,
  };
}

/** Optional body of a migrate request: the migration's tunables. */
export const MigrateOptions = VirtualMachineMigrationSpec.omit({ vmName: true }).partial();

/** Pure: the VirtualMachineMigration for `migrate`, or why there is none. */
export function planMigration(vm: VmView, options: unknown, user: UserInfo): Plan {
  const name = vm.metadata.name;
  if (vm.status?.phase !== "Running") {
    return conflict(`VM ${name} is not running (phase ${vm.status?.phase ?? "unknown"})`);
  }
  if (vm.status.migration && !["Succeeded", "Failed"].includes(vm.status.migration.phase ?? "")) {
    return conflict(`VM ${name} is already migrating (${vm.status.migration.name})`);
  }
  const parsed = MigrateOptions.safeParse(options ?? {});
  if (!parsed.success) {
    return { kind: "answer", status: failure(400, `bad migrate options: ${parsed.error.message}`) };
  }
  return {
    kind: "createMigration",
    body: {
      apiVersion: API_VERSION,
      kind: VirtualMachineMigrationResource.kind,
      metadata: {
        generateName: `${name}-`,
        namespace: vm.metadata.namespace,
        annotations: { [ANNOTATION_REQUESTED_BY]: user.name },
      },
      spec: { ...parsed.data, vmName: name },
    },
  };
}

function conflict(message: string): Plan {
  return { kind: "answer", status: failure(409, message) };
}

/** Carry out a plan with the server's own identity (the user was authorized already). */
export async function execute(client: KubeClient, vm: VmView, plan: Plan): Promise<Status> {
  const { namespace, name } = vm.metadata;
  switch (plan.kind) {
    case "answer":
      return plan.status;
    case "patchVm":
      await client.mergePatch(paths.vm(namespace, name), plan.patch);
      return success(plan.message);
    case "createMigration": {
      const created = await client.create<{ metadata: { name: string } }>(
        paths.custom(GROUP, VERSION, VirtualMachineMigrationResource.plural, namespace),
        plan.body,
      );
      return success(`migration ${created.metadata.name} of VM ${name} created`, {
        name: created.metadata.name,
        group: GROUP,
        kind: MIGRATION_KIND_PLURAL,
      });
    }
  }
}

/** The subresources group is ours; the objects it acts on live in the CRD group. */
export const NOT_FOUND = (name: string) =>
  failure(404, `virtualmachines.${GROUP} "${name}" not found`, {
    name,
    group: GROUP,
    kind: VirtualMachineResource.plural,
  });
