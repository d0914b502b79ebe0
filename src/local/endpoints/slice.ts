import type {
  DiscoveryV1EndpointPort,
  V1Endpoint,
  V1EndpointSlice,
  V1Pod,
  V1Service,
  V1ServicePort,
} from "@kubernetes/client-node";

/**
 * The EndpointSlice the local endpoints controller keeps for one Service (pure).
 *
 * Local pods have loopback IPs (127.1.x.y), which the apiserver refuses in IPv4 slices and
 * in Endpoints, so the controller-manager cannot publish them. A dotted quad is a valid
 * FQDN, and the aggregator (--enable-aggregator-routing) dials Addresses[0] of any slice of
 * a Service whatever its addressType: one `addressType: FQDN` slice per Service carrying the
 * loopback pods makes Services with selectors (the aggregated API server's above all) work.
 * Built as the real EndpointSlice controller builds its slices, with only loopback pods.
 */

export const MANAGED_BY = "endpoints.local.kubevisor.io";
export const MANAGED_BY_LABEL = "endpointslice.kubernetes.io/managed-by";
export const SERVICE_NAME_LABEL = "kubernetes.io/service-name";

export const sliceName = (service: string): string => `${service}-local`;

/** 127.0.0.0/8 or ::1: what only a local node hands out, never a real CNI. */
export function isLoopback(ip: string): boolean {
  return /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(ip) || ip === "::1";
}

/** The Service's selector, or undefined when it has none (empty counts as none, as stored). */
export function selectorOf(svc: V1Service): Record<string, string> | undefined {
  const sel = svc.spec?.selector;
  return sel && Object.keys(sel).length > 0 ? sel : undefined;
}

export function selects(selector: Record<string, string>, pod: V1Pod): boolean {
  const labels = pod.metadata?.labels ?? {};
  return Object.entries(selector).every(([k, v]) => labels[k] === v);
}

function podReady(pod: V1Pod): boolean {
  return pod.status?.conditions?.some((c) => c.type === "Ready" && c.status === "True") ?? false;
}

/**
 * A Service port as an endpoint port of this pod: a numeric targetPort (or none: the port
 * itself) as is, a named one looked up among the pod's container ports with the same
 * protocol; undefined when the pod has no such port (the real controller skips it too).
 */
function endpointPort(port: V1ServicePort, pod: V1Pod): DiscoveryV1EndpointPort | undefined {
  const protocol = port.protocol ?? "TCP";
  const target = port.targetPort ?? port.port;
  let number: number | undefined;
  if (typeof target === "number" || /^\d+$/.test(target)) {
    number = Number(target);
  } else {
    for (const c of pod.spec?.containers ?? []) {
      const p = c.ports?.find((p) => p.name === target && (p.protocol ?? "TCP") === protocol);
      if (p) {
        number = p.containerPort;
        break;
      }
    }
  }
  if (number === undefined) return undefined;
  return {
    name: port.name ?? "",
    port: number,
    protocol,
    ...(port.appProtocol ? { appProtocol: port.appProtocol } : {}),
  };
}

function endpointOf(svc: V1Service, pod: V1Pod, ip: string): V1Endpoint {
  const ready = podReady(pod);
  const terminating = pod.metadata?.deletionTimestamp != null;
  const publish = svc.spec?.publishNotReadyAddresses === true;
  const hostname =
    pod.spec?.hostname && pod.spec.subdomain === svc.metadata?.name ? pod.spec.hostname : "";
  return {
    addresses: [ip],
    conditions: {
      ready: publish || (ready && !terminating),
      serving: publish || ready,
      terminating,
    },
    ...(hostname ? { hostname } : {}),
    ...(pod.spec?.nodeName ? { nodeName: pod.spec.nodeName } : {}),
    targetRef: {
      kind: "Pod",
      namespace: pod.metadata?.namespace ?? "",
      name: pod.metadata?.name ?? "",
      uid: pod.metadata?.uid ?? "",
    },
  };
}

/**
 * The desired slice for `svc` given the pods of its namespace, or undefined when there
 * should be none: no selector, or no selected pod with a loopback IP (so on a real cluster
 * this builds nothing). Pods that have finished or have no IP yet are left out; terminating
 * ones stay with `terminating: true`, as the real controller does. Endpoints are sorted by
 * pod name so the result is stable. When named ports resolve differently across pods (the
 * real controller then writes one slice per port set), the set most pods share wins and
 * the other pods are left out.
 */
export function desiredSlice(svc: V1Service, pods: readonly V1Pod[]): V1EndpointSlice | undefined {
  const selector = selectorOf(svc);
  const name = svc.metadata?.name;
  const namespace = svc.metadata?.namespace;
  if (!selector || !name || !namespace) return undefined;
  const groups = new Map<string, { ports: DiscoveryV1EndpointPort[]; endpoints: V1Endpoint[] }>();
  const eligible = pods
    .filter(
      (p) =>
        p.metadata?.namespace === namespace &&
        selects(selector, p) &&
        p.status?.phase !== "Succeeded" &&
        p.status?.phase !== "Failed" &&
        p.status?.podIP !== undefined &&
        isLoopback(p.status.podIP),
    )
    .sort((a, b) => (a.metadata?.name ?? "").localeCompare(b.metadata?.name ?? ""));
  for (const pod of eligible) {
    const ports = (svc.spec?.ports ?? [])
      .map((p) => endpointPort(p, pod))
      .filter((p): p is DiscoveryV1EndpointPort => p !== undefined);
    const key = JSON.stringify(ports);
    const group = groups.get(key) ?? { ports, endpoints: [] };
    group.endpoints.push(endpointOf(svc, pod, pod.status?.podIP ?? ""));
    groups.set(key, group);
  }
  let best: { ports: DiscoveryV1EndpointPort[]; endpoints: V1Endpoint[] } | undefined;
  for (const g of groups.values()) {
    if (!best || g.endpoints.length > best.endpoints.length) best = g;
  }
  if (!best) return undefined;
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name: sliceName(name),
      namespace,
      labels: { [SERVICE_NAME_LABEL]: name, [MANAGED_BY_LABEL]: MANAGED_BY },
      ownerReferences: [
        {
          apiVersion: "v1",
          kind: "Service",
          name,
          uid: svc.metadata?.uid ?? "",
          controller: true,
          blockOwnerDeletion: true,
        },
      ],
    },
    addressType: "FQDN",
    endpoints: best.endpoints,
    ports: best.ports,
  };
}

/**
 * What of a slice this controller decides, in a comparable form: an existing slice needs
 * an update exactly when this differs from the desired one's.
 */
export function sliceFingerprint(s: V1EndpointSlice): string {
  const labels = s.metadata?.labels ?? {};
  return JSON.stringify({
    labels: [labels[SERVICE_NAME_LABEL], labels[MANAGED_BY_LABEL]],
    owners: (s.metadata?.ownerReferences ?? []).map((o) => [o.kind, o.name, o.uid, o.controller]),
    addressType: s.addressType,
    ports: (s.ports ?? []).map((p) => [p.name ?? "", p.port, p.protocol ?? "TCP", p.appProtocol]),
    endpoints: (s.endpoints ?? []).map((e) => [
      e.addresses,
      e.conditions?.ready,
      e.conditions?.serving,
      e.conditions?.terminating,
      e.hostname,
      e.nodeName,
      e.targetRef?.kind,
      e.targetRef?.namespace,
      e.targetRef?.name,
      e.targetRef?.uid,
    ]),
  });
}
