import { DEFAULT_KVM_DEVICES, KVM_DEVICE_PATH } from "./kvm-plugin.js";

/** The node agent's environment (the chart's DaemonSet sets these). */
export interface NodeAgentSettings {
  pluginDir: string;
  kvmCheckPath: string;
  kvmHostPath: string;
  devices: number;
  pollMs: number;
}

export const DEFAULT_PLUGIN_DIR = "/var/lib/kubelet/device-plugins";

export class NodeAgentSettingsError extends Error {
  override name = "NodeAgentSettingsError";
}

export function nodeAgentSettings(env: NodeJS.ProcessEnv): NodeAgentSettings {
  return {
    pluginDir: env.KUBEVISOR_DEVICE_PLUGIN_DIR || DEFAULT_PLUGIN_DIR,
    // In the DaemonSet the host's /dev is mounted read-only at /host/dev.
    kvmCheckPath: env.KUBEVISOR_KVM_CHECK_PATH || KVM_DEVICE_PATH,
    kvmHostPath: env.KUBEVISOR_KVM_HOST_PATH || KVM_DEVICE_PATH,
    devices: positiveInt(env, "KUBEVISOR_KVM_DEVICES", DEFAULT_KVM_DEVICES, 10_000),
    pollMs: positiveInt(env, "KUBEVISOR_NODE_AGENT_POLL_MS", 1000, 60_000),
  };
}

function positiveInt(env: NodeJS.ProcessEnv, name: string, fallback: number, max: number) {
  const raw = env[name];
  if (raw === undefined || raw === "") return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 1 || value > max) {
    throw new NodeAgentSettingsError(`${name} must be a whole number 1..${max}, got "${raw}"`);
  }
  return value;
}
