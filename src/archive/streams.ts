// Stream plumbing shared by the archive readers and writers (Node streams and tar-stream's streamx
// streams alike): wait until a writable wants more, and run chunks through a codec (gzip, gunzip).
import { Readable, type Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';

/**
 * Resolves on 'drain' or 'close', rejects on 'error'. Callers check `destroyed` afterwards. A
 * stream destroyed already (its 'close' may have fired while the caller awaited something else)
 * resolves at once: waiting for an event that came and went would hang the writer for good.
 */
export function waitDrain(w: NodeJS.EventEmitter & { destroyed?: boolean }): Promise<void> {
  if (w.destroyed === true) return Promise.resolve();
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      w.off('drain', onDrain);
      w.off('close', onDrain);
      w.off('error', onError);
    };
    const onDrain = (): void => {
      cleanup();
      resolve();
    };
    const onError = (err: unknown): void => {
      cleanup();
      reject(err instanceof Error ? err : new Error(String(err)));
    };
    w.on('drain', onDrain);
    w.on('close', onDrain);
    w.on('error', onError);
  });
}

/**
 * `source` run through `codec`, as chunks. A failure on either side surfaces from the iteration;
 * the codec is destroyed however the consumer stops (early return, error).
 */
export async function* throughCodec(
  source: AsyncIterable<Buffer>,
  codec: Transform,
): AsyncGenerator<Buffer> {
  const done = pipeline(Readable.from(source, { objectMode: false }), codec);
  done.catch(() => undefined); // surfaced through the iteration below
  try {
    for await (const chunk of codec) yield chunk as Buffer;
    await done;
  } finally {
    codec.destroy();
  }
}
