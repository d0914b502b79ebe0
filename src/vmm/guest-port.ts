import { randomInt } from "node:crypto";
import { connect, type Socket } from "node:net";
import { NETDEV_ID } from "./cmdline.js";
import type { Vm } from "./vm.js";

export class GuestPortError extends Error {
  override name = "GuestPortError";
}

/** Loopback of the launcher's own network namespace: on a real node, only the pod sees it. */
const FORWARD_HOST = "127.0.0.1";
const ATTEMPTS = 8;
const CONNECT_TIMEOUT_MS = 5_000;

/**
 * One TCP connection to `guestPort` of the guest, through QEMU's user-mode network.
 *
 * Why this way: QEMU 7.2's libslirp (4.7) forwards only from TCP/UDP host addresses
 * (`hostfwd=unix:` does not exist, checked), and `guestfwd` goes the other way. So for each
 * connection a forward from a random port on 127.0.0.1 — the pod's own loopback, never the
 * pod IP, so no other pod can reach it — is added (HMP `hostfwd_add`, which QMP lacks in
 * 7.2), connected to, and removed at once: the rule lives for one connect, and an
 * established connection outlives its rule. The guest sees a connection from slirp's host
 * address, like any forwarded port.
 */
export async function openGuestPort(vm: Vm, guestPort: number): Promise<Socket> {
  if (!Number.isInteger(guestPort) || guestPort < 1 || guestPort > 65535) {
    throw new GuestPortError(`port ${guestPort} is not 1-65535`);
  }
  for (let attempt = 0; attempt < ATTEMPTS; attempt++) {
    const hostPort = randomInt(20_000, 60_000);
    const rule = `tcp:${FORWARD_HOST}:${hostPort}`;
    const added = await hmp(vm, `hostfwd_add ${NETDEV_ID} ${rule}-:${guestPort}`);
    // A taken port is reported as text, not as a QMP error: try another.
    if (added.trim() !== "") continue;
    try {
      return await connectOnce(hostPort);
    } finally {
      await hmp(vm, `hostfwd_remove ${NETDEV_ID} ${rule}`).catch(() => "");
    }
  }
  throw new GuestPortError(`no free loopback port for a forward after ${ATTEMPTS} attempts`);
}

function hmp(vm: Vm, line: string): Promise<string> {
  return vm.qmp.execute("human-monitor-command", { "command-line": line });
}

function connectOnce(port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect({ host: FORWARD_HOST, port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new GuestPortError("the forward did not answer"));
    }, CONNECT_TIMEOUT_MS);
    sock.once("connect", () => {
      clearTimeout(timer);
      sock.removeAllListeners("error");
      // The guest may reset the connection before the caller attaches its own handlers (the
      // forward is removed first): that must not crash the launcher. The caller sees a
      // socket that is `destroyed`, or gets its `close`.
      sock.on("error", () => {});
      resolve(sock);
    });
    sock.once("error", (err) => {
      clearTimeout(timer);
      reject(new GuestPortError(err.message));
    });
  });
}
