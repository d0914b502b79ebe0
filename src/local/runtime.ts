/**
 * The two kinds of node a local cluster runs (src/local/README.md says when to use which):
 * `local`, the fast stand-in (bubblewrap processes on loopback, src/local/node/), and
 * `containerd`, real kubelets with containerd in the project's own network namespace
 * (src/local/containerd/).
 */
export const RUNTIMES = ["local", "containerd"] as const;
export type Runtime = (typeof RUNTIMES)[number];
export const DEFAULT_RUNTIME: Runtime = "local";

export function parseRuntime(value: string | undefined): Runtime {
  if (value === undefined) return DEFAULT_RUNTIME;
  const found = RUNTIMES.find((r) => r === value);
  if (!found) {
    throw new Error(`--runtime must be one of ${RUNTIMES.join(", ")}; got '${value}'`);
  }
  return found;
}
