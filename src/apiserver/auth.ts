/**
 * Front-proxy ("request header") authentication, as every aggregated API server does it: the
 * kube-apiserver authenticates the user, then proxies the request with X-Remote-User and
 * friends, over TLS with its proxy client certificate. Those headers are believed only when
 * that certificate chains to the request-header CA and its CN is an allowed name; anything
 * else could be a forged header from whoever can reach the pod.
 */
export interface RequestHeaderConfig {
  /** PEM bundle of the request-header client CA. */
  clientCA: string;
  /** CNs allowed to assert identities; empty means any certificate from the CA. */
  allowedNames: string[];
  usernameHeaders: string[];
  groupHeaders: string[];
  extraHeaderPrefixes: string[];
  uidHeaders: string[];
}

/** Namespace and name of the ConfigMap the kube-apiserver publishes its settings in. */
export const AUTH_CONFIGMAP = {
  namespace: "kube-system",
  name: "extension-apiserver-authentication",
};

/** Pure: the ConfigMap's data → config; throws when the cluster has no front proxy set up. */
export function parseRequestHeaderConfig(data: Record<string, string>): RequestHeaderConfig {
  const clientCA = data["requestheader-client-ca-file"];
  if (!clientCA) {
    throw new Error(
      `${AUTH_CONFIGMAP.namespace}/${AUTH_CONFIGMAP.name} has no requestheader-client-ca-file: the kube-apiserver runs without --requestheader-client-ca-file, so the aggregation layer cannot be used`,
    );
  }
  const list = (key: string, fallback: string[]) => {
    const text = data[key];
    if (!text) return fallback;
    const parsed: unknown = JSON.parse(text);
    if (!Array.isArray(parsed) || parsed.some((v) => typeof v !== "string"))
      throw new Error(`${key} is not a JSON list of strings`);
    return parsed as string[];
  };
  return {
    clientCA,
    allowedNames: list("requestheader-allowed-names", []),
    usernameHeaders: list("requestheader-username-headers", ["X-Remote-User"]),
    groupHeaders: list("requestheader-group-headers", ["X-Remote-Group"]),
    extraHeaderPrefixes: list("requestheader-extra-headers-prefix", ["X-Remote-Extra-"]),
    uidHeaders: list("requestheader-uid-headers", []),
  };
}

export interface UserInfo {
  name: string;
  uid?: string;
  groups: string[];
  extra: Record<string, string[]>;
}

/** What the TLS layer says about the connection's client certificate. */
export interface PeerCertificate {
  /** The certificate chains to the request-header CA (node's `socket.authorized`). */
  verified: boolean;
  commonName?: string;
}

export type AuthResult = { ok: true; user: UserInfo } | { ok: false; reason: string };

/** Node's headersDistinct: every header name lower-cased, each value list kept apart. */
export type DistinctHeaders = Record<string, string[] | undefined>;

/** Pure: the trust decision and the identity the headers carry. */
export function authenticate(
  peer: PeerCertificate | undefined,
  headers: DistinctHeaders,
  config: RequestHeaderConfig,
): AuthResult {
  if (!peer) return { ok: false, reason: "no client certificate" };
  if (!peer.verified)
    return { ok: false, reason: "client certificate not signed by the request-header CA" };
  if (config.allowedNames.length > 0 && !config.allowedNames.includes(peer.commonName ?? "")) {
    return {
      ok: false,
      reason: `client certificate CN "${peer.commonName ?? ""}" is not in requestheader-allowed-names`,
    };
  }
  const values = (names: string[]) =>
    names.flatMap((n) => headers[n.toLowerCase()] ?? []).filter((v) => v !== "");
  const name = values(config.usernameHeaders)[0];
  if (!name) return { ok: false, reason: "no user name header" };
  const extra: Record<string, string[]> = {};
  for (const prefix of config.extraHeaderPrefixes.map((p) => p.toLowerCase())) {
    for (const [header, list] of Object.entries(headers)) {
      if (!header.startsWith(prefix) || !list) continue;
      // Keys are percent-encoded on the wire and case-insensitive (Kubernetes lower-cases them).
      const key = decodeURIComponent(header.slice(prefix.length)).toLowerCase();
      extra[key] = [...(extra[key] ?? []), ...list];
    }
  }
  const uid = values(config.uidHeaders)[0];
  return {
    ok: true,
    user: { name, ...(uid ? { uid } : {}), groups: values(config.groupHeaders), extra },
  };
}
