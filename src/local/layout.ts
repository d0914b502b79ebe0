import { join } from "node:path";
import { stateDir } from "../util/paths.js";

/** The four processes of the control plane, in start order. */
export const COMPONENTS = [
  "etcd",
  "kube-apiserver",
  "kube-controller-manager",
  "kube-scheduler",
] as const;
export type ControlPlaneComponent = (typeof COMPONENTS)[number];

export const DEFAULT_CLUSTER = "default";

/** Where a named cluster keeps its state unless the caller picks a directory. */
export function defaultClusterDir(name: string = DEFAULT_CLUSTER): string {
  return stateDir("cluster", name);
}

/** Every path inside one cluster's state directory; pure, so flag builders can be tested. */
export function clusterLayout(dir: string) {
  const pki = join(dir, "pki");
  const p = (name: string) => join(pki, name);
  return {
    dir,
    /** Ports and versions of the cluster, written at first start and reused after. */
    stateFile: join(dir, "cluster.json"),
    lockFile: join(dir, ".lock"),
    /** The admin kubeconfig users point KUBECONFIG at. */
    kubeconfig: join(dir, "kubeconfig"),
    etcdData: join(dir, "etcd"),
    pki: {
      dir: pki,
      caCert: p("ca.crt"),
      caKey: p("ca.key"),
      frontProxyCaCert: p("front-proxy-ca.crt"),
      frontProxyCaKey: p("front-proxy-ca.key"),
      serviceAccountKey: p("sa.key"),
      serviceAccountPub: p("sa.pub"),
      cert: (name: string) => p(`${name}.crt`),
      key: (name: string) => p(`${name}.key`),
    },
    componentKubeconfig: (c: "kube-controller-manager" | "kube-scheduler") =>
      join(dir, "kubeconfigs", `${c}.kubeconfig`),
    log: (c: ControlPlaneComponent) => join(dir, "logs", `${c}.log`),
    pidFile: (c: ControlPlaneComponent) => join(dir, "run", `${c}.pid`),
  };
}
export type ClusterLayout = ReturnType<typeof clusterLayout>;
