/**
 * The in-cluster UI (chart value `ui.enabled`): serves the app and forwards each API call
 * with the token the signed-in user gave; UI_PORT (default 8080).
 */
import { logger } from "../../util/log.js";
import { defaultAssetsDir, loadAssets } from "./assets.js";
import { createUiServer } from "./server.js";
import { inClusterUpstream } from "./upstreams.js";

const log = logger("ui");
const port = Number(process.env.UI_PORT ?? 8080);
const host = process.env.UI_HOST || undefined;
const { server } = createUiServer({
  mode: { kind: "cluster" },
  upstream: inClusterUpstream(process.env, process.env.UI_CA_FILE),
  assets: loadAssets(process.env.UI_ASSETS_DIR ?? defaultAssetsDir()),
  namespace: process.env.UI_DEFAULT_NAMESPACE ?? "default",
});
server.listen(port, host, () => log.info({ host, port }, "UI listening"));
for (const signal of ["SIGTERM", "SIGINT"] as const)
  process.once(signal, () => server.close(() => process.exit(0)));
