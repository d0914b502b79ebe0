/**
 * The contract of the aggregated API `subresources.kubevisor.io/v1alpha1` between the
 * server (src/apiserver) and its clients (kubectl-vm, tests): paths, verbs, WebSocket close
 * codes. Pure constants, so both sides import it without pulling in either one's code.
 */
export const SUBRESOURCES_GROUP = "subresources.kubevisor.io";
export const SUBRESOURCES_VERSION = "v1alpha1";
export const SUBRESOURCES_GROUP_VERSION = `${SUBRESOURCES_GROUP}/${SUBRESOURCES_VERSION}`;
/** Name of the APIService object that registers the group with the aggregation layer. */
export const SUBRESOURCES_APISERVICE = `${SUBRESOURCES_VERSION}.${SUBRESOURCES_GROUP}`;

export const VM_ACTIONS = ["start", "stop", "restart", "migrate"] as const;
export type VmAction = (typeof VM_ACTIONS)[number];
export const VM_SUBRESOURCES = ["console", ...VM_ACTIONS] as const;
export type VmSubresource = (typeof VM_SUBRESOURCES)[number];

/** `/apis/subresources.kubevisor.io/v1alpha1/namespaces/NS/virtualmachines/NAME/SUB`. */
export function subresourcePath(namespace: string, name: string, sub: VmSubresource): string {
  return `/apis/${SUBRESOURCES_GROUP_VERSION}/namespaces/${encodeURIComponent(namespace)}/virtualmachines/${encodeURIComponent(name)}/${sub}`;
}

/**
 * Console modes. `interactive` (the default) may type and needs `update` on
 * virtualmachines/console besides the `get` the kube-apiserver checks for every GET;
 * `watch` only reads and needs `get`.
 */
export type ConsoleMode = "interactive" | "watch";

/**
 * Close codes the server sends on the console WebSocket (4000–4999 are the application's).
 * A client reconnects after CONSOLE_CLOSE.upstreamGone (the launcher went away: migration,
 * restart) but not after takenOver, or two clients would keep stealing the console.
 */
export const CONSOLE_CLOSE = {
  /** Another interactive session took over; the reason says so. */
  takenOver: 4001,
  /** The VM has no running launcher, or the connection to it failed or ended. */
  upstreamGone: 4002,
} as const;

/** details.name of a migrate answer's Status names the VirtualMachineMigration it created. */
export const MIGRATION_KIND_PLURAL = "virtualmachinemigrations";
