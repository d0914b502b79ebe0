import { KubeConfig } from "@kubernetes/client-node";
import type { ClientOptions } from "ws";
import { KubeClient, KubeError } from "../../kube/client.js";
import { type CommonArgs, EXIT } from "./args.js";

/** The user's kubeconfig, as kubectl reads it: --kubeconfig, else KUBECONFIG, else ~/.kube/config. */
export function loadKubeConfig(args: CommonArgs): KubeConfig {
  const kc = new KubeConfig();
  if (args.kubeconfig) kc.loadFromFile(args.kubeconfig);
  else kc.loadFromDefault();
  if (args.context) kc.setCurrentContext(args.context);
  return kc;
}

/** -n, else the context's namespace, else "default" (kubectl's order). */
export function namespaceOf(args: CommonArgs, kc: KubeConfig): string {
  return args.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? "default";
}

export interface Session {
  kc: KubeConfig;
  client: KubeClient;
  namespace: string;
  server: URL;
}

export function session(args: CommonArgs): Session {
  const kc = loadKubeConfig(args);
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new CliError(EXIT.usage, "the kubeconfig has no current cluster");
  return {
    kc,
    client: new KubeClient(kc),
    namespace: namespaceOf(args, kc),
    server: new URL(cluster.server),
  };
}

/**
 * WebSocket options carrying the user's credentials: client certificate, CA, and the
 * Authorization header for token or exec-plugin users.
 */
export async function webSocketOptions(kc: KubeConfig): Promise<ClientOptions> {
  const opts: {
    ca?: Buffer;
    cert?: Buffer;
    key?: Buffer;
    headers?: Record<string, string>;
    rejectUnauthorized?: boolean;
    servername?: string;
  } = {};
  await kc.applyToHTTPSOptions(opts);
  return {
    ...(opts.ca ? { ca: opts.ca } : {}),
    ...(opts.cert ? { cert: opts.cert } : {}),
    ...(opts.key ? { key: opts.key } : {}),
    ...(opts.headers ? { headers: opts.headers } : {}),
    ...(opts.rejectUnauthorized !== undefined
      ? { rejectUnauthorized: opts.rejectUnauthorized }
      : {}),
    ...(opts.servername ? { servername: opts.servername } : {}),
  } as ClientOptions;
}

/** An error with the exit code it maps to and a message meant for the user. */
export class CliError extends Error {
  constructor(
    readonly exitCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Pure: an HTTP status of a refusal → exit code. */
export function exitCodeFor(status: number): number {
  if (status === 404) return EXIT.notFound;
  if (status === 401 || status === 403) return EXIT.forbidden;
  return EXIT.failed;
}

/** Turn the JSON client's errors into CliErrors with the server's own message. */
export function fromKubeError(err: unknown): never {
  if (err instanceof KubeError) {
    // KubeError messages are "METHOD PATH: STATUS message"; the user wants only the message.
    const message = err.message.replace(/^\S+ \S+: \d+ /, "");
    throw new CliError(exitCodeFor(err.status), message);
  }
  throw err;
}
