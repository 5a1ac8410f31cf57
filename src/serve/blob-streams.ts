// Blob response bodies: at most so many at once (more wait their turn), each reading its file
// into one buffer of its own that it reuses, sized so that all of them together hold about a
// fixed budget, and writing it only as fast as the client takes it.
import { read } from 'node:fs';
import type { ServerResponse } from 'node:http';
import { algorithmOf, newHash, type Digest } from '../digest.js';
import { digestMismatch, sizeMismatch } from '../store/verify-stream.js';

/** The largest read: fewer, larger reads and socket writes cost less CPU per byte. */
const MAX_CHUNK = 1024 * 1024;
/** The smallest read, however many bodies are open. */
const MIN_CHUNK = 64 * 1024;

export interface Slot {
  /** Settles when the body may start, or at once after release(). */
  ready: Promise<void>;
  /** Give the slot back (or leave the queue); idempotent. */
  release: () => void;
}

/**
 * How many blob bodies stream at once. Memory grows with open bodies, not with bytes served, so
 * this (and the buffer budget shared by the bodies) is what bounds it under many pulls. A waiting
 * request holds nothing but its socket. A client that stops reading keeps its slot until the
 * server's idle timeout closes its connection, which frees it.
 */
export class BlobStreamSlots {
  private active = 0;
  private readonly queue: (() => void)[] = [];

  constructor(
    readonly max: number,
    /** Bytes of read buffers shared by the open bodies. */
    readonly budgetBytes = 16 * 1024 * 1024,
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
    if (this.active < this.max) grant();
    else this.queue.push(grant);
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
    return { ready, release };
  }

  /** Bytes the next read of a body should ask for: the budget shared by the open bodies. */
  chunkBytes(): number {
    const share = this.budgetBytes / Math.max(1, this.active);
    let chunk = MIN_CHUNK;
    while (chunk * 2 <= share && chunk < MAX_CHUNK) chunk *= 2;
    return chunk;
  }
}

/**
 * Send `length` bytes of the file open at `fd` from `start` as the body of `res` (headers sent),
 * then end it. With `verify`, the bytes are hashed as they go and the last read is checked before
 * it is written: a file that does not hold `verify.digest` ends the body short (the caller cuts
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
  verify?: { digest: Digest },
): Promise<void> {
  const hash = verify === undefined ? undefined : newHash(algorithmOf(verify.digest));
  const what = `blob ${verify?.digest ?? ''}`.trim();
  let buf: Buffer | undefined;
  let sent = 0;
  while (sent < length) {
    const want = Math.min(slots.chunkBytes(), length);
    // A new buffer only when the share changed: a read never allocates otherwise.
    if (buf?.length !== want) buf = Buffer.allocUnsafeSlow(want);
    const n = await readAt(fd, buf, Math.min(buf.length, length - sent), start + sent);
    if (n === 0) throw sizeMismatch(what, length, sent, false);
    const chunk = buf.subarray(0, n);
    sent += n;
    if (hash !== undefined && verify !== undefined) {
      hash.update(chunk);
      if (sent === length) {
        const found = `${algorithmOf(verify.digest)}:${hash.digest('hex')}`;
        if (found !== verify.digest) throw digestMismatch(what, verify.digest, found);
      }
    }
    await writeChunk(res, chunk);
  }
  await new Promise<void>((resolve) => res.end(resolve));
}

function readAt(fd: number, buf: Buffer, length: number, position: number): Promise<number> {
  return new Promise((resolve, reject) => {
    read(fd, buf, 0, length, position, (err, n) => (err === null ? resolve(n) : reject(err)));
  });
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
