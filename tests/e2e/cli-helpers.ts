/**
 * Helpers for the kubectl-vm end-to-end tests: users bound to roles, and waiting for the
 * aggregated API behind them.
 */
import { kc, kubectl, waitFor } from "./lib.js";

export { Cli, kubeconfigAs, run } from "../integration/apiserver/cli.js";

export async function bind(ns: string, user: string, clusterRole: string): Promise<void> {
  await kc(
    "create",
    "rolebinding",
    `${user}-${clusterRole}`,
    "-n",
    ns,
    `--clusterrole=${clusterRole}`,
    `--user=${user}`,
  );
}

/**
 * Waits until the aggregated API is served: the chart's install waits for the operator pod,
 * the APIService turns Available a moment later (once the local endpoints controller has
 * published the pod behind the API server's Service and the aggregator has probed it).
 */
export async function waitForSubresourcesApi(): Promise<void> {
  await waitFor("the subresources API to be available", async () => {
    const r = await kubectl(["get", "--raw", "/apis/subresources.kubevisor.io/v1alpha1"]);
    return r.code === 0 ? true : undefined;
  });
}
