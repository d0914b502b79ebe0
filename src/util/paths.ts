import { homedir } from "node:os";
import { join } from "node:path";

/**
 * Built artefacts (Kubernetes binaries, Helm, the test guest) live outside the repository,
 * keyed by version, so a fresh clone reuses them and `git clean` never throws them away.
 */
export function cacheDir(...parts: string[]): string {
  const base =
    process.env.KUBEVISOR_CACHE ??
    join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "kubevisor");
  return join(base, ...parts);
}

/** Runtime state of the local cluster (certificates, data dirs, pids, logs). */
export function stateDir(...parts: string[]): string {
  const base =
    process.env.KUBEVISOR_STATE ??
    join(process.env.XDG_STATE_HOME ?? join(homedir(), ".local", "state"), "kubevisor");
  return join(base, ...parts);
}
