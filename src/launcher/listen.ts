import { BlockList, isIP, isIPv4, type Server } from "node:net";

/**
 * Where the launcher's listeners bind, decided from the pod IP alone.
 *
 * - `pod`: the pod has a network namespace of its own (a real kubelet: any non-loopback pod
 *   IP). Bind every address of the pod: probes dial the pod IP, the operator dials the pod
 *   IP, and `kubectl port-forward` (the kubelet) dials the pod's localhost.
 * - `podIP`: the pod IP is a loopback address, i.e. the stand-in node, whose pods share the
 *   host's network namespace and each own one 127.x address. A wildcard bind there would
 *   clash with every other pod on the same port and answer on the host's own addresses.
 *
 * Neither widens who is trusted: the API demands the operator's client certificate on any
 * address, the probe port answers only /healthz and /readyz, and a guest on user-mode
 * networking reaching the pod's loopback (10.0.2.2) meets the same two. The migration
 * listeners (QEMU's incoming port, NBD) stay on the pod IP: only the peer the operator named
 * dials them, there.
 */
export type ListenScope = "pod" | "podIP";

export function listenScope(podIP: string): ListenScope {
  return isLoopback(podIP) ? "podIP" : "pod";
}

/**
 * Addresses to try for the launcher API and probe ports, in order; the first that binds is
 * used. `::` is dual-stack in Node (IPv4 arrives as ::ffff:a.b.c.d); `0.0.0.0` is the
 * fallback for pods whose kernel has IPv6 disabled.
 */
export function apiListenHosts(podIP: string): string[] {
  return listenScope(podIP) === "pod" ? ["::", "0.0.0.0"] : [podIP];
}

/** Errors after which the next address of apiListenHosts is worth trying. */
export const FALLBACK_LISTEN_ERRORS: ReadonlySet<string> = new Set([
  "EAFNOSUPPORT",
  "EADDRNOTAVAIL",
]);

/** The pod's own IPv4 loopback: where QEMU's forwards listen in a pod of its own. */
export const POD_LOOPBACK = "127.0.0.1";

/**
 * Host address of QEMU's guest port forwards. In a pod of its own they stay on its loopback,
 * fronted by the launcher's relays on every pod address (port-relay.ts says why); on the
 * stand-in they take the pod IP itself (QEMU 7.2's `hostfwd` is IPv4-only).
 */
export function guestForwardHost(podIP: string): string {
  return listenScope(podIP) === "podIP" && isIPv4(podIP) ? podIP : POD_LOOPBACK;
}

/**
 * `bind` on the first of `hosts` the kernel accepts (apiListenHosts' order: `::` fails where
 * IPv6 is disabled); any other error is final.
 */
export async function bindFirst<T>(
  hosts: readonly string[],
  bind: (host: string) => Promise<T>,
): Promise<T> {
  for (const [i, host] of hosts.entries()) {
    try {
      return await bind(host);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? "";
      if (i === hosts.length - 1 || !FALLBACK_LISTEN_ERRORS.has(code)) throw err;
    }
  }
  throw new Error("no address to listen on");
}

/** `server.listen(port, host)` as a promise that rejects with the bind's error. */
export function listenOn(server: Server, host: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      resolve();
    });
  });
}

const LOOPBACK = new BlockList();
LOOPBACK.addSubnet("127.0.0.0", 8, "ipv4");
LOOPBACK.addAddress("::1", "ipv6");

/** 127/8 or ::1, in any spelling (IPv4-mapped IPv6 too). */
export function isLoopback(ip: string): boolean {
  const family = isIP(ip);
  return family !== 0 && LOOPBACK.check(ip, family === 6 ? "ipv6" : "ipv4");
}
