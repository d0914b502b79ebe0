import type { Socket } from "node:net";
import { WebSocket } from "ws";

/** Bytes handed to the slower side but not yet written before reading from the other pauses. */
const HIGH_WATER = 1024 * 1024;

/**
 * Pump bytes between a WebSocket (binary frames) and a stream socket (QEMU's VNC socket,
 * later a guest port), with backpressure both ways: each side is read only while the other
 * keeps up, so memory stays bounded however fast one talks and slowly the other reads.
 * Either side ending ends the other.
 */
export function bridgeSocket(ws: WebSocket, sock: Socket, onEnd: (why: string) => void): void {
  let ended = false;
  const end = (why: string) => {
    if (ended) return;
    ended = true;
    sock.destroy();
    if (ws.readyState === WebSocket.OPEN || ws.readyState === WebSocket.CONNECTING)
      ws.close(1001, why);
    onEnd(why);
  };
  let pendingToWs = 0;
  sock.on("data", (chunk: Buffer) => {
    if (ws.readyState !== WebSocket.OPEN) return;
    pendingToWs += chunk.length;
    ws.send(chunk, { binary: true }, () => {
      pendingToWs -= chunk.length;
      if (sock.isPaused() && pendingToWs <= HIGH_WATER / 4) sock.resume();
    });
    if (pendingToWs > HIGH_WATER) sock.pause();
  });
  ws.on("message", (data: Buffer | ArrayBuffer | Buffer[]) => {
    const chunk = Array.isArray(data) ? Buffer.concat(data) : Buffer.from(data as Buffer);
    if (!sock.write(chunk)) {
      ws.pause();
      sock.once("drain", () => ws.resume());
    }
  });
  sock.on("close", () => end("the guest side closed"));
  sock.on("error", () => end("the guest side failed"));
  ws.on("close", () => end("the client left"));
  ws.on("error", () => end("the client failed"));
}
