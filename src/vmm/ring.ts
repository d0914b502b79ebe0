/**
 * A bounded byte buffer that keeps the most recent `capacity` bytes: what a console client
 * sees replayed when it attaches. Memory stays bounded however long a guest prints.
 */
export class ByteRing {
  private readonly buf: Buffer;
  private start = 0;
  private length = 0;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity <= 0) throw new Error("capacity must be > 0");
    this.buf = Buffer.alloc(capacity);
  }

  get size(): number {
    return this.length;
  }

  push(chunk: Buffer): void {
    // Only the tail of an oversized chunk can survive.
    const data =
      chunk.length > this.capacity ? chunk.subarray(chunk.length - this.capacity) : chunk;
    let end = (this.start + this.length) % this.capacity;
    let written = 0;
    while (written < data.length) {
      const n = Math.min(data.length - written, this.capacity - end);
      data.copy(this.buf, end, written, written + n);
      written += n;
      end = (end + n) % this.capacity;
    }
    const overflow = Math.max(0, this.length + data.length - this.capacity);
    this.start = (this.start + overflow) % this.capacity;
    this.length = Math.min(this.capacity, this.length + data.length);
  }

  /** A copy of the buffered bytes, oldest first. */
  contents(): Buffer {
    const first = Math.min(this.length, this.capacity - this.start);
    return Buffer.concat([
      this.buf.subarray(this.start, this.start + first),
      this.buf.subarray(0, this.length - first),
    ]);
  }
}
