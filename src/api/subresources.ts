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

/** PUT, verb `update`: changes to the VM object (start/stop/restart) or a new migration. */
export const VM_ACTIONS = ["start", "stop", "restart", "migrate"] as const;
export type VmAction = (typeof VM_ACTIONS)[number];
/** PUT, verb `update`: done by the VM's launcher to the running guest (QMP stop / cont). */
export const VM_GUEST_ACTIONS = ["pause", "unpause"] as const;
export type VmGuestAction = (typeof VM_GUEST_ACTIONS)[number];
/**
 * GET + WebSocket upgrade: byte streams relayed from the launcher. Both need `update` too
 * (typing into a console, keys and pointer on a screen are writes).
 */
export const VM_STREAMS = ["console", "vnc", "portforward"] as const;
export type VmStream = (typeof VM_STREAMS)[number];
/** GET, verb `get`: a PNG of the display. Not in `view`: a screen can show secrets. */
export const VM_READS = ["screenshot"] as const;
export type VmRead = (typeof VM_READS)[number];
export const VM_SUBRESOURCES = [
  ...VM_STREAMS,
  ...VM_READS,
  ...VM_ACTIONS,
  ...VM_GUEST_ACTIONS,
] as const;
export type VmSubresource = (typeof VM_SUBRESOURCES)[number];

/** How the server handles each subresource: a closed map, so a new one must say. */
export const SUBRESOURCE_KIND: Record<VmSubresource, "stream" | "read" | "action" | "guestAction"> =
  {
    console: "stream",
    vnc: "stream",
    portforward: "stream",
    screenshot: "read",
    start: "action",
    stop: "action",
    restart: "action",
    migrate: "action",
    pause: "guestAction",
    unpause: "guestAction",
  };

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
 * Close codes the server sends on the console and VNC WebSockets (4000–4999 are the application's).
 * A client reconnects after CONSOLE_CLOSE.upstreamGone (the launcher went away: migration,
 * restart) but not after takenOver, or two clients would keep stealing the console. A VNC
 * client reconnecting lands on the VM's current launcher: that is how a display survives a
 * live migration (RFB is stateful, so the client redoes its handshake there).
 */
export const CONSOLE_CLOSE = {
  /** Another interactive session took over; the reason says so. */
  takenOver: 4001,
  /** The VM has no running launcher, or the connection to it failed or ended. */
  upstreamGone: 4002,
} as const;

/** details.name of a migrate answer's Status names the VirtualMachineMigration it created. */
export const MIGRATION_KIND_PLURAL = "virtualmachinemigrations";

/**
 * `virtualmachines/portforward/{port}`: one TCP connection to a guest port. Pure: the port
 * from its path segment, or why it is not one (the message names the field).
 */
export function parseGuestPort(text: string): number | string {
  const n = /^[0-9]{1,5}$/.test(text) ? Number(text) : Number.NaN;
  if (n >= 1 && n <= 65535) return n;
  return `port: "${text.slice(0, 20)}" is not a TCP port (1-65535)`;
}

/** The path of a port-forward to `port`. */
export function portForwardPath(namespace: string, name: string, port: number): string {
  return `${subresourcePath(namespace, name, "portforward")}/${port}`;
}
