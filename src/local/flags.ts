import { SERVICE_RANGE } from "./certs.js";
import type { ClusterLayout, ControlPlaneComponent } from "./layout.js";

/** Loopback only: nothing of the local control plane is reachable from elsewhere. */
export const HOST = "127.0.0.1";

export interface Ports {
  etcdClient: number;
  etcdPeer: number;
  apiserver: number;
  controllerManager: number;
  scheduler: number;
}

export const PORT_ROLES: Record<keyof Ports, string> = {
  etcdClient: "etcd client port",
  etcdPeer: "etcd peer port",
  apiserver: "kube-apiserver secure port",
  controllerManager: "kube-controller-manager secure port",
  scheduler: "kube-scheduler secure port",
};

export function apiserverUrl(ports: Ports, host: string = HOST): string {
  return `https://${host}:${ports.apiserver}`;
}

/**
 * Where the apiserver listens and what it advertises. Stand-in nodes: loopback. Real nodes:
 * the host end of the project's veth (src/local/containerd/plan.ts), which pods reach through
 * the `kubernetes` Service, and the kubelets are dialled by their InternalIP with a client
 * certificate, verifying their serving certificates against the cluster CA.
 */
export interface ApiserverNetwork {
  address: string;
  realNodes: boolean;
}
export const LOOPBACK_NETWORK: ApiserverNetwork = { address: HOST, realNodes: false };

export function etcdArgs(l: ClusterLayout, ports: Ports): string[] {
  const client = `http://${HOST}:${ports.etcdClient}`;
  const peer = `http://${HOST}:${ports.etcdPeer}`;
  return [
    "--name=kubevisor",
    `--data-dir=${l.etcdData}`,
    `--listen-client-urls=${client}`,
    `--advertise-client-urls=${client}`,
    `--listen-peer-urls=${peer}`,
    `--initial-advertise-peer-urls=${peer}`,
    `--initial-cluster=kubevisor=${peer}`,
    // A disposable local cluster: losing the last writes on power loss is fine, and fsync
    // dominates apiserver latency otherwise.
    "--unsafe-no-fsync",
    "--log-level=warn",
  ];
}

export function apiserverArgs(
  l: ClusterLayout,
  ports: Ports,
  net: ApiserverNetwork = LOOPBACK_NETWORK,
): string[] {
  const { pki } = l;
  const kubelets = net.realNodes
    ? [
        // Never resolve node names: the host's resolver would ask off the machine.
        "--kubelet-preferred-address-types=InternalIP",
        `--kubelet-client-certificate=${pki.cert("apiserver-kubelet-client")}`,
        `--kubelet-client-key=${pki.key("apiserver-kubelet-client")}`,
        `--kubelet-certificate-authority=${pki.caCert}`,
      ]
    : [];
  return [
    `--etcd-servers=http://${HOST}:${ports.etcdClient}`,
    `--bind-address=${net.address}`,
    `--secure-port=${ports.apiserver}`,
    // Mandatory on hosts without a default route (the apiserver exits otherwise); it is also
    // what the `kubernetes` Service's endpoints will say.
    `--advertise-address=${net.address}`,
    ...kubelets,
    `--tls-cert-file=${pki.cert("apiserver")}`,
    `--tls-private-key-file=${pki.key("apiserver")}`,
    `--client-ca-file=${pki.caCert}`,
    "--authorization-mode=Node,RBAC",
    "--allow-privileged=true",
    `--service-cluster-ip-range=${SERVICE_RANGE}`,
    "--service-account-issuer=https://kubernetes.default.svc.cluster.local",
    `--service-account-key-file=${pki.serviceAccountPub}`,
    `--service-account-signing-key-file=${pki.serviceAccountKey}`,
    // Aggregation layer: the apiserver proxies to extension API servers as front-proxy-client
    // and they trust only the front-proxy CA for the identity headers.
    `--requestheader-client-ca-file=${pki.frontProxyCaCert}`,
    "--requestheader-allowed-names=front-proxy-client",
    "--requestheader-username-headers=X-Remote-User",
    "--requestheader-group-headers=X-Remote-Group",
    "--requestheader-extra-headers-prefix=X-Remote-Extra-",
    `--proxy-client-cert-file=${pki.cert("front-proxy-client")}`,
    `--proxy-client-key-file=${pki.key("front-proxy-client")}`,
    // No kube-proxy here, so service IPs go nowhere; dial the endpoints directly.
    "--enable-aggregator-routing=true",
    "--profiling=false",
  ];
}

/** Flags the controller-manager and the scheduler share: identity, serving, loopback. */
function componentCommon(
  l: ClusterLayout,
  c: "kube-controller-manager" | "kube-scheduler",
  port: number,
): string[] {
  const kubeconfig = l.componentKubeconfig(c);
  return [
    `--kubeconfig=${kubeconfig}`,
    // Delegated authn/authz for their /healthz and /metrics; without these they log errors
    // and treat every request as anonymous.
    `--authentication-kubeconfig=${kubeconfig}`,
    `--authorization-kubeconfig=${kubeconfig}`,
    `--bind-address=${HOST}`,
    `--secure-port=${port}`,
    `--tls-cert-file=${l.pki.cert(c)}`,
    `--tls-private-key-file=${l.pki.key(c)}`,
    "--leader-elect=false",
    "--profiling=false",
  ];
}

export function controllerManagerArgs(l: ClusterLayout, ports: Ports): string[] {
  return [
    ...componentCommon(l, "kube-controller-manager", ports.controllerManager),
    "--controllers=*",
    // Each controller gets its own service account, so RBAC denials name the controller.
    "--use-service-account-credentials=true",
    `--service-account-private-key-file=${l.pki.serviceAccountKey}`,
    `--root-ca-file=${l.pki.caCert}`,
    `--service-cluster-ip-range=${SERVICE_RANGE}`,
    // Lets the CSR signer issue certificates (local nodes may ask for some).
    `--cluster-signing-cert-file=${l.pki.caCert}`,
    `--cluster-signing-key-file=${l.pki.caKey}`,
    "--cluster-name=kubevisor",
  ];
}

export function schedulerArgs(l: ClusterLayout, ports: Ports): string[] {
  return componentCommon(l, "kube-scheduler", ports.scheduler);
}

export function componentArgs(
  c: ControlPlaneComponent,
  l: ClusterLayout,
  ports: Ports,
  net: ApiserverNetwork = LOOPBACK_NETWORK,
): string[] {
  switch (c) {
    case "etcd":
      return etcdArgs(l, ports);
    case "kube-apiserver":
      return apiserverArgs(l, ports, net);
    case "kube-controller-manager":
      return controllerManagerArgs(l, ports);
    case "kube-scheduler":
      return schedulerArgs(l, ports);
  }
}

/** The health endpoint each component is polled on until it answers 200. */
export function healthUrl(c: ControlPlaneComponent, ports: Ports, apiHost: string = HOST): string {
  switch (c) {
    case "etcd":
      return `http://${HOST}:${ports.etcdClient}/health`;
    case "kube-apiserver":
      return `${apiserverUrl(ports, apiHost)}/readyz`;
    case "kube-controller-manager":
      return `https://${HOST}:${ports.controllerManager}/healthz`;
    case "kube-scheduler":
      return `https://${HOST}:${ports.scheduler}/healthz`;
  }
}
