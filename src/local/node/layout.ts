import { join } from "node:path";
import { stateDir } from "../../util/paths.js";

/** Default node names of a local cluster, in start order. */
export const DEFAULT_NODE_NAMES = ["kubevisor-node-1", "kubevisor-node-2"];

/** Everything one local node keeps under `<cluster dir>/nodes/<name>`; pure. */
export function nodeLayout(clusterDir: string, name: string) {
  const dir = join(clusterDir, "nodes", name);
  const pod = (uid: string) => join(dir, "pods", uid);
  return {
    dir,
    pidFile: join(dir, "node.pid"),
    log: join(dir, "node.log"),
    /** Written by the node process once its Node object is registered and Ready. */
    readyFile: join(dir, "ready"),
    cert: join(dir, "pki", "node.crt"),
    key: join(dir, "pki", "node.key"),
    podsDir: join(dir, "pods"),
    podDir: pod,
    volumeDir: (uid: string, volume: string) => join(pod(uid), "volumes", volume),
    /** /etc/hosts, /etc/hostname and friends of one pod. */
    etcDir: (uid: string) => join(pod(uid), "etc"),
    containerDir: (uid: string, container: string) => join(pod(uid), "containers", container),
    /** Process-group id of a running container; what a restarted node cleans up. */
    containerPidFile: (uid: string, container: string) =>
      join(pod(uid), "containers", container, "pid"),
    /** Claim directories of PVCs whose volume is not a host path. */
    claimDir: (namespace: string, claim: string) => join(dir, "claims", namespace, claim),
    logsDir: join(dir, "logs"),
    podLogDir: (namespace: string, podName: string, uid: string) =>
      join(dir, "logs", `${namespace}_${podName}_${uid}`),
    containerLog: (namespace: string, podName: string, uid: string, container: string) =>
      join(dir, "logs", `${namespace}_${podName}_${uid}`, `${container}.log`),
  };
}
export type NodeLayout = ReturnType<typeof nodeLayout>;

/** Pod IP leases, shared by every node of every local cluster on this host. */
export function podIpDir(): string {
  return stateDir("pod-ips");
}
