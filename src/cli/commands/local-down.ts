import { stopRealNodes } from "../../local/containerd/lifecycle.js";
import { stopControlPlane } from "../../local/controlplane.js";
import { defaultClusterDir } from "../../local/layout.js";
import { stopLocalNodes } from "../../local/node/lifecycle.js";
import type { Command } from "../kubevisor.js";
import { parseLocalArgs } from "./local-args.js";

const USAGE = `usage: kubevisor local down [--name NAME] [--purge]

Stops every process of the cluster (SIGTERM, then SIGKILL after 10 s). Its data,
certificates and kubeconfig are kept for the next 'up' unless --purge is given. Real nodes
(--runtime containerd) are ended with their pods, and the host is put back as it was:
network namespace and veth, cgroups, mounts, the kernel settings the kubelet changed.`;

const down: Command = {
  summary: "stop the local control plane",
  async run(args) {
    const { values } = parseLocalArgs(args, { purge: { type: "boolean" } });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    // Nodes first: they end their pods and report it while the apiserver still runs.
    const nodes = await stopLocalNodes({ cluster: values.name });
    if (nodes.stopped.length > 0) console.log(`Stopped local nodes ${nodes.stopped.join(", ")}.`);
    const real = await stopRealNodes({
      cluster: values.name,
      clusterDir: defaultClusterDir(values.name),
    });
    if (real.processes > 0) console.log(`Stopped real nodes (${real.processes} processes).`);
    if (real.cgroupsLeft.length > 0) {
      console.error(`Could not remove cgroups: ${real.cgroupsLeft.join(", ")}`);
    }
    const result = await stopControlPlane({ name: values.name, purge: values.purge });
    if (result.stopped.length === 0) {
      console.log(`Control plane '${values.name}' is not running.`);
    } else {
      const killed = result.killed.length > 0 ? ` (killed: ${result.killed.join(", ")})` : "";
      console.log(`Stopped ${result.stopped.join(", ")}${killed}.`);
    }
    if (values.purge) console.log(`Deleted the state of '${values.name}'.`);
    return 0;
  },
};
export default down;
