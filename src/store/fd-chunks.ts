// Reading an open blob file as a stream of 1 MiB chunks, for a caller that writes each chunk out
// before it asks for the next one (export's archive file): the chunks come from a ChunkRing, and
// the caller hands each back once written, so a big export reuses a handful of buffers instead of
// leaving one dead 1 MiB buffer per read for the GC (spec-notes/performance.md, "Memory").
import { read } from 'node:fs';
import { sizeMismatch } from './verify-stream.js';

const CHUNK = 1024 * 1024;
/** Free buffers kept for reuse; more than the few in flight at once would only hold memory. */
const KEEP_FREE = 8;

/**
 * Buffers to read into, reused once their owner says a chunk cut from one is no longer referenced
 * anywhere. A chunk never handed back is simply left to the GC, so forgetting a release costs
 * memory, never correctness; releasing a chunk still in use would corrupt output, hence release
 * only where the last consumer is known (see writeArchive).
 */
export class ChunkRing {
  private readonly free: ArrayBuffer[] = [];
  /** Weak: a buffer never handed back must stay collectable (gzip output never hands any back). */
  private readonly inUse = new WeakSet<ArrayBuffer>();

  /** A buffer of `CHUNK` bytes, whose contents are garbage. */
  take(): Buffer {
    const reused = this.free.pop();
    // allocUnsafeSlow: never a slice of Node's shared pool, so the ArrayBuffer is the chunk's own.
    const buf = reused === undefined ? Buffer.allocUnsafeSlow(CHUNK) : Buffer.from(reused);
    this.inUse.add(buf.buffer);
    return buf;
  }

  /** Give back the buffer under `chunk` (a view cut from take()); anything else is ignored. */
  release(chunk: Uint8Array): void {
    const ab = chunk.buffer as ArrayBuffer;
    if (!this.inUse.delete(ab)) return;
    if (this.free.length < KEEP_FREE) this.free.push(ab);
  }
}

/** pread of up to `length` bytes into the start of `buf`: the byte count (0 at EOF). */
export function readAt(fd: number, buf: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    read(fd, buf, 0, length, position, (err, n) => (err ? reject(err) : resolve(n)));
  });
}

/**
 * Everything in `fd` (left open) from offset 0, as chunks of up to 1 MiB, with the next read in
 * flight while the caller writes this one. Positional reads (pread): nothing else reading the same
 * fd (a hash worker) moves an offset under us. With `expect`, throws E_SIZE_MISMATCH as soon as
 * the file holds more than its `size` (before yielding any byte past it) or ends short of it,
 * naming the file `what`; without it, reads to the end. fs errors pass as they are (the caller
 * knows what it read).
 */
export async function* fdChunks(
  fd: number,
  ring: ChunkRing,
  expect?: { size: number; what: string },
): AsyncGenerator<Buffer> {
  let position = 0;
  let buf = ring.take();
  let pending: Promise<number> | undefined = readAt(fd, buf, buf.byteLength, 0);
  try {
    for (;;) {
      const n: number = await pending;
      pending = undefined;
      if (n === 0) {
        ring.release(buf);
        if (expect !== undefined && position !== expect.size) {
          throw sizeMismatch(expect.what, expect.size, position, false);
        }
        return;
      }
      position += n;
      if (expect !== undefined && position > expect.size) {
        throw sizeMismatch(expect.what, expect.size, position, true);
      }
      const chunk = buf.subarray(0, n);
      buf = ring.take();
      pending = readAt(fd, buf, buf.byteLength, position);
      yield chunk;
    }
  } finally {
    // The consumer may stop early (an error downstream): the read in flight must land before the
    // caller closes the fd, or it could read whatever file reuses the descriptor number.
    await pending?.catch(() => undefined);
  }
}
