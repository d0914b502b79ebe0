/**
 * How the operator's entry point turns the aggregated API server on: by environment, so the
 * operator's own flags stay its own. Unset KUBEVISOR_APISERVER_PORT means off (for example
 * an operator run outside the cluster during development).
 */
export interface ApiServerEnvConfig {
  host: string;
  port: number;
  service: string;
}

/** Pure: the environment → settings, or undefined when the server is off. */
export function apiServerConfigFromEnv(
  env: Record<string, string | undefined>,
): ApiServerEnvConfig | undefined {
  const text = env.KUBEVISOR_APISERVER_PORT;
  if (!text) return undefined;
  const port = Number(text);
  if (!Number.isInteger(port) || port < 1 || port > 65535)
    throw new Error(`KUBEVISOR_APISERVER_PORT must be a port number, got "${text}"`);
  return {
    port,
    host: env.KUBEVISOR_APISERVER_HOST ?? env.KUBEVISOR_HTTP_HOST ?? "0.0.0.0",
    service: env.KUBEVISOR_APISERVER_SERVICE ?? "kubevisor-apiserver",
  };
}
