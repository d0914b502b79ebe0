import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import type { WebSocketServer } from "ws";
import { parseGuestPort } from "../../api/subresources.js";
import type { Logger } from "../../util/log.js";
import { bridgeSocket } from "./socket-bridge.js";
import { refuse } from "./upgrade.js";
import type { LauncherView } from "./view.js";

export const PORTFORWARD_PATH = "/portforward";

/**
 * `/portforward/{port}`: one TCP connection to that guest port as a WebSocket of raw bytes
 * both ways. The connection is made before the upgrade completes, so a refused port is an
 * HTTP 502 and a bad port number a 400, not an open-then-closed socket.
 */
export function portForwardUpgrade(view: LauncherView, wss: WebSocketServer, log: Logger) {
  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = new URL(req.url ?? "/", "http://launcher").pathname;
    const port = parseGuestPort(path.slice(PORTFORWARD_PATH.length + 1));
    if (typeof port === "string") {
      refuse(socket, 400, "Bad Request");
      return;
    }
    const guest = view.guestControl();
    if (!guest) {
      refuse(socket, 503, "Service Unavailable");
      return;
    }
    guest.openPort(port).then(
      (conn) => {
        if (socket.destroyed) {
          conn.destroy();
          return;
        }
        if (conn.destroyed) {
          // The guest reset it while the forward was being removed.
          refuse(socket, 502, "Bad Gateway");
          return;
        }
        wss.handleUpgrade(req, socket, head, (ws) => {
          log.info({ port }, "port-forward connection opened");
          bridgeSocket(ws, conn, (why) => log.info({ port, why }, "port-forward connection ended"));
        });
      },
      (err: Error) => {
        log.info({ port, err }, "port-forward refused");
        refuse(socket, 502, "Bad Gateway");
      },
    );
  };
}
