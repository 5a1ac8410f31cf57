// Blob response bodies: at most so many at once (more wait their turn), each reading its file
// into one buffer that it reuses and then hands to the next body, writing it only as fast as the
// client takes it. So the memory of blob responses is bounded by the number of slots, whatever
// the number of clients or bytes.
import type { ServerResponse } from 'node:http';
import { algorithmOf, newHash, type Digest } from '../digest.js';
import { readAt } from '../store/fd-chunks.js';
import { checkDigest, sizeMismatch } from '../store/verify-stream.js';

/** Bytes read (and written to the socket) at a time while many bodies stream. */
const READ_BYTES = 256 * 1024;
/**
 * Bytes read at a time by a body that starts while at most BIG_READ_BODIES others stream (one or
 * a few pulls): fewer reads and socket writes cost less CPU per byte, and a few such buffers
 * cost little memory.
 */
const BIG_READ_BYTES = 1024 * 1024;
const BIG_READ_BODIES = 8;

export interface Slot {
  /** Settles when the body may start, or at once after release(). */
  ready: Promise<void>;
  /** Whether it had to wait its turn (ready had not settled when it was taken). */
  queued: boolean;
  /** Give the slot back (or leave the queue); idempotent. */
  release: () => void;
}

/**
 * How many blob bodies stream at once. Memory grows with open bodies, not with bytes served, so
 * this (with one reused buffer per body) is what bounds it under many pulls. A waiting
 * request holds nothing but its socket. A client that stops reading keeps its slot until the
 * server's idle timeout closes its connection, which frees it.
 */
export class BlobStreamSlots {
  private active = 0;
  private readonly queue: (() => void)[] = [];
  /** Read buffers of finished bodies, small and big. */
  private readonly free: Buffer[] = [];
  private readonly freeBig: Buffer[] = [];

  constructor(
    readonly max: number,
    readonly readBytes = READ_BYTES,
    readonly bigReadBytes = BIG_READ_BYTES,
    readonly bigReadBodies = BIG_READ_BODIES,
  ) {}

  /** Bodies streaming now. */
  get running(): number {
    return this.active;
  }

  /** Requests waiting for a slot. */
  get waiting(): number {
    return this.queue.length;
  }

  /** A place among the bodies: ready at once while fewer than `max` run, else in turn. */
  take(): Slot {
    let state: 'waiting' | 'running' | 'released' = 'waiting';
    let settle!: () => void;
    const ready = new Promise<void>((resolve) => (settle = resolve));
    const grant = (): void => {
      state = 'running';
      this.active++;
      settle();
    };
    const queued = this.active >= this.max;
    if (queued) this.queue.push(grant);
    else grant();
    const release = (): void => {
      if (state === 'running') {
        this.active--;
        this.queue.shift()?.();
      } else if (state === 'waiting') {
        // Left the queue (the client went away): settle so the request can find that out.
        const i = this.queue.indexOf(grant);
        if (i >= 0) this.queue.splice(i, 1);
        settle();
      }
      state = 'released';
    };
    return { ready, queued, release };
  }

  /**
   * A read buffer for a body that holds a slot: big while few bodies stream, else small; one a
   * finished body gave back when there is one. Every body allocating its own left megabytes of
   * dead buffers for the GC to find (V8 collects external memory late): the resident set grew
   * with the number of responses, not just the open ones. At most bigReadBodies big buffers are in
   * use (a body gets one only while no more than that stream), and as many kept; small ones, at
   * most max of each.
   */
  buffer(): Buffer {
    if (this.active <= this.bigReadBodies) {
      return this.freeBig.pop() ?? Buffer.allocUnsafeSlow(this.bigReadBytes);
    }
    return this.free.pop() ?? Buffer.allocUnsafeSlow(this.readBytes);
  }

  /** Give back a buffer that no write still refers to (every write that used it completed). */
  recycle(buf: Buffer): void {
    if (buf.length === this.bigReadBytes && this.freeBig.length < this.bigReadBodies) {
      this.freeBig.push(buf);
    } else if (buf.length === this.readBytes && this.free.length < this.max) {
      this.free.push(buf);
    }
  }
}

/**
 * Send `length` bytes of the file open at `fd` from `start` as the body of `res` (headers sent),
 * then end it. With `verify`, the bytes are hashed as they go and the last read is checked before
 * it is written: a file that does not hold `digest` ends the body short (the caller cuts
 * the connection), never complete under the wrong digest. Each read waits until the previous one
 * was handed to the socket, so a slow client slows the reads instead of filling memory, and the
 * one buffer is reused. Throws E_SIZE_MISMATCH (the file is shorter), E_DIGEST_MISMATCH, fs and
 * socket errors.
 */
export async function sendFileBody(
  res: ServerResponse,
  fd: number,
  start: number,
  length: number,
  slots: BlobStreamSlots,
  digest: Digest,
  verify: boolean,
): Promise<void> {
  const hash = verify ? newHash(algorithmOf(digest)) : undefined;
  const what = `blob ${digest}`;
  const buf = slots.buffer();
  let sent = 0;
  while (sent < length) {
    const n = await readAt(fd, buf, Math.min(buf.length, length - sent), start + sent);
    if (n === 0) throw sizeMismatch(what, length, sent, false);
    const chunk = buf.subarray(0, n);
    sent += n;
    if (hash !== undefined) {
      hash.update(chunk);
      if (sent === length) {
        checkDigest(what, digest, hash.digest('hex'));
      }
    }
    await writeChunk(res, chunk);
  }
  // Every write has completed: nothing refers to the buffer any more. (After an error a write
  // may still be pending: that buffer is left to the GC.)
  slots.recycle(buf);
  await new Promise<void>((resolve) => res.end(resolve));
}

/**
 * Write `chunk` and wait until the socket has taken it (its buffer may then be reused). Rejects
 * when the response closes first (the client went away, or the idle timeout cut it).
 */
function writeChunk(res: ServerResponse, chunk: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    const onClose = (): void => reject(prematureClose());
    res.once('close', onClose);
    res.write(chunk, (err) => {
      res.off('close', onClose);
      if (err === null || err === undefined) resolve();
      else reject(err);
    });
  });
}

function prematureClose(): Error {
  return Object.assign(new Error('response closed before the body was sent'), {
    code: 'ERR_STREAM_PREMATURE_CLOSE',
  });
}
