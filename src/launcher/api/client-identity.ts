import type { PeerCertificate, TLSSocket } from "node:tls";
import { LAUNCHER_CLIENT_CN } from "../../api/launcher.js";

/**
 * Why a TLS client may not use the launcher API, or undefined when it may. The handshake
 * already proved the certificate chains to the operator CA; that CA also signs every
 * launcher's serving certificate (which tenants can read), so the subject is pinned too.
 */
export function clientRefusal(
  cert: Pick<PeerCertificate, "subject"> | undefined,
  expectedCN = LAUNCHER_CLIENT_CN,
): string | undefined {
  const cn = cert?.subject?.CN as string | string[] | undefined;
  if (cn === undefined) return "no client certificate";
  // A subject with two CNs is ambiguous: refused, whichever comes first.
  if (Array.isArray(cn) || cn !== expectedCN) {
    return `client certificate CN=${String(cn)} is not ${expectedCN}`;
  }
  return undefined;
}

export function socketRefusal(socket: TLSSocket): string | undefined {
  if (!socket.authorized) return "client certificate not verified";
  return clientRefusal(socket.getPeerCertificate());
}
