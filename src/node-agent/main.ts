/**
 * The node agent: `node dist/node-agent/main.js`, one per node (the chart's DaemonSet). It
 * serves the kubelet device plugin for `devices.kubevisor.io/kvm` (agent.ts).
 */
import { logger } from "../util/log.js";
import { NodeAgent } from "./agent.js";
import { nodeAgentSettings } from "./settings.js";

const log = logger("node-agent");

async function main(): Promise<void> {
  const settings = nodeAgentSettings(process.env);
  const agent = new NodeAgent({ ...settings, log });
  const onSignal = (signal: NodeJS.Signals) => {
    log.info({ signal }, "stopping");
    void agent.stop().then(() => process.exit(0));
  };
  process.once("SIGTERM", onSignal);
  process.once("SIGINT", onSignal);
  log.info(settings, "node agent starting");
  await agent.start();
}

main().catch((err: unknown) => {
  log.fatal({ err }, "node agent failed");
  process.exit(1);
});
