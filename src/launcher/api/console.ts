import type { IncomingMessage } from "node:http";
import type { Duplex } from "node:stream";
import { WebSocket, type WebSocketServer } from "ws";
import type { Logger } from "../../util/log.js";
import { refuse } from "./upgrade.js";
import type { LauncherView } from "./view.js";

export const CONSOLE_PATH = "/console";
/** A client this far behind is dropped rather than buffered without bound. */
const MAX_CLIENT_BACKLOG = 8 * 1024 * 1024;

/**
 * The serial console as a WebSocket: binary frames of raw bytes both ways. Each client first
 * gets the recent output (so it sees the boot), then the live stream; any number may attach,
 * and whatever any of them sends is typed into the guest.
 */
export function consoleUpgrade(view: LauncherView, wss: WebSocketServer, log: Logger) {
  return (req: IncomingMessage, socket: Duplex, head: Buffer): void => {
    const serial = view.serialConsole();
    if (!serial) {
      refuse(socket, 503, "Service Unavailable");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => {
      log.info("console client attached");
      const attachment = serial.attach((chunk) => {
        if (ws.bufferedAmount > MAX_CLIENT_BACKLOG) {
          ws.close(1013, "console client too slow");
          return;
        }
        if (ws.readyState === WebSocket.OPEN) ws.send(chunk, { binary: true });
      });
      const onSerialClose = () => ws.close(1001, "guest console closed");
      serial.once("close", onSerialClose);
      ws.on("message", (data: Buffer | ArrayBuffer | Buffer[]) => {
        if (serial.isClosed) return;
        serial.write(Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer));
      });
      ws.on("close", () => {
        attachment.detach();
        serial.off("close", onSerialClose);
        log.info("console client detached");
      });
      ws.on("error", (err) => log.warn({ err }, "console client error"));
    });
  };
}
