import { createSocket, type Socket as UdpSocket } from "node:dgram";
import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import type { Logger } from "pino";
import { bindFirst, listenOn, POD_LOOPBACK } from "./listen.js";

/**
 * The guest's ports on a pod of its own (a real kubelet). QEMU's user-mode `hostfwd` works
 * only for peers on the pod's loopback: slirp shows those to the guest as its gateway, but
 * keeps any other peer's real address, and with `restrict=on` (guest.outbound: deny) the
 * guest's replies to it are dropped — SSH to the pod IP hung, measured on real nodes. It is
 * IPv4-only too. So QEMU forwards from 127.0.0.1 on an internal port, and the launcher relays
 * each declared port, on every address of the pod (IPv6 too), to it. On the stand-in (pod IP a
 * loopback address) QEMU forwards the pod IP directly and no relay runs.
 */

export interface RelayedPort {
  protocol: "tcp" | "udp";
  /** The port the VM declares: what clients dial on the pod. */
  port: number;
  /** Where QEMU's hostfwd listens, on 127.0.0.1. */
  internalPort: number;
}

/** A UDP client silent this long loses its mapping. */
export const UDP_IDLE_MS = 60_000;
/** UDP clients mapped at once per port: a flood of source ports cannot exhaust the pod. */
export const UDP_MAX_CLIENTS = 256;

/** A free port on 127.0.0.1 for each declared port (asked of the kernel, then released). */
export async function planRelays(
  ports: readonly { protocol: "tcp" | "udp"; port: number }[],
): Promise<RelayedPort[]> {
  const planned: RelayedPort[] = [];
  for (const p of ports) {
    planned.push({ ...p, internalPort: await freePort(p.protocol) });
  }
  return planned;
}

async function freePort(protocol: "tcp" | "udp"): Promise<number> {
  if (protocol === "tcp") {
    const s = createServer();
    s.listen(0, POD_LOOPBACK);
    await once(s, "listening");
    const { port } = s.address() as { port: number };
    s.close();
    return port;
  }
  const s = createSocket("udp4");
  s.bind(0, POD_LOOPBACK);
  await once(s, "listening");
  const { port } = s.address();
  s.close();
  return port;
}

export interface PortRelays {
  close(): Promise<void>;
}

/** Listens for each relayed port on the first of `hosts` that binds (listen.ts's order). */
export async function startPortRelays(
  relays: readonly RelayedPort[],
  hosts: readonly string[],
  log: Logger,
): Promise<PortRelays> {
  const closers: (() => Promise<void>)[] = [];
  try {
    for (const r of relays) {
      closers.push(
        r.protocol === "tcp" ? await relayTcp(r, hosts, log) : await relayUdp(r, hosts, log),
      );
    }
  } catch (err) {
    await Promise.all(closers.map((c) => c()));
    throw err;
  }
  log.info({ relays }, "guest ports relayed to QEMU's loopback forwards");
  return { close: async () => void (await Promise.all(closers.map((c) => c()))) };
}

async function relayTcp(
  r: RelayedPort,
  hosts: readonly string[],
  log: Logger,
): Promise<() => Promise<void>> {
  const open = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (client) => {
    const upstream = connect({
      port: r.internalPort,
      host: POD_LOOPBACK,
      allowHalfOpen: true,
    });
    open.add(client);
    open.add(upstream);
    // Each direction ends on its own (half-close), as a direct connection would.
    client.pipe(upstream);
    upstream.pipe(client);
    const drop = () => {
      client.destroy();
      upstream.destroy();
      open.delete(client);
      open.delete(upstream);
    };
    client.on("error", drop).on("close", drop);
    upstream.on("error", drop).on("close", drop);
  });
  await bindFirst(hosts, (host) => listenOn(server, host, r.port));
  server.on("error", (err) => log.warn({ err, port: r.port }, "guest port relay failed"));
  return async () => {
    for (const s of open) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}

async function relayUdp(
  r: RelayedPort,
  hosts: readonly string[],
  log: Logger,
): Promise<() => Promise<void>> {
  interface UdpClient {
    socket: UdpSocket;
    timer: NodeJS.Timeout;
    /** Datagrams that came before the upstream socket connected. */
    queued: Buffer[] | undefined;
  }
  const clients = new Map<string, UdpClient>();
  const server = await bindFirst(hosts, async (host) => {
    const s = createSocket({ type: host.includes(":") ? "udp6" : "udp4" });
    s.bind(r.port, host);
    await Promise.race([
      once(s, "listening"),
      once(s, "error").then(([err]) => {
        s.close();
        return Promise.reject(err);
      }),
    ]);
    return s;
  });
  const forget = (key: string) => {
    const c = clients.get(key);
    if (!c) return;
    clearTimeout(c.timer);
    c.socket.close();
    clients.delete(key);
  };
  server.on("message", (msg, from) => {
    const key = `${from.address}|${from.port}`;
    let c = clients.get(key);
    if (!c) {
      if (clients.size >= UDP_MAX_CLIENTS) return;
      const client: UdpClient = {
        socket: createSocket("udp4"),
        timer: setTimeout(() => forget(key), UDP_IDLE_MS),
        queued: [],
      };
      client.socket.on("message", (reply) => server.send(reply, from.port, from.address));
      client.socket.on("error", () => forget(key));
      client.socket.connect(r.internalPort, POD_LOOPBACK, () => {
        for (const m of client.queued ?? []) client.socket.send(m);
        client.queued = undefined;
      });
      clients.set(key, client);
      c = client;
    }
    c.timer.refresh();
    if (c.queued) c.queued.push(msg);
    else c.socket.send(msg);
  });
  server.on("error", (err) => log.warn({ err, port: r.port }, "guest port relay failed"));
  return async () => {
    for (const key of [...clients.keys()]) forget(key);
    await new Promise<void>((resolve) => server.close(() => resolve()));
  };
}
