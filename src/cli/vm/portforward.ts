import { spawn } from "node:child_process";
import { pipeline } from "node:stream";
import { createWebSocketStream } from "ws";
import { portForwardPath } from "../../api/subresources.js";
import type { CommonArgs, ConnectionArgs } from "./args.js";
import { CliError, EXIT, exitCodeFor } from "./errors.js";
import { type Session, session, webSocketOptions } from "./kube.js";
import { openStream, Refused } from "./stream.js";
import { openTunnel } from "./tunnel.js";

export type PortForwardArgs = CommonArgs & { localPort: number; guestPort: number; stdio: boolean };
export type SshArgs = CommonArgs & { user?: string; port: number; sshArgs: string[] };

function tunnelUrl(s: Session, name: string, port: number): string {
  const base = `${s.server.origin.replace(/^http/, "ws")}${s.server.pathname.replace(/\/$/, "")}`;
  return `${base}${portForwardPath(s.namespace, name, port)}`;
}

function refusal(err: unknown): CliError {
  const status = err instanceof Refused ? err.status : 0;
  return new CliError(status ? exitCodeFor(status) : EXIT.failed, (err as Error).message);
}

/**
 * One tunnel opened and closed up front, so a refusal (not allowed, no such VM, not running)
 * is an error with its exit code now, not a listener whose every connection fails or an ssh
 * that can only say 255.
 */
async function precheck(url: string, options: Awaited<ReturnType<typeof webSocketOptions>>) {
  try {
    (await openStream(url, options)).close();
  } catch (err) {
    // 4xx is the API's answer (not allowed, no such VM, not running, bad port): final. A
    // guest port not answering yet (5xx, a dropped connection) is not: like kubectl
    // port-forward, keep listening; each connection will say why it failed.
    if (err instanceof Refused && err.status >= 400 && err.status < 500) throw refusal(err);
    process.stderr.write(`[the guest port does not answer yet: ${(err as Error).message}]\n`);
  }
}

/**
 * `kubectl vm port-forward NAME LOCAL:GUEST`: 127.0.0.1:LOCAL, each accepted connection
 * tunnelled to the guest's port through the API. `--stdio` (hidden; ssh's ProxyCommand):
 * one connection on stdin/stdout instead.
 */
export async function runPortForward(args: PortForwardArgs): Promise<number> {
  const s = session(args);
  const url = tunnelUrl(s, args.name, args.guestPort);
  const options = await webSocketOptions(s.kc);
  if (args.stdio) {
    try {
      const ws = await openStream(url, options).catch((err) => {
        throw refusal(err);
      });
      const stream = createWebSocketStream(ws);
      // Done when the guest side ends (its readable end), even while stdin stays open —
      // ssh keeps writing until it sees that end — or when stdin ends and the tunnel closes.
      await new Promise<void>((resolve) => {
        pipeline(process.stdin, stream, () => resolve());
        stream.pipe(process.stdout);
        stream.once("end", () => resolve());
        stream.once("close", () => resolve());
      });
      return EXIT.ok;
    } finally {
      s.client.close();
    }
  }
  try {
    await precheck(url, options);
  } catch (err) {
    s.client.close();
    throw err;
  }
  const tunnel = await openTunnel({
    url,
    options,
    port: args.localPort,
    onRefused: (message) => process.stderr.write(`[connection refused: ${message}]\n`),
  });
  console.log(`Forwarding 127.0.0.1:${tunnel.port} -> VM ${args.name} port ${args.guestPort}`);
  try {
    await new Promise<void>((resolve) => {
      process.once("SIGINT", resolve);
      process.once("SIGTERM", resolve);
    });
    return EXIT.ok;
  } finally {
    await tunnel.close();
    s.client.close();
  }
}

/** Pure: the connection flags again, for the ProxyCommand's own kubectl-vm. */
export function connectionFlags(a: ConnectionArgs, namespace: string): string[] {
  return [
    "-n",
    namespace,
    ...(a.kubeconfig ? ["--kubeconfig", a.kubeconfig] : []),
    ...(a.context ? ["--context", a.context] : []),
    ...(a.server ? ["--server", a.server] : []),
    ...(a.token ? ["--token", a.token] : []),
    ...(a.insecureSkipTlsVerify ? ["--insecure-skip-tls-verify"] : []),
    ...(a.as ? ["--as", a.as] : []),
    ...(a.asGroups ?? []).flatMap((g) => ["--as-group", g]),
  ];
}

/** Pure: quote one word for the shell ssh runs its ProxyCommand with. */
export function shellQuote(word: string): string {
  return /^[A-Za-z0-9_./:=@%+-]+$/.test(word) ? word : `'${word.replaceAll("'", `'\\''`)}'`;
}

/**
 * Pure: the ssh argv. The ProxyCommand is this very program (node + script) in --stdio
 * mode, so keys, known_hosts and options stay the user's own; HostKeyAlias keeps one
 * known_hosts entry per VM however its pod moves. The destination comes before the user's
 * words: OpenSSH reads options after the destination too, and the first word that is not an
 * option starts the remote command (`-- -i key uname -a` works as it reads).
 */
export function sshArgv(args: SshArgs, namespace: string, self: string[]): string[] {
  const proxy = [
    ...self,
    "port-forward",
    "--stdio",
    args.name,
    String(args.port),
    ...connectionFlags(args, namespace),
  ]
    .map(shellQuote)
    .join(" ");
  return [
    "-o",
    `ProxyCommand=${proxy}`,
    "-o",
    `HostKeyAlias=vm.${args.name}.${namespace}`,
    args.user ? `${args.user}@${args.name}` : args.name,
    ...args.sshArgs,
  ];
}

/** `kubectl vm ssh [USER@]NAME [-- ssh args]`: the system ssh through the tunnel. */
export async function runSsh(args: SshArgs): Promise<number> {
  const s = session(args);
  const namespace = s.namespace;
  try {
    await precheck(tunnelUrl(s, args.name, args.port), await webSocketOptions(s.kc));
  } finally {
    s.client.close();
  }
  const self = [process.execPath, ...(process.argv[1] ? [process.argv[1]] : [])];
  // tsx (tests, development) runs the script through a loader: keep it for the child.
  const loader = process.execArgv.filter(
    (a, i, all) => a === "--import" || all[i - 1] === "--import",
  );
  const argv = sshArgv(args, namespace, [self[0] ?? "node", ...loader, ...self.slice(1)]);
  const child = spawn(process.env.KUBEVISOR_SSH ?? "ssh", argv, { stdio: "inherit" });
  return new Promise((resolve, reject) => {
    child.once("error", (err) => reject(new CliError(EXIT.failed, `ssh: ${err.message}`)));
    child.once("exit", (code) => resolve(code ?? EXIT.failed));
  });
}
