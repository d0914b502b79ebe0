import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocketServer } from "ws";
import type { Logger } from "../../util/log.js";
import { CONSOLE_PATH, consoleUpgrade } from "./console.js";
import { PORTFORWARD_PATH, portForwardUpgrade } from "./portforward.js";
import type { LauncherView } from "./view.js";
import { VNC_PATH, vncUpgrade } from "./vnc.js";

type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

/** Largest frame a client may send; the operator's relays cap theirs lower. */
const MAX_CLIENT_FRAME = 1024 * 1024;

/** Every WebSocket endpoint of the launcher API, by path; anything else is 404. */
export function upgrades(view: LauncherView, log: Logger): UpgradeHandler {
  const wss = new WebSocketServer({ noServer: true, maxPayload: MAX_CLIENT_FRAME });
  const byPath: Record<string, UpgradeHandler> = {
    [CONSOLE_PATH]: consoleUpgrade(view, wss, log),
    [VNC_PATH]: vncUpgrade(view, wss, log),
  };
  const portForward = portForwardUpgrade(view, wss, log);
  return (req, socket, head) => {
    const path = new URL(req.url ?? "/", "http://launcher").pathname;
    // /portforward/{port}: the one path with a parameter.
    const handler = path.startsWith(`${PORTFORWARD_PATH}/`) ? portForward : byPath[path];
    if (!handler) return refuse(socket, 404, "Not Found");
    handler(req, socket, head);
  };
}

export function refuse(socket: Duplex, status: number, text: string): void {
  socket.end(`HTTP/1.1 ${status} ${text}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
}
