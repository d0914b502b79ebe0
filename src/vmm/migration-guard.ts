import { constants } from "node:crypto";
import { connect as connectUnix, type Socket } from "node:net";
import { createServer, type TLSSocket } from "node:tls";
import type { TargetTls } from "./migration-tls.js";

/**
 * The target's end of the RAM stream's mutual TLS, in front of QEMU.
 *
 * Why not QEMU's own TLS here: QEMU 7.2 runs the TLS handshake of an incoming migration
 * connection on a blocking socket in its main loop. One TCP connection that sends nothing
 * (or half a ClientHello) freezes the target QEMU — QMP included — for as long as it stays
 * open (measured: query-status times out). Any pod can open such a connection. So QEMU
 * listens on a unix socket in its private run directory, and this guard terminates the TLS
 * asynchronously: many handshakes at once, each with a deadline, the client certificate
 * checked against the CA and its subject pinned to the one source of this migration; only
 * that one authenticated stream reaches QEMU. The source side and the NBD disk copies use
 * QEMU's own TLS (its client side and its NBD server do not block).
 */
export interface GuardOptions {
  host: string;
  /** 0 picks a free port. */
  port: number;
  tls: TargetTls;
  /** QEMU's `migrate-incoming unix:` socket. */
  upstream: string;
  /** A connection that has not finished its handshake by then is dropped. Default 10 s. */
  handshakeTimeoutMs?: number;
  /** Told about every refused connection (for logs). */
  onRefused?: (why: string, remote: string | undefined) => void;
}

export interface IncomingGuard {
  port: number;
  /** Whether the source's stream has been handed to QEMU. */
  readonly connected: boolean;
  /** No new connections; the source's stream runs on (post-copy still pulls pages). */
  stopAccepting(): void;
  /** No new connections, and every open one cut. */
  close(): Promise<void>;
}

/** Why a verified client is not this migration's source, or undefined when it is. */
export function sourceRefusal(
  subject: Record<string, string | string[]> | undefined,
  clientDn: string,
): string | undefined {
  const keys = Object.keys(subject ?? {});
  const cn = subject?.CN;
  // Exactly one CN and nothing else: QEMU's authz compares the whole DN the same way.
  if (keys.length !== 1 || typeof cn !== "string" || `CN=${cn}` !== clientDn) {
    return `client ${keys.map((k) => `${k}=${String(subject?.[k])}`).join(",") || "(none)"} is not ${clientDn}`;
  }
  return undefined;
}

export async function guardIncoming(opts: GuardOptions): Promise<IncomingGuard> {
  let connected = false;
  const open = new Set<Socket>();
  const refuse = (socket: Socket, why: string) => {
    opts.onRefused?.(why, socket.remoteAddress);
    socket.destroy();
  };
  const server = createServer(
    {
      ca: opts.tls.caCertPem,
      cert: opts.tls.certPem,
      key: opts.tls.keyPem,
      requestCert: true,
      rejectUnauthorized: true,
      // TLS 1.2 without tickets: a TLS 1.3 server sends session tickets after the handshake,
      // which the source's QEMU never reads; it then closes with unread data, the kernel
      // answers with a reset, and the reset discards the stream's last bytes before the
      // guard has read them (measured: the target fails loading RAM).
      minVersion: "TLSv1.2",
      maxVersion: "TLSv1.2",
      secureOptions: constants.SSL_OP_NO_TICKET,
      handshakeTimeout: opts.handshakeTimeoutMs ?? 10_000,
    },
    (client: TLSSocket) => {
      open.add(client);
      client.once("close", () => open.delete(client));
      const why = sourceRefusal(
        client.getPeerCertificate().subject as unknown as Record<string, string>,
        opts.tls.clientDn,
      );
      if (why) return refuse(client, why);
      // One stream per migration: QEMU would ignore a second one anyway.
      if (connected) return refuse(client, "the source is already connected");
      connected = true;
      const qemu = connectUnix(opts.upstream);
      open.add(qemu);
      qemu.once("close", () => open.delete(qemu));
      // The source may reset its connection right after its last byte: what is already
      // buffered for QEMU still goes to it (end, not destroy), or the guest arrives short.
      client.on("error", () => qemu.end());
      qemu.on("error", () => client.destroy());
      client.pipe(qemu);
      qemu.pipe(client);
    },
  );
  server.on("tlsClientError", (err, socket) => refuse(socket, err.message));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.host, () => {
      server.off("error", reject);
      resolve();
    });
  });
  const address = server.address();
  return {
    port: typeof address === "object" && address ? address.port : 0,
    get connected() {
      return connected;
    },
    stopAccepting: () => {
      if (server.listening) server.close();
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of open) s.destroy();
        if (server.listening) server.close(() => resolve());
        else resolve();
      }),
  };
}
