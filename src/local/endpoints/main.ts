/**
 * Entry point of the local endpoints controller process (started detached with the control
 * plane by `startLocalEndpoints`): `main.js --endpoints-cluster-dir=<cluster dir>`. Uses the
 * cluster's admin kubeconfig, writes the ready file once its caches have synced, and exits
 * on SIGTERM or SIGINT.
 */
import { rmSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";

// A daemon's log file wants every line, whatever the CLI that started it set.
process.env.KUBEVISOR_LOG_LEVEL = process.env.KUBEVISOR_ENDPOINTS_LOG_LEVEL ?? "info";

const { values } = parseArgs({
  options: { "endpoints-cluster-dir": { type: "string" } },
  strict: true,
});
const clusterDir = values["endpoints-cluster-dir"];
if (!clusterDir) throw new Error("--endpoints-cluster-dir is required");

const { KubeConfig } = await import("@kubernetes/client-node");
const { logger } = await import("../../util/log.js");
const { clusterLayout } = await import("../layout.js");
const { LocalEndpointsController } = await import("./controller.js");
const { endpointsPaths } = await import("./lifecycle.js");

const log = logger("local-endpoints-main");
const paths = endpointsPaths(clusterDir);
const kc = new KubeConfig();
kc.loadFromFile(clusterLayout(clusterDir).kubeconfig);
const controller = new LocalEndpointsController(kc);

let stopping = false;
const stop = (why: string) => {
  if (stopping) return;
  stopping = true;
  log.info({ why }, "stopping");
  rmSync(paths.readyFile, { force: true });
  void controller.stop().finally(() => process.exit(0));
};
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));

try {
  await controller.start();
  writeFileSync(paths.readyFile, `${process.pid}\n`);
} catch (err) {
  if (!stopping) {
    log.fatal({ err }, "local endpoints controller failed to start");
    process.exit(1);
  }
}
