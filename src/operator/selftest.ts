import { KubeConfig } from "@kubernetes/client-node";
import { SUBRESOURCES_GROUP_VERSION } from "../api/subresources.js";
import { KubeClient, paths } from "../kube/client.js";
import { LEASE_NAME } from "./operator.js";

/**
 * `node dist/operator/selftest.js`: the chart's `helm test` pod. Asks the Kubernetes API, with
 * the test pod's own service account, whether the installed operator works: its Deployment
 * has ready replicas, one of them holds the leader Lease, and the aggregated API answers
 * discovery through the kube-apiserver (as `kubectl vm` reaches it). Exit 0 when all hold;
 * otherwise each failure on stderr and exit 1.
 */

export interface SelftestObservation {
  deployment?: { spec?: { replicas?: number }; status?: { readyReplicas?: number } };
  lease?: { spec?: { holderIdentity?: string } };
  /** The leader's pod, when the Lease names one. */
  leaderPod?: { status?: { conditions?: { type: string; status: string }[] } };
  /** GET /apis/subresources.kubevisor.io/v1alpha1, or the error it gave; absent: not asked. */
  discovery?: { resources?: { name: string }[] } | Error;
}

/** Pure: what is wrong with what was observed (empty: the install works). */
export function selftestFailures(o: SelftestObservation, deployment: string): string[] {
  const failures: string[] = [];
  const ready = o.deployment?.status?.readyReplicas ?? 0;
  if (!o.deployment) failures.push(`Deployment ${deployment} not found`);
  else if (ready < 1) failures.push(`Deployment ${deployment} has no ready replica`);
  const holder = o.lease?.spec?.holderIdentity;
  if (!holder) failures.push(`no operator holds the leader Lease ${LEASE_NAME}`);
  else if (!o.leaderPod?.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True"))
    failures.push(`the leader ${holder} is not a ready operator pod`);
  if (o.discovery instanceof Error)
    failures.push(`the aggregated API does not answer: ${o.discovery.message}`);
  else if (o.discovery && !o.discovery.resources?.some((r) => r.name === "virtualmachines/console"))
    failures.push("the aggregated API answers without virtualmachines/console");
  return failures;
}

async function observe(
  client: KubeClient,
  ns: string,
  deployment: string,
  apiserver: boolean,
): Promise<SelftestObservation> {
  const orUndefined = <T>(p: Promise<T>) => p.catch(() => undefined);
  const o: SelftestObservation = {};
  const d = await orUndefined(
    client.get<SelftestObservation["deployment"]>(
      `/apis/apps/v1/namespaces/${ns}/deployments/${deployment}`,
    ),
  );
  if (d) o.deployment = d;
  const lease = await orUndefined(
    client.get<SelftestObservation["lease"]>(paths.lease(ns, LEASE_NAME)),
  );
  if (lease) o.lease = lease;
  const holder = lease?.spec?.holderIdentity;
  const pod = holder
    ? await orUndefined(client.get<SelftestObservation["leaderPod"]>(paths.pod(ns, holder)))
    : undefined;
  if (pod) o.leaderPod = pod;
  if (apiserver) {
    o.discovery = await client
      .get<{ resources?: { name: string }[] }>(`/apis/${SUBRESOURCES_GROUP_VERSION}`)
      .catch((err: unknown) => (err instanceof Error ? err : new Error(String(err))));
  }
  return o;
}

async function main(): Promise<number> {
  const ns = process.env.POD_NAMESPACE ?? "kubevisor-system";
  const deployment = process.env.KUBEVISOR_OPERATOR_DEPLOYMENT ?? "kubevisor-operator";
  const apiserver = process.env.KUBEVISOR_APISERVER_ENABLED !== "false";
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromDefault();
  const client = new KubeClient(kubeConfig);
  try {
    const failures = selftestFailures(await observe(client, ns, deployment, apiserver), deployment);
    for (const f of failures) console.error(`FAIL ${f}`);
    if (failures.length === 0) console.log(`ok: ${deployment} ready, a leader, aggregated API up`);
    return failures.length === 0 ? 0 : 1;
  } finally {
    client.close();
  }
}

if (process.argv[1]?.endsWith("selftest.js")) {
  main().then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(err instanceof Error ? err.stack : String(err));
      process.exit(1);
    },
  );
}
