import type https from "node:https";
import { type Cluster, KubeConfig, type User } from "@kubernetes/client-node";
import type { ClientOptions } from "ws";
import { KubeClient, KubeError } from "../../kube/client.js";
import type { ConnectionArgs } from "./args.js";
import { CliError, EXIT, exitCodeFor } from "./errors.js";

export { CliError, exitCodeFor } from "./errors.js";

/**
 * A kubeconfig that also sends kubectl's impersonation headers: client-node knows
 * Impersonate-User but not Impersonate-Group.
 */
class FlagKubeConfig extends KubeConfig {
  impersonateGroups: string[] = [];

  override async applyToHTTPSOptions(opts: https.RequestOptions): Promise<void> {
    await super.applyToHTTPSOptions(opts);
    if (this.impersonateGroups.length === 0) return;
    opts.headers = { ...opts.headers, "Impersonate-Group": this.impersonateGroups };
  }
}

/**
 * The user's kubeconfig, as kubectl reads it (--kubeconfig, else KUBECONFIG, else
 * ~/.kube/config), with kubectl's flags applied on top: --context, --server, --token,
 * --insecure-skip-tls-verify, --as, --as-group.
 */
export function loadKubeConfig(args: ConnectionArgs): KubeConfig {
  const file = new KubeConfig();
  try {
    if (args.kubeconfig) file.loadFromFile(args.kubeconfig);
    else file.loadFromDefault();
  } catch (err) {
    // --server and --token are enough to reach a cluster, as with kubectl.
    if (!args.server)
      throw new CliError(EXIT.usage, `cannot read the kubeconfig: ${(err as Error).message}`);
  }
  if (args.context) file.setCurrentContext(args.context);
  const context = file.getContextObject(file.getCurrentContext());
  const cluster: Cluster = {
    ...(file.getCurrentCluster() ?? { name: "flags", server: "", skipTLSVerify: false }),
    ...(args.server ? { server: args.server } : {}),
    ...(args.insecureSkipTlsVerify
      ? { skipTLSVerify: true, caData: undefined, caFile: undefined }
      : {}),
  };
  let user: User = file.getCurrentUser() ?? { name: "flags" };
  // A token given on the line replaces the kubeconfig's way of signing in, as with kubectl.
  if (args.token) user = { name: user.name, token: args.token };
  if (args.as) user = { ...user, impersonateUser: args.as };
  const kc = new FlagKubeConfig();
  kc.loadFromOptions({
    clusters: [cluster],
    users: [user],
    contexts: [
      {
        name: "current",
        cluster: cluster.name,
        user: user.name,
        ...(context?.namespace ? { namespace: context.namespace } : {}),
      },
    ],
    currentContext: "current",
  });
  kc.impersonateGroups = args.asGroups ?? [];
  return kc;
}

/** -n, else the context's namespace, else "default" (kubectl's order). */
export function namespaceOf(args: ConnectionArgs, kc: KubeConfig): string {
  return args.namespace ?? kc.getContextObject(kc.getCurrentContext())?.namespace ?? "default";
}

export interface Session {
  kc: KubeConfig;
  client: KubeClient;
  namespace: string;
  server: URL;
}

export function session(args: ConnectionArgs): Session {
  const kc = loadKubeConfig(args);
  const cluster = kc.getCurrentCluster();
  if (!cluster?.server)
    throw new CliError(
      EXIT.usage,
      "no API server: the kubeconfig has no current cluster (--server)",
    );
  return {
    kc,
    client: new KubeClient(kc, {
      ...(args.requestTimeoutMs ? { timeoutMs: args.requestTimeoutMs } : {}),
    }),
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

/** Turn the JSON client's errors into CliErrors with the server's own message. */
export function fromKubeError(err: unknown): never {
  if (err instanceof KubeError) {
    // KubeError messages are "METHOD PATH: STATUS message"; the user wants only the message.
    const message = err.message.replace(/^\S+ \S+: \d+ /, "");
    throw new CliError(exitCodeFor(err.status), message);
  }
  throw err;
}
