import type { IncomingMessage } from "node:http";
import { connect } from "node:net";
import type { Duplex } from "node:stream";
import type { WebSocketServer } from "ws";
import type { Logger } from "../../util/log.js";
import { bridgeSocket } from "./socket-bridge.js";
import { refuse } from "./upgrade.js";
import type { LauncherView } from "./view.js";

export const VNC_PATH = "/vnc";

/**
 * The guest's display as a WebSocket of raw RFB bytes both ways: each client gets its own
 * connection to QEMU's VNC unix socket (QEMU serves several viewers at once). The socket is
 * dialled before the upgrade completes, so a VM without a display is a plain 404/503.
 */
export function vncUpgrade(view: LauncherView, wss: WebSocketServer, log: Logger) {
  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const path = view.guestControl()?.vncSocket;
    if (!path) {
      refuse(socket, 503, "Service Unavailable");
      return;
    }
    const vnc = connect(path);
    vnc.once("error", (err) => {
      log.warn({ err }, "VNC socket unreachable");
      refuse(socket, 503, "Service Unavailable");
    });
    vnc.once("connect", () => {
      vnc.removeAllListeners("error");
      if (socket.destroyed) {
        vnc.destroy();
        return;
      }
      wss.handleUpgrade(req, socket, head, (ws) => {
        log.info({ clients: wss.clients.size }, "VNC client attached");
        bridgeSocket(ws, vnc, (why) => log.info({ why }, "VNC client detached"));
      });
    });
  };
}
