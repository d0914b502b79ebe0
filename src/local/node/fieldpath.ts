import type {
  V1Container,
  V1ObjectFieldSelector,
  V1Pod,
  V1ResourceFieldSelector,
} from "@kubernetes/client-node";
import { QUANTITY_PATTERN } from "../../api/quantity.js";

/**
 * The downward API: pod fields and container resources as strings, exactly as the kubelet
 * renders them for env vars and downwardAPI volume files. Pure.
 */

export interface PodFacts {
  pod: V1Pod;
  nodeName: string;
  podIP: string;
  hostIP: string;
  /** Node allocatable, which stands in for a resource limit the container does not set. */
  allocatable: Record<string, string>;
}

/** `key="value"` lines, sorted, as downwardAPI volumes render whole label/annotation maps. */
export function formatMap(m: Record<string, string> | undefined): string {
  return Object.keys(m ?? {})
    .sort()
    .map((k) => `${k}=${JSON.stringify(m?.[k])}`)
    .join("\n");
}

const SUBSCRIPT = /^metadata\.(labels|annotations)\['(.+)'\]$/;

export function resolveFieldRef(ref: V1ObjectFieldSelector, f: PodFacts): string {
  const { metadata = {}, spec } = f.pod;
  const sub = SUBSCRIPT.exec(ref.fieldPath);
  if (sub) {
    const map = sub[1] === "labels" ? metadata.labels : metadata.annotations;
    return map?.[sub[2] ?? ""] ?? "";
  }
  switch (ref.fieldPath) {
    case "metadata.name":
      return metadata.name ?? "";
    case "metadata.namespace":
      return metadata.namespace ?? "";
    case "metadata.uid":
      return metadata.uid ?? "";
    case "metadata.labels":
      return formatMap(metadata.labels);
    case "metadata.annotations":
      return formatMap(metadata.annotations);
    case "spec.nodeName":
      return f.nodeName;
    case "spec.serviceAccountName":
      return spec?.serviceAccountName ?? "";
    case "status.podIP":
    case "status.podIPs":
      return f.podIP;
    case "status.hostIP":
    case "status.hostIPs":
      return f.hostIP;
    default:
      throw new Error(`unsupported fieldRef.fieldPath ${JSON.stringify(ref.fieldPath)}`);
  }
}

const SUFFIX: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** A resource quantity as a plain number ("500m" → 0.5, "1Gi" → 1073741824). */
export function quantityValue(q: string | number): number {
  if (typeof q === "number") return q;
  if (!new RegExp(QUANTITY_PATTERN).test(q))
    throw new Error(`invalid quantity ${JSON.stringify(q)}`);
  const m = /^([+-]?[0-9.]+)(.*)$/.exec(q);
  const n = Number(m?.[1]);
  const suffix = m?.[2] ?? "";
  if (suffix === "") return n;
  const mult = SUFFIX[suffix];
  return mult === undefined ? n * 10 ** Number(suffix.slice(1)) : n * mult;
}

/**
 * `resourceFieldRef`: the container's limit or request divided by the divisor, rounded up
 * (cpu in whole millicores first). An unset limit reads as node allocatable, like the kubelet.
 */
export function resolveResourceFieldRef(
  ref: V1ResourceFieldSelector,
  container: V1Container,
  f: PodFacts,
): string {
  const [kind, resource = ""] = ref.resource.split(".", 2);
  if ((kind !== "limits" && kind !== "requests") || resource === "") {
    throw new Error(`unsupported resourceFieldRef.resource ${JSON.stringify(ref.resource)}`);
  }
  const set = container.resources?.[kind]?.[resource];
  const raw = set ?? (kind === "limits" ? f.allocatable[resource] : undefined) ?? "0";
  const divisor = quantityValue(ref.divisor ?? "1") || 1;
  const value = quantityValue(raw);
  if (resource === "cpu") {
    return String(Math.ceil(Math.round(value * 1000) / Math.round(divisor * 1000)));
  }
  return String(Math.ceil(value / divisor));
}
