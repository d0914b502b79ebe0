/**
 * Entry point of one local node's process (started detached by `startLocalNodes`):
 * `main.js --node-dir=<cluster dir>/nodes/<name> [--shutdown-grace=SECONDS]`.
 * SIGTERM or SIGINT shut the node down gracefully; the process then exits.
 */
import { basename, dirname } from "node:path";
import { parseArgs } from "node:util";

// The CLI quiets logs to warnings for the terminal; a daemon's log file wants them all.
// Set before the logger module loads, hence the dynamic imports below.
process.env.KUBEVISOR_LOG_LEVEL = process.env.KUBEVISOR_NODE_LOG_LEVEL ?? "info";

const { values } = parseArgs({
  options: { "node-dir": { type: "string" }, "shutdown-grace": { type: "string", default: "15" } },
  strict: true,
});
const nodeDir = values["node-dir"];
if (!nodeDir) throw new Error("--node-dir is required");
const graceMs = Number(values["shutdown-grace"]) * 1000;

const { NodeAgent } = await import("./agent.js");
const { logger } = await import("../../util/log.js");
const log = logger("local-node-main");
const agent = new NodeAgent({ clusterDir: dirname(dirname(nodeDir)), name: basename(nodeDir) });

let stopping = false;
const stop = (why: string) => {
  if (stopping) return; // a second signal must not start a second shutdown
  stopping = true;
  log.info({ why }, "stopping");
  void agent.stop(graceMs).finally(() => process.exit(0));
};
process.on("SIGTERM", () => stop("SIGTERM"));
process.on("SIGINT", () => stop("SIGINT"));

try {
  await agent.start();
} catch (err) {
  log.fatal({ err }, "local node failed to start");
  await agent.stop(0);
  process.exit(1);
}
