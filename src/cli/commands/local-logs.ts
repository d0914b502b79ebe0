import { createReadStream } from "node:fs";
import { join } from "node:path";
import { defaultClusterDir } from "../../local/layout.js";
import { findPodLogs } from "../../local/node/logs.js";
import type { Command } from "../kubevisor.js";
import { parseLocalArgs } from "./local-args.js";

const USAGE = `usage: kubevisor local logs POD [-c CONTAINER] [-n NAMESPACE] [--name CLUSTER]

Prints a container's log from the local node that ran the pod (all its restarts, in order).
Local nodes serve no kubelet API, so 'kubectl logs' cannot reach them; this reads the same
output from the node's log directory. The container may be omitted when the pod has one.`;

const logs: Command = {
  summary: "print a container's log from a local node",
  async run(args) {
    const { values, positionals } = parseLocalArgs(
      args,
      {
        container: { type: "string", short: "c" },
        namespace: { type: "string", short: "n", default: "default" },
      },
      true,
    );
    const [pod] = positionals;
    if (values.help || !pod) {
      console.log(USAGE);
      return values.help ? 0 : 2;
    }
    const [match] = findPodLogs(defaultClusterDir(values.name), values.namespace, pod);
    if (!match) {
      console.error(
        `kubevisor local logs: no logs of pod ${values.namespace}/${pod} on the local nodes`,
      );
      return 1;
    }
    const container =
      values.container ?? (match.containers.length === 1 ? match.containers[0] : undefined);
    if (!container || !match.containers.includes(container)) {
      const which = values.container
        ? `no container '${values.container}'`
        : "a container name is required";
      console.error(
        `kubevisor local logs: ${which}; choose one of: ${match.containers.join(", ")}`,
      );
      return 1;
    }
    await new Promise<void>((resolve, reject) => {
      createReadStream(join(match.dir, `${container}.log`))
        .on("error", reject)
        .on("end", resolve)
        .pipe(process.stdout, { end: false });
    });
    return 0;
  },
};
export default logs;
