import { spawn } from "node:child_process";
import type { AddressInfo } from "node:net";
import { defaultAssetsDir, embeddedAssets, loadAssets } from "../../ui/server/assets.js";
import { EMBEDDED_ASSETS } from "../../ui/server/embedded.js";
import { loopbackHosts } from "../../ui/server/guard.js";
import { createUiServer } from "../../ui/server/server.js";
import { kubeconfigUpstream } from "../../ui/server/upstreams.js";
import type { ConnectionArgs } from "./args.js";
import { CliError, EXIT } from "./errors.js";
import { loadKubeConfig, namespaceOf } from "./kube.js";

/**
 * `kubectl vm ui`: the web UI on 127.0.0.1, forwarding to the cluster with the user's own
 * kubeconfig. The URL is printed on a line of its own (scripts and tests read it).
 */
export async function runUi(args: ConnectionArgs & { port?: number; noBrowser: boolean }) {
  const kc = loadKubeConfig(args);
  const assets = EMBEDDED_ASSETS
    ? embeddedAssets(EMBEDDED_ASSETS)
    : loadAssets(process.env.KUBEVISOR_UI_ASSETS ?? defaultAssetsDir());
  // Hosts are known only once the port is; the guard reads them per request.
  const hosts: string[] = [];
  const ui = createUiServer({
    mode: { kind: "local", hosts },
    upstream: kubeconfigUpstream(kc),
    assets,
    namespace: namespaceOf(args, kc),
  });
  await new Promise<void>((resolve, reject) => {
    ui.server.once("error", (err: NodeJS.ErrnoException) =>
      reject(
        new CliError(
          EXIT.failed,
          `cannot listen on 127.0.0.1:${args.port ?? 0}: ${err.code ?? err.message}`,
        ),
      ),
    );
    ui.server.listen(args.port ?? 0, "127.0.0.1", resolve);
  });
  const port = (ui.server.address() as AddressInfo).port;
  hosts.push(...loopbackHosts(port));
  const url = `http://127.0.0.1:${port}${ui.loginPath}`;
  console.error("Kubevisor UI: open this URL (it works once); Ctrl-C stops the UI");
  console.log(url);
  if (!args.noBrowser) openBrowser(url);
  await new Promise<void>((resolve) => {
    for (const signal of ["SIGINT", "SIGTERM"] as const) process.once(signal, () => resolve());
  });
  ui.server.close();
  ui.server.closeAllConnections();
  return EXIT.ok;
}

function openBrowser(url: string) {
  const opener = process.platform === "darwin" ? "open" : "xdg-open";
  const child = spawn(opener, [url], { stdio: "ignore", detached: true });
  child.on("error", () => console.error(`(no ${opener} here: open the URL yourself)`));
  child.unref();
}
