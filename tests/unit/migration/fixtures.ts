import type { V1Pod } from "@kubernetes/client-node";
import { type LauncherMigrationState, VirtualMachine } from "../../../src/api/index.js";
import type { ObservedPod } from "../../../src/operator/vm/observe.js";

export function vm(overrides: Record<string, unknown> = {}, status: Record<string, unknown> = {}) {
  return VirtualMachine.parse({
    apiVersion: "kubevisor.io/v1alpha1",
    kind: "VirtualMachine",
    metadata: { name: "web", namespace: "default", uid: "uid-web" },
    spec: {
      memory: { size: "256Mi" },
      boot: { kernel: { image: "kubevisor/test-guest:latest" } },
      ...overrides,
    },
    status: {
      phase: "Running",
      nodeName: "node-a",
      launcherPod: "web-launcher-1",
      launchCount: 1,
      ...status,
    },
  });
}

export function pod(name: string, extra: Partial<ObservedPod> = {}): ObservedPod {
  return {
    name,
    uid: `uid-${name}`,
    migrationTarget: false,
    stage: "Running",
    terminating: false,
    ready: true,
    podIP: "127.1.0.1",
    ...extra,
  };
}

export function state(
  role: "source" | "target",
  phase: LauncherMigrationState["phase"],
  extra: Partial<LauncherMigrationState> = {},
): LauncherMigrationState {
  return { role, phase, ...extra };
}

export function sourcePod(spec: unknown): V1Pod {
  return {
    metadata: {
      name: "web-launcher-1",
      annotations: {
        "kubevisor.io/vm-spec": JSON.stringify({ spec }),
        "kubevisor.io/launch": "1",
      },
    },
  };
}
