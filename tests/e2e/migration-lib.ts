/** Helpers shared by the migration and drain end-to-end tests. */
import { spawn } from "node:child_process";
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
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

/**
 * Host pids whose command matches and whose environment names pod `pod` (local nodes run
 * pods as host processes and give each its POD_NAME).
 */
export function pidsOfPod(pod: string, command: RegExp): number[] {
  return hostProcesses(command).flatMap((p) => (p.env.includes(`POD_NAME=${pod}`) ? [p.pid] : []));
}

/** Every QEMU running VM ns/name, in whichever pod: the guest's `-name guest=ns.name`. */
export function qemusOfGuest(ns: string, name: string): { pid: number; pod: string }[] {
  return hostProcesses(new RegExp(`qemu-system.*-name guest=${ns}\\.${name}( |$)`)).map((p) => ({
    pid: p.pid,
    pod: p.env.find((e) => e.startsWith("POD_NAME="))?.slice("POD_NAME=".length) ?? "",
  }));
}

function hostProcesses(command: RegExp): { pid: number; env: string[] }[] {
  const found: { pid: number; env: string[] }[] = [];
  for (const entry of readdirSync("/proc")) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const cmdline = readFileSync(join("/proc", entry, "cmdline"), "utf8").replaceAll("\0", " ");
      if (!command.test(cmdline)) continue;
      const env = readFileSync(join("/proc", entry, "environ"), "utf8").split("\0");
      found.push({ pid: Number(entry), env });
    } catch {
      // The process ended while we looked.
    }
  }
  return found;
}

/**
 * Resolves once a watch on migration ns/name (which must exist) shows `phase`: as soon as
 * the API says so, not on a poll's schedule (TargetReady lasts only as long as one status
 * write). The watch prints the current state first, so a phase already reached counts.
 */
export function phaseSeen(ns: string, name: string, phase: string, timeoutMs = 120_000) {
  const watch = spawn(
    "kubectl",
    ["get", MIGRATIONS, name, "-n", ns, "-w", "-o", 'jsonpath={.status.phase}{"\\n"}'],
    { stdio: ["ignore", "pipe", "ignore"] },
  );
  return new Promise<void>((resolve, reject) => {
    let buffered = "";
    const timer = setTimeout(() => {
      watch.kill();
      reject(new Error(`migration ${ns}/${name} never showed ${phase}`));
    }, timeoutMs);
    watch.once("exit", () => {
      clearTimeout(timer);
      reject(new Error(`the watch on migration ${ns}/${name} ended before ${phase}`));
    });
    watch.stdout.on("data", (chunk: Buffer) => {
      buffered += chunk.toString();
      if (buffered.split("\n").includes(phase)) {
        clearTimeout(timer);
        watch.kill();
        resolve();
      }
    });
  });
}
