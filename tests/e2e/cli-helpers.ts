/**
 * Helpers for the kubectl-vm end-to-end tests: users bound to roles, and the stand-in for
 * endpoint publication the local cluster lacks (see publishApiServerEndpoints).
 */
import { RELEASE, RELEASE_NAMESPACE } from "../../src/local/product.js";
import { getJson, kc, kubectl, waitFor } from "./lib.js";

export { Cli, kubeconfigAs, run } from "../integration/apiserver/cli.js";

export async function bind(ns: string, user: string, clusterRole: string): Promise<void> {
  await kc(
    "create",
    "rolebinding",
    `${user}-${clusterRole}`,
    "-n",
    ns,
    `--clusterrole=${clusterRole}`,
    `--user=${user}`,
  );
}

/**
 * Local pods have loopback IPs, which the apiserver refuses in IPv4 EndpointSlices, so the
 * controller-manager cannot publish the operator pods behind the API server's Service. The
 * aggregation layer dials Addresses[0] of any slice, and a dotted quad is a valid FQDN: an
 * FQDN slice with the operator pods' IPs stands in until src/local publishes such slices.
 */
export async function publishApiServerEndpoints(): Promise<void> {
  const service = `${RELEASE}-apiserver`;
  const pods = await waitFor("a ready operator pod", async () => {
    const list = await getJson<{
      items: { status: { podIP?: string; conditions?: { type: string; status: string }[] } }[];
    }>("pods", "-n", RELEASE_NAMESPACE, "-l", "app.kubernetes.io/component=operator");
    const ready = list.items.filter(
      (p) =>
        p.status.podIP &&
        p.status.conditions?.some((c) => c.type === "Ready" && c.status === "True"),
    );
    return ready.length > 0 ? ready : undefined;
  });
  const slice = {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: `${service}-loopback`,
      namespace: RELEASE_NAMESPACE,
      labels: {
        "kubernetes.io/service-name": service,
        "endpointslice.kubernetes.io/managed-by": "kubevisor-e2e",
      },
    },
    addressType: "FQDN",
    endpoints: pods.map((p) => ({ addresses: [p.status.podIP], conditions: { ready: true } })),
    ports: [{ name: "https", port: 9443, protocol: "TCP" }],
  };
  const r = await kubectl(["apply", "-f", "-"], JSON.stringify(slice));
  if (r.code !== 0) throw new Error(r.stderr);
  await waitFor("the subresources API to be available", async () => {
    const r = await kubectl(["get", "--raw", "/apis/subresources.kubevisor.io/v1alpha1"]);
    return r.code === 0 ? true : undefined;
  });
}
