import { once } from "node:events";
import { type AddressInfo, createServer, type Server, type Socket } from "node:net";
import { pipeline } from "node:stream";
import { createWebSocketStream } from "ws";
import type { webSocketOptions } from "./kube.js";
import { openStream } from "./stream.js";

export interface Tunnel {
  server: Server;
  port: number;
  close(): Promise<void>;
}

/**
 * A listener on 127.0.0.1 (never another address: the tunnel carries the user's own
 * credentials) where every accepted connection gets its own WebSocket to `url`, bytes piped
 * both ways with backpressure. A connection whose WebSocket cannot be opened is closed and
 * `onRefused` says why; the listener stays (a VM restarting or migrating comes back).
 */
export async function openTunnel(opts: {
  url: string;
  options: Awaited<ReturnType<typeof webSocketOptions>>;
  port: number;
  onRefused: (message: string) => void;
}): Promise<Tunnel> {
  const sockets = new Set<Socket>();
  const server = createServer((sock) => {
    sockets.add(sock);
    sock.once("close", () => sockets.delete(sock));
    sock.pause();
    openStream(opts.url, opts.options).then(
      (ws) => {
        if (sock.destroyed) return ws.close();
        const stream = createWebSocketStream(ws);
        pipeline(sock, stream, sock, () => {
          sock.destroy();
          ws.terminate();
        });
      },
      (err: Error) => {
        opts.onRefused(err.message);
        sock.destroy();
      },
    );
  });
  server.listen(opts.port, "127.0.0.1");
  await once(server, "listening");
  return {
    server,
    port: (server.address() as AddressInfo).port,
    close: async () => {
      for (const sock of sockets) sock.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
