/** Pure: the page a location hash names (unit-tested). */
export type Route =
  | { page: "list"; namespace: string }
  | { page: "vm"; namespace: string; name: string }
  | { page: "create"; namespace: string };

/** Pure: `#/ns/demo/vm/web` → the page to show. */
export function parseRoute(hash: string, fallbackNamespace: string): Route {
  const parts = hash.replace(/^#\/?/, "").split("/").filter(Boolean).map(decodeURIComponent);
  if (parts[0] !== "ns" || !parts[1]) return { page: "list", namespace: fallbackNamespace };
  const namespace = parts[1];
  if (parts[2] === "vm" && parts[3]) return { page: "vm", namespace, name: parts[3] };
  if (parts[2] === "create") return { page: "create", namespace };
  return { page: "list", namespace };
}
