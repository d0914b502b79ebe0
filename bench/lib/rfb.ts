/**
 * A minimal RFB (VNC) client for benchmarks, over any byte stream: version 3.8, security
 * None, ClientInit, a 32-bit true-colour pixel format, Raw encoding only, and
 * FramebufferUpdateRequest. Enough to time the first frame and count updates; nothing a
 * viewer needs beyond that.
 */
import type { Duplex } from "node:stream";

/** Reads exact byte counts from a stream, in order. */
class Reader {
  private chunks: Buffer[] = [];
  private length = 0;
  private wake: (() => void) | undefined;
  private failure: Error | undefined;

  constructor(stream: Duplex) {
    stream.on("data", (c: Buffer) => {
      this.chunks.push(c);
      this.length += c.length;
      this.wake?.();
    });
    const end = (err?: Error) => {
      this.failure ??= err ?? new Error("the VNC stream ended");
      this.wake?.();
    };
    stream.once("error", end);
    stream.once("close", () => end());
  }

  async read(n: number): Promise<Buffer> {
    while (this.length < n) {
      if (this.failure) throw this.failure;
      await new Promise<void>((resolve) => {
        this.wake = resolve;
      });
      this.wake = undefined;
    }
    const all = this.chunks.length === 1 ? (this.chunks[0] as Buffer) : Buffer.concat(this.chunks);
    this.chunks = all.length > n ? [all.subarray(n)] : [];
    this.length -= n;
    return all.subarray(0, n);
  }
}

export interface Framebuffer {
  width: number;
  height: number;
}

const MSG = { setPixelFormat: 0, setEncodings: 2, updateRequest: 3 } as const;
const SERVER = { update: 0, colourMap: 1, bell: 2, cutText: 3 } as const;
const ENCODING_RAW = 0;
const BYTES_PER_PIXEL = 4;

export class RfbClient {
  private readonly reader: Reader;
  fb: Framebuffer = { width: 0, height: 0 };

  constructor(private readonly stream: Duplex) {
    this.reader = new Reader(stream);
  }

  /** Version, security None, ClientInit (shared), pixel format, Raw encoding. */
  async handshake(): Promise<Framebuffer> {
    const version = (await this.reader.read(12)).toString("latin1");
    if (!/^RFB 003\.00[78]\n$/.test(version))
      throw new Error(`not RFB: ${JSON.stringify(version)}`);
    this.stream.write("RFB 003.008\n");
    const count = (await this.reader.read(1)).readUInt8(0);
    if (count === 0) throw new Error("the VNC server refused the connection");
    const types = [...(await this.reader.read(count))];
    if (!types.includes(1)) throw new Error(`no security type None among ${types.join(",")}`);
    this.stream.write(Buffer.from([1]));
    const result = (await this.reader.read(4)).readUInt32BE(0);
    if (result !== 0) throw new Error(`VNC security result ${result}`);
    this.stream.write(Buffer.from([1])); // shared
    const init = await this.reader.read(24);
    this.fb = { width: init.readUInt16BE(0), height: init.readUInt16BE(2) };
    await this.reader.read(init.readUInt32BE(20)); // the desktop name
    const format = Buffer.alloc(20);
    format.writeUInt8(MSG.setPixelFormat, 0);
    format.set([32, 24, 0, 1], 4); // bpp, depth, little-endian, true colour
    format.writeUInt16BE(255, 8);
    format.writeUInt16BE(255, 10);
    format.writeUInt16BE(255, 12);
    format.set([16, 8, 0], 14);
    const encodings = Buffer.alloc(8);
    encodings.writeUInt8(MSG.setEncodings, 0);
    encodings.writeUInt16BE(1, 2);
    encodings.writeInt32BE(ENCODING_RAW, 4);
    this.stream.write(Buffer.concat([format, encodings]));
    return this.fb;
  }

  request(incremental: boolean): void {
    const m = Buffer.alloc(10);
    m.writeUInt8(MSG.updateRequest, 0);
    m.writeUInt8(incremental ? 1 : 0, 1);
    m.writeUInt16BE(this.fb.width, 6);
    m.writeUInt16BE(this.fb.height, 8);
    this.stream.write(m);
  }

  /** Reads server messages until one FramebufferUpdate has arrived whole; its pixel bytes. */
  async nextUpdate(): Promise<number> {
    for (;;) {
      const type = (await this.reader.read(1)).readUInt8(0);
      if (type === SERVER.bell) continue;
      if (type === SERVER.cutText) {
        const head = await this.reader.read(7);
        await this.reader.read(head.readUInt32BE(3));
        continue;
      }
      if (type !== SERVER.update) throw new Error(`unexpected RFB server message ${type}`);
      const rects = (await this.reader.read(3)).readUInt16BE(1);
      let bytes = 0;
      for (let i = 0; i < rects; i++) {
        const r = await this.reader.read(12);
        const encoding = r.readInt32BE(8);
        if (encoding !== ENCODING_RAW) throw new Error(`unasked-for RFB encoding ${encoding}`);
        const size = r.readUInt16BE(4) * r.readUInt16BE(6) * BYTES_PER_PIXEL;
        if (size > 0) await this.reader.read(size);
        bytes += size;
      }
      return bytes;
    }
  }

  close(): void {
    this.stream.destroy();
  }
}

/** Milliseconds from `open()` to the first whole frame, and the frame's size. */
export async function firstFrame(
  open: () => Promise<Duplex>,
): Promise<{ ms: number; client: RfbClient }> {
  const t0 = performance.now();
  const client = new RfbClient(await open());
  await client.handshake();
  client.request(false);
  await client.nextUpdate();
  return { ms: performance.now() - t0, client };
}

/** Incremental updates received per second over `ms`, each asked for when the last arrived. */
export async function framesPerSecond(
  client: RfbClient,
  ms: number,
): Promise<{ fps: number; mibPerSec: number }> {
  const t0 = performance.now();
  let frames = 0;
  let bytes = 0;
  while (performance.now() - t0 < ms) {
    client.request(true);
    bytes += await client.nextUpdate();
    frames++;
  }
  const seconds = (performance.now() - t0) / 1000;
  return { fps: frames / seconds, mibPerSec: bytes / (1 << 20) / seconds };
}
