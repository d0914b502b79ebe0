/** Helpers shared by the migration and drain end-to-end tests. */
import { GUEST_BOOT_MARKER } from "../../src/vmm/guest-image.js";
import { Console, counters, getJson, getVm, kc, kubectl, waitFor, waitForVmPhase } from "./lib.js";

export interface MigrationObject {
  metadata: { name: string };
  status?: {
    phase?: string;
    sourceNode?: string;
    targetNode?: string;
    targetPod?: string;
    downtimeMs?: number;
    totalTimeMs?: number;
    reason?: string;
    message?: string;
    progress?: { dataProcessedBytes?: number };
  };
}

export const MIGRATIONS = "virtualmachinemigrations";

export function migrationManifest(
  ns: string,
  name: string,
  vmName: string,
  spec: Record<string, unknown> = {},
): string {
  return JSON.stringify({
    apiVersion: "kubevisor.io/v1alpha1",
    kind: "VirtualMachineMigration",
    metadata: { name, namespace: ns },
    spec: { vmName, ...spec },
  });
}

export async function applyJson(json: string): Promise<void> {
  const r = await kubectl(["apply", "-f", "-"], json);
  if (r.code !== 0) throw new Error(`kubectl apply: ${r.stderr}`);
}

export async function getMigration(ns: string, name: string): Promise<MigrationObject> {
  return await getJson<MigrationObject>(MIGRATIONS, name, "-n", ns);
}

export async function waitForMigration(
  ns: string,
  name: string,
  phases: string[],
  timeoutMs = 240_000,
): Promise<MigrationObject> {
  return await waitFor(
    `migration ${ns}/${name} to reach ${phases.join("|")}`,
    async () => {
      const m = await getMigration(ns, name);
      return phases.includes(m.status?.phase ?? "Pending") ? m : undefined;
    },
    timeoutMs,
  );
}

/** A running VM with its console attached and a few counter lines seen. */
export async function runningWithConsole(ns: string, name: string) {
  const vm = await waitForVmPhase(ns, name, "Running", 240_000);
  const console = await Console.open(ns, name, vm.status?.ipAddress ?? "");
  await console.waitFor(/kubevisor-counter \d+/);
  return { vm, console };
}

/**
 * After a migration: the VM's new pod serves a console whose counter continues beyond what
 * the old one showed, and whose output holds no boot marker (no reboot happened).
 */
export async function expectCounterContinues(ns: string, name: string, before: Console) {
  const vm = await getVm(ns, name);
  const after = await Console.open(ns, name, vm.status?.ipAddress ?? "");
  try {
    await after.waitFor(/kubevisor-counter \d+/);
    const last = Math.max(...counters(before.output));
    const first = counters(after.output)[0] ?? -1;
    return { last, first, rebooted: after.output.includes(GUEST_BOOT_MARKER) };
  } finally {
    after.close();
  }
}

export async function nodes(): Promise<string[]> {
  const list = await getJson<{ items: { metadata: { name: string } }[] }>("nodes");
  return list.items.map((n) => n.metadata.name).sort();
}

export async function deletePodNow(ns: string, pod: string): Promise<void> {
  await kc("delete", "pod", pod, "-n", ns, "--grace-period=0", "--force", "--wait=false");
}
