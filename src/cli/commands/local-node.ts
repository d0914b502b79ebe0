import { DEFAULT_NODE_NAMES } from "../../local/node/layout.js";
import { localNodesStatus, startLocalNodes, stopLocalNodes } from "../../local/node/lifecycle.js";
import type { Command } from "../kubevisor.js";
import { parseLocalArgs } from "./local-args.js";

const USAGE = `usage: kubevisor local node start|stop|status [--name CLUSTER] [--nodes A,B] [--json]

Local nodes play the kubelet for the local control plane: each registers a Node, renews its
Lease and runs the pods bound to it as bubblewrap sandboxes. 'local up' starts two
(${DEFAULT_NODE_NAMES.join(", ")}) and 'local down' stops them; these subcommands manage them alone.
  --nodes A,B   node names (start: default ${DEFAULT_NODE_NAMES.join(",")}; stop: default all)`;

const node: Command = {
  summary: "start, stop or list the local nodes",
  async run(args) {
    const { values, positionals } = parseLocalArgs(
      args,
      { nodes: { type: "string" }, json: { type: "boolean" } },
      true,
    );
    const [action] = positionals;
    if (values.help || !action) {
      console.log(USAGE);
      return values.help ? 0 : 2;
    }
    const names = values.nodes?.split(",").filter(Boolean);
    const ref = { cluster: values.name };
    switch (action) {
      case "start": {
        const started = await startLocalNodes({ ...ref, names });
        for (const n of started) {
          console.log(
            `${n.name}: ${n.reused ? "already running" : "started"} (pid ${n.pid}, log ${n.log})`,
          );
        }
        return 0;
      }
      case "stop": {
        const r = await stopLocalNodes({ ...ref, names });
        console.log(
          r.stopped.length > 0 ? `Stopped ${r.stopped.join(", ")}.` : "No local node was running.",
        );
        return 0;
      }
      case "status": {
        const nodes = localNodesStatus(ref);
        if (values.json) console.log(JSON.stringify(nodes, null, 2));
        else if (nodes.length === 0) console.log(`cluster ${values.name} has no local nodes`);
        for (const n of values.json ? [] : nodes) {
          const how = n.ready
            ? `ready, pid ${n.pid}`
            : n.running
              ? `starting, pid ${n.pid}`
              : "stopped";
          console.log(`  ${n.name.padEnd(20)} ${how.padEnd(20)} ${n.log}`);
        }
        return nodes.length > 0 && nodes.every((n) => n.ready) ? 0 : 3;
      }
      default:
        console.error(`kubevisor local node: unknown action '${action}'\n\n${USAGE}`);
        return 2;
    }
  },
};
export default node;
