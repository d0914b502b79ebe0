import { type ClusterRef, type ControlPlane, startControlPlane } from "../controlplane.js";
import { DEFAULT_CLUSTER, defaultClusterDir } from "../layout.js";
import { type Progress, silentProgress } from "../progress.js";
import {
  prepareRealNetwork,
  REAL_NODES_NETWORK,
  startRealNodes,
  stopRealNodes,
} from "./lifecycle.js";

export interface RealClusterOptions extends ClusterRef {
  progress?: Progress;
  signal?: AbortSignal;
  /** Image archives (OCI or docker) imported into every node besides the pause image. */
  archives?: readonly string[];
  timeoutMs?: number;
}

export interface RealCluster {
  controlPlane: ControlPlane;
  nodes: string[];
  /** Stops the nodes, restores the host, stops the control plane. */
  stop(): Promise<void>;
}

/**
 * The control plane plus two real nodes: network namespace first (the apiserver binds its
 * host address), then the control plane, then containerd + kubelet per node and one
 * kube-proxy. On failure everything this call started is stopped again.
 */
export async function startRealCluster(opts: RealClusterOptions = {}): Promise<RealCluster> {
  const cluster = opts.name ?? DEFAULT_CLUSTER;
  const ref = { cluster, clusterDir: opts.dir ?? defaultClusterDir(cluster) };
  const progress = opts.progress;
  let controlPlane: ControlPlane | undefined;
  try {
    await prepareRealNetwork(ref, progress ?? silentProgress);
    controlPlane = await startControlPlane({
      name: cluster,
      dir: ref.clusterDir,
      network: REAL_NODES_NETWORK,
      ...(progress ? { progress } : {}),
      ...(opts.signal ? { signal: opts.signal } : {}),
    });
    const nodes = await startRealNodes({
      ...ref,
      ...(progress ? { progress } : {}),
      ...(opts.archives ? { archives: opts.archives } : {}),
      ...(opts.timeoutMs ? { timeoutMs: opts.timeoutMs } : {}),
    });
    const cp = controlPlane;
    return {
      controlPlane: cp,
      nodes,
      stop: async () => {
        await stopRealNodes(ref);
        await cp.stop();
      },
    };
  } catch (err) {
    await stopRealNodes(ref).catch(() => {});
    if (controlPlane && !controlPlane.reused) await controlPlane.stop().catch(() => {});
    throw err;
  }
}
