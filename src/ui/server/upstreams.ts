/** The two ways the UI server reaches the Kubernetes API. */
import { readFileSync } from "node:fs";
import type https from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Upstream } from "./proxy.js";

/** Local mode: every request carries the kubeconfig's own credentials (as `kubectl proxy`). */
export function kubeconfigUpstream(kc: KubeConfig): Upstream {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new Error("kubeconfig has no current cluster");
  return {
    server: new URL(cluster.server),
    async requestOptions() {
      const opts: https.RequestOptions = {};
      await kc.applyToHTTPSOptions(opts);
      return opts;
    },
  };
}

const SERVICE_ACCOUNT_CA = "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt";

/**
 * Cluster mode: the API server is verified with the pod's service-account CA, and each
 * request carries only the signed-in user's token, never the pod's own.
 */
export function inClusterUpstream(env = process.env, caFile = SERVICE_ACCOUNT_CA): Upstream {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT ?? "443";
  if (!host) throw new Error("KUBERNETES_SERVICE_HOST is not set: not running in a cluster");
  const ca = readFileSync(caFile);
  const server = new URL(`https://${host.includes(":") ? `[${host}]` : host}:${port}`);
  return {
    server,
    async requestOptions(bearer?: string) {
      return { ca, headers: bearer ? { authorization: `Bearer ${bearer}` } : {} };
    },
  };
}
