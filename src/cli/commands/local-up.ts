import { startRealCluster } from "../../local/containerd/cluster.js";
import { startControlPlane } from "../../local/controlplane.js";
import { applyCrds, packagedCrdsDir } from "../../local/crds.js";
import { startLocalNodes } from "../../local/node/lifecycle.js";
import { createProgress, formatDuration } from "../../local/progress.js";
import { parseRuntime } from "../../local/runtime.js";
import type { Command } from "../kubevisor.js";
import { parseLocalArgs, shellQuote } from "./local-args.js";

const USAGE = `usage: kubevisor local up [--name NAME] [--runtime local|containerd] [--port PORT]
                          [--crds DIR] [--no-crds] [--no-nodes] [--image-archive FILE]...

Starts etcd, kube-apiserver, kube-controller-manager and kube-scheduler (building them first
if they are not cached), or reuses the cluster if it already runs, then applies the CRDs
(default: the package's crds/ directory) and starts two nodes.
  --runtime local       stand-in nodes: sandboxed processes on loopback (default, fast)
  --runtime containerd  real nodes: kubelet + containerd + CNI + kube-proxy in a network
                        namespace of their own (builds them first; needs root)
  --image-archive FILE  (containerd) import this OCI/docker archive into every node
  --port PORT           kube-apiserver port (default: the last one used, else a free one)
  --no-nodes            (local) start no nodes (see 'kubevisor local node')`;

const up: Command = {
  summary: "start the local control plane",
  async run(args) {
    const { values } = parseLocalArgs(args, {
      port: { type: "string" },
      crds: { type: "string" },
      "no-crds": { type: "boolean" },
      "no-nodes": { type: "boolean" },
      runtime: { type: "string" },
      "image-archive": { type: "string", multiple: true },
    });
    if (values.help) {
      console.log(USAGE);
      return 0;
    }
    const port = values.port === undefined ? undefined : Number(values.port);
    if (port !== undefined && !(Number.isInteger(port) && port > 0 && port < 65536)) {
      console.error(`kubevisor local up: --port must be a TCP port, got '${values.port}'`);
      return 2;
    }
    let runtime: ReturnType<typeof parseRuntime>;
    try {
      runtime = parseRuntime(values.runtime);
    } catch (err) {
      console.error(`kubevisor local up: ${(err as Error).message}`);
      return 2;
    }
    const started = Date.now();
    const progress = createProgress();
    // Ctrl-C while starting: stop what was started instead of leaving half a cluster.
    const interrupt = new AbortController();
    const abort = () => interrupt.abort();
    process.once("SIGINT", abort);
    process.once("SIGTERM", abort);
    const real =
      runtime === "containerd"
        ? await startRealCluster({
            name: values.name,
            progress,
            signal: interrupt.signal,
            archives: values["image-archive"] ?? [],
          }).finally(() => {
            process.off("SIGINT", abort);
            process.off("SIGTERM", abort);
          })
        : undefined;
    const cp =
      real?.controlPlane ??
      (await startControlPlane({
        name: values.name,
        ports: port === undefined ? {} : { apiserver: port },
        progress,
        signal: interrupt.signal,
      }).finally(() => {
        process.off("SIGINT", abort);
        process.off("SIGTERM", abort);
      }));
    const how = cp.reused
      ? "already running"
      : `started in ${formatDuration(Date.now() - started)}`;
    console.log(`Control plane '${cp.name}' is ready at ${cp.apiserverUrl} (${how}).`);
    if (!values["no-crds"]) {
      const applied = await applyCrds(cp.kubeconfigPath, values.crds ?? packagedCrdsDir());
      console.log(
        applied.length > 0 ? `CRDs applied: ${applied.length} file(s).` : "No CRDs to apply.",
      );
    }
    if (real) {
      console.log(`Real nodes Ready: ${real.nodes.join(", ")}.`);
    } else if (!values["no-nodes"]) {
      const nodes = await startLocalNodes({ cluster: cp.name, clusterDir: cp.dir });
      console.log(`Local nodes ready: ${nodes.map((n) => n.name).join(", ")}.`);
    }
    console.log(`Point kubectl at it:\n  export KUBECONFIG=${shellQuote(cp.kubeconfigPath)}`);
    return 0;
  },
};
export default up;
