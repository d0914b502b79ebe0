/**
 * TCP throughput between the host side (a pod's address, or a plain QEMU's forward) and a
 * guest, over a forwarded port: a small Python server in the guest (python3 is there for
 * cloud-init) first sinks what it is sent, then sends a given number of bytes. Connections
 * are always opened from outside, so it works where the guest cannot reach out.
 */
import { connect } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

export const THROUGHPUT_PORT = 5201;

const SERVER = `
import socket, sys
s = socket.socket()
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", ${THROUGHPUT_PORT}))
s.listen(1)
for mode in sys.argv[1:]:
    c, _ = s.accept()
    if mode == "sink":
        while c.recv(1 << 16):
            pass
    else:
        left = int(mode)
        block = bytes(1 << 16)
        while left > 0:
            c.sendall(block[: min(left, len(block))])
            left -= len(block)
    c.close()
`;

/** Shell command (run over SSH) that starts the server in the background for one round. */
export function serverCommand(bytes: number): string {
  const b64 = Buffer.from(SERVER).toString("base64");
  return `echo ${b64} | base64 -d > /tmp/kv-tp.py && (nohup python3 /tmp/kv-tp.py sink ${bytes} >/dev/null 2>&1 &) && sleep 1`;
}

/** MiB/s host → guest (the guest sinks) and guest → host (the guest sends), in that order. */
export async function measureThroughput(
  host: string,
  port: number,
  bytes: number,
): Promise<{ toGuest: number; fromGuest: number }> {
  const toGuest = await retry(() => send(host, port, bytes));
  const fromGuest = await retry(() => receive(host, port, bytes));
  return { toGuest: mibPerSecond(bytes, toGuest), fromGuest: mibPerSecond(bytes, fromGuest) };
}

function mibPerSecond(bytes: number, ms: number): number {
  return Math.round((bytes / (1 << 20) / (ms / 1000)) * 10) / 10;
}

async function retry(op: () => Promise<number>): Promise<number> {
  for (let i = 0; ; i++) {
    try {
      return await op();
    } catch (err) {
      if (i >= 10) throw err;
      await sleep(1000);
    }
  }
}

function send(host: string, port: number, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    const sock = connect({ host, port });
    const block = Buffer.alloc(1 << 16);
    let left = bytes;
    const pump = () => {
      while (left > 0) {
        const n = Math.min(left, block.length);
        left -= n;
        if (!sock.write(block.subarray(0, n))) return void sock.once("drain", pump);
      }
      sock.end();
    };
    sock.once("connect", pump);
    sock.on("data", () => {});
    sock.once("error", reject);
    // The server closes once it has read everything: that is when the bytes have arrived.
    sock.once("close", (hadError) => {
      if (hadError) return;
      if (left > 0) reject(new Error(`closed with ${left} bytes unsent`));
      else resolve(Date.now() - t0);
    });
  });
}

function receive(host: string, port: number, bytes: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const t0 = Date.now();
    let got = 0;
    const sock = connect({ host, port });
    sock.on("data", (d: Buffer) => {
      got += d.length;
    });
    sock.once("error", reject);
    sock.once("close", () =>
      got >= bytes ? resolve(Date.now() - t0) : reject(new Error(`got ${got} of ${bytes} bytes`)),
    );
  });
}
