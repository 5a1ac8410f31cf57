// Writing to a stream we do not own (stdout): backpressure respected, the stream left open, and a
// stream that fails midway reported as E_IO. A reader that goes away (`| head`: EPIPE) or a full
// disk behind a redirect (ENOSPC) must never look like success with a short output, nor leave the
// writer waiting for a 'drain' that will not come.
//
// Failures are taken from 'error' events, not from the stream's state: Node's process.stdout
// stays neither `destroyed` nor `errored` after a failed write, and a later write to the closed
// pipe may even succeed.
import type { Writable } from 'node:stream';
import { IoError, OcilayoutError, errnoCode, isOcilayoutError, wrapFsError } from '../errors.js';

const EMPTY = Buffer.alloc(0);

/**
 * Copy `source` into `sink` (named `what` in errors, e.g. "stdout") and wait until the sink took
 * the last byte. Throws E_IO when the sink fails or closes; errors of the source propagate.
 */
export async function writeToStream(
  source: AsyncIterable<Uint8Array>,
  sink: Writable,
  what: string,
): Promise<void> {
  const watch = new WriteWatch(sink);
  try {
    for await (const chunk of source) {
      watch.check(what);
      if (!sink.write(chunk)) await watch.drained(what);
    }
    await watch.flushed(what);
  } finally {
    watch.stop();
  }
}

/**
 * Records the first 'error' a writable emits while watched (which also keeps that event from
 * crashing the process), and waits on the writable in ways that end when it fails.
 */
export class WriteWatch {
  private failed = false;
  private failure: unknown;
  private readonly onError = (err: unknown): void => {
    if (this.failed) return;
    this.failed = true;
    this.failure = err;
  };

  constructor(private readonly sink: Writable) {
    sink.on('error', this.onError);
  }

  stop(): void {
    this.sink.off('error', this.onError);
  }

  /** The failure seen so far, as E_IO; undefined while the sink is healthy. */
  error(what: string): OcilayoutError | undefined {
    if (this.failed) return streamWriteError(this.failure, what);
    if (this.sink.destroyed || (this.sink.errored ?? null) !== null) {
      return streamWriteError(this.sink.errored, what);
    }
    return undefined;
  }

  check(what: string): void {
    const err = this.error(what);
    if (err !== undefined) throw err;
  }

  /** After write() returned false: resolves on 'drain', throws E_IO on failure or close. */
  drained(what: string): Promise<void> {
    this.check(what);
    const sink = this.sink;
    return new Promise((resolve, reject) => {
      const done = (): void => {
        sink.off('drain', done);
        sink.off('close', done);
        sink.off('error', done);
        // Our own onError ran first (it was added first), so error() sees an 'error' already.
        const err = this.error(what) ?? (sink.writableNeedDrain ? closed(what) : undefined);
        if (err === undefined) resolve();
        else reject(err);
      };
      sink.on('drain', done);
      sink.on('close', done);
      sink.on('error', done);
    });
  }

  /**
   * Resolves once everything written so far has left the sink's buffer (an empty write completes
   * after all earlier ones; none is made when nothing is pending: an empty write to /dev/full
   * fails too). Throws E_IO if the sink failed at any point.
   */
  async flushed(what: string): Promise<void> {
    this.check(what);
    if (this.sink.writableLength > 0) {
      await new Promise<void>((resolve) => {
        this.sink.write(EMPTY, (err) => {
          if (err !== undefined && err !== null) this.onError(err);
          resolve();
        });
      });
    }
    // A failed write's 'error' event is emitted on a later tick than its callback.
    await new Promise((resolve) => setImmediate(resolve));
    this.check(what);
  }
}

/** The E_IO for a failed write to a stream: EPIPE named as the reader going away. */
export function streamWriteError(err: unknown, what: string): OcilayoutError {
  if (isOcilayoutError(err)) return err;
  const code = errnoCode(err);
  if (code === 'EPIPE') {
    return new IoError(
      'E_IO',
      `${what} was closed by its reader before all output was written (EPIPE)`,
      { errno: code },
      { cause: err, hint: 'the output is incomplete; let the reader take all of it' },
    );
  }
  if (code === undefined || code.startsWith('ERR_')) {
    // Closed without an errno of its own (or Node's ERR_STREAM_DESTROYED for a later write).
    return closed(what, err);
  }
  return wrapFsError(err, `write to ${what}`);
}

function closed(what: string, cause?: unknown): OcilayoutError {
  return new IoError(
    'E_IO',
    `${what} was closed before all output was written`,
    {},
    cause === undefined || cause === null ? {} : { cause },
  );
}
