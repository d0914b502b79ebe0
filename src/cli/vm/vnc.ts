import { spawn } from "node:child_process";
import type { CommonArgs } from "./args.js";
import { CliError, EXIT, exitCodeFor } from "./errors.js";
import { session, webSocketOptions } from "./kube.js";
import { openStream, Refused, streamUrl } from "./stream.js";
import { openTunnel } from "./tunnel.js";

export type VncArgs = CommonArgs & { port: number; viewer?: string };

/**
 * The viewer's argv: `%h` and `%p` (as in ssh's ProxyCommand) become the host and port;
 * without them the address is appended as `127.0.0.1::PORT`, the form TigerVNC, TightVNC
 * and RealVNC viewers take (a double colon: a port, not a display number). Pure.
 */
export function viewerArgv(viewer: string, port: number): string[] {
  const words = viewer.split(/\s+/).filter(Boolean);
  const placeholders = words.some((w) => w.includes("%h") || w.includes("%p"));
  const filled = words.map((w) => w.replaceAll("%h", "127.0.0.1").replaceAll("%p", String(port)));
  return placeholders ? filled : [...filled, `127.0.0.1::${port}`];
}

/**
 * `kubectl vm vnc NAME [--port P] [--viewer CMD]`: a local port for any VNC viewer, each
 * viewer connection its own session through the API (RBAC: update on virtualmachines/vnc).
 * After a live migration the session ends; a viewer that reconnects (noVNC, or the user)
 * lands on the VM's new launcher through the same port.
 */
export async function runVnc(args: VncArgs): Promise<number> {
  const s = session(args);
  const url = streamUrl(s, args.name, "vnc");
  const options = await webSocketOptions(s.kc);
  // Once up front, so a refusal (not allowed, no such VM, not running) is an error now
  // rather than a listener whose every connection fails.
  try {
    (await openStream(url, options)).close();
  } catch (err) {
    s.client.close();
    const status = err instanceof Refused ? err.status : 0;
    throw new CliError(status ? exitCodeFor(status) : EXIT.failed, (err as Error).message);
  }
  const tunnel = await openTunnel({
    url,
    options,
    port: args.port,
    onRefused: (message) => process.stderr.write(`[vnc connection refused: ${message}]\n`),
  });
  const address = `127.0.0.1:${tunnel.port}`;
  console.log(`VNC for VM ${args.name} on ${address}`);
  try {
    if (args.viewer) {
      const [cmd, ...rest] = viewerArgv(args.viewer, tunnel.port);
      if (!cmd) throw new CliError(EXIT.usage, "--viewer: no command");
      const child = spawn(cmd, rest, { stdio: "inherit" });
      const code = await new Promise<number>((resolve, reject) => {
        child.once("error", (err) =>
          reject(new CliError(EXIT.failed, `--viewer ${cmd}: ${err.message}`)),
        );
        child.once("exit", (c) => resolve(c ?? EXIT.failed));
      });
      return code === 0 ? EXIT.ok : EXIT.failed;
    }
    console.error("Connect a VNC viewer there; Ctrl-C ends.");
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
