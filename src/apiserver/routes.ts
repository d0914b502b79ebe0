import {
  parseGuestPort,
  SUBRESOURCE_KIND,
  SUBRESOURCES_GROUP,
  SUBRESOURCES_GROUP_VERSION,
  SUBRESOURCES_VERSION,
  VM_SUBRESOURCES,
  type VmSubresource,
} from "../api/subresources.js";

/** What a request path addresses; pure, so the routing table is unit-tested. */
export type Route =
  | { kind: "health"; check: "healthz" | "readyz" | "livez" }
  | { kind: "discovery"; body: unknown }
  | {
      kind: "vm";
      namespace: string;
      name: string;
      subresource: VmSubresource;
      /** portforward only: the guest port from `portforward/{port}`. */
      port?: number;
    }
  | { kind: "badRequest"; message: string }
  | { kind: "notFound" };

const VM_PATH = new RegExp(
  `^/apis/${SUBRESOURCES_GROUP.replace(/\./g, "\\.")}/${SUBRESOURCES_VERSION}/namespaces/([^/]+)/virtualmachines/([^/]+)/([^/]+)(?:/([^/]+))?$`,
);

export function route(url: string): Route {
  const path = new URL(url, "https://apiserver").pathname.replace(/\/$/, "") || "/";
  if (path === "/healthz" || path === "/readyz" || path === "/livez")
    return { kind: "health", check: path.slice(1) as "healthz" | "readyz" | "livez" };
  if (path === "/apis") return { kind: "discovery", body: groupList() };
  if (path === `/apis/${SUBRESOURCES_GROUP}`) return { kind: "discovery", body: apiGroup() };
  if (path === `/apis/${SUBRESOURCES_GROUP_VERSION}`)
    return { kind: "discovery", body: resourceList() };
  const m = VM_PATH.exec(path);
  const sub = m?.[3] as VmSubresource | undefined;
  if (m?.[1] && m[2] && sub && (VM_SUBRESOURCES as readonly string[]).includes(sub)) {
    const target = {
      kind: "vm" as const,
      namespace: decodeURIComponent(m[1]),
      name: decodeURIComponent(m[2]),
      subresource: sub,
    };
    // Only portforward takes a further segment, and must.
    if (sub !== "portforward") return m[4] === undefined ? target : { kind: "notFound" };
    const port = parseGuestPort(decodeURIComponent(m[4] ?? ""));
    return typeof port === "string" ? { kind: "badRequest", message: port } : { ...target, port };
  }
  return { kind: "notFound" };
}

function apiGroup() {
  const version = { groupVersion: SUBRESOURCES_GROUP_VERSION, version: SUBRESOURCES_VERSION };
  return {
    kind: "APIGroup",
    apiVersion: "v1",
    name: SUBRESOURCES_GROUP,
    versions: [version],
    preferredVersion: version,
  };
}

function groupList() {
  return { kind: "APIGroupList", apiVersion: "v1", groups: [apiGroup()] };
}

/**
 * The verbs listed are the ones the kube-apiserver derives from the HTTP method (GET → get,
 * PUT → update); RBAC rules use the same words.
 */
function resourceList() {
  const resource = (sub: VmSubresource, verbs: string[]) => ({
    name: `virtualmachines/${sub}`,
    singularName: "",
    namespaced: true,
    kind: "VirtualMachine",
    verbs,
  });
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: SUBRESOURCES_GROUP_VERSION,
    resources: VM_SUBRESOURCES.map((sub) =>
      resource(
        sub,
        SUBRESOURCE_KIND[sub] === "stream" || SUBRESOURCE_KIND[sub] === "read"
          ? ["get"]
          : ["update"],
      ),
    ),
  };
}
