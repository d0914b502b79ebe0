import { WebSocket } from "ws";
import { subresourcePath, type VmStream } from "../../api/subresources.js";
import type { Session, webSocketOptions } from "./kube.js";

/** Why a connection attempt was refused, from the HTTP answer. */
export class Refused extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** wss:// URL of one of the VM's stream subresources, through the kube-apiserver. */
export function streamUrl(s: Session, name: string, stream: VmStream, query = ""): string {
  const base = `${s.server.origin.replace(/^http/, "ws")}${s.server.pathname.replace(/\/$/, "")}`;
  return `${base}${subresourcePath(s.namespace, name, stream)}${query}`;
}

/** Open a stream WebSocket; a refusal rejects with its HTTP status and Status message. */
export function openStream(
  url: string,
  options: Awaited<ReturnType<typeof webSocketOptions>>,
): Promise<WebSocket> {
  const ws = new WebSocket(url, { ...options, handshakeTimeout: 10_000 });
  return new Promise((resolve, reject) => {
    ws.once("open", () => resolve(ws));
    ws.once("unexpected-response", (_req, res) => {
      let body = "";
      res.on("data", (c: Buffer) => {
        body += c;
      });
      res.on("end", () => {
        let message = body.trim() || `HTTP ${res.statusCode}`;
        try {
          message = (JSON.parse(body) as { message?: string }).message ?? message;
        } catch {}
        reject(new Refused(res.statusCode ?? 0, message));
      });
    });
    ws.once("error", reject);
  });
}
