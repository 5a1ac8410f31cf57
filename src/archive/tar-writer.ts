// Deterministic tar output over tar-stream's pack: fixed metadata on every entry (mtime 0, uid/gid
// 0, no user names, 0644 files / 0755 directories), the caller's order, backpressure end to end,
// and output coalesced into chunks of at least 1 MiB (one write per chunk, not per header).
import * as tar from 'tar-stream';
import type { Pack } from 'tar-stream';
import { waitDrain } from './streams.js';

/** The epoch: every entry's mtime, so the same content gives the same bytes on any day. */
const FIXED_MTIME = new Date(0);
const OUT_CHUNK = 1024 * 1024;
/** Chunks at least this big pass through without being copied into a coalesced buffer. */
const PASS_THROUGH = 64 * 1024;

export interface TarWriter {
  directory(name: string): Promise<void>;
  file(name: string, bytes: Uint8Array): Promise<void>;
  /** A file whose body is streamed; `size` must be exact (tar headers come first). */
  stream(name: string, size: number, body: AsyncIterable<Uint8Array>): Promise<void>;
}

type EntryType = 'file' | 'directory';

function header(name: string, type: EntryType, size: number) {
  return {
    name,
    type,
    size,
    mode: type === 'directory' ? 0o755 : 0o644,
    mtime: FIXED_MTIME,
    uid: 0,
    gid: 0,
    uname: '',
    gname: '',
  };
}

function entryDone(resolve: () => void, reject: (e: Error) => void) {
  return (err?: Error | null): void => (err ? reject(err) : resolve());
}

function packWriter(pack: Pack): TarWriter {
  return {
    directory: (name) =>
      new Promise((resolve, reject) => {
        pack.entry(header(name, 'directory', 0), entryDone(resolve, reject));
      }),
    file: (name, bytes) =>
      new Promise((resolve, reject) => {
        pack.entry(header(name, 'file', bytes.byteLength), bytes, entryDone(resolve, reject));
      }),
    async stream(name, size, body) {
      let finish!: Promise<void>;
      const sink = await new Promise<ReturnType<Pack['entry']>>((resolveSink) => {
        finish = new Promise<void>((resolve, reject) => {
          resolveSink(pack.entry(header(name, 'file', size), entryDone(resolve, reject)));
        });
      });
      finish.catch(() => undefined); // awaited below; avoid an unhandled rejection meanwhile
      sink.on('error', () => undefined); // reported through `finish` and our own throw
      try {
        for await (const chunk of body) {
          if (!sink.write(chunk)) await waitDrain(sink);
          if (sink.destroyed) break;
        }
      } catch (err) {
        sink.destroy(err instanceof Error ? err : new Error(String(err)));
        throw err;
      }
      sink.end(undefined);
      await finish;
    },
  };
}

/**
 * Run `produce` against a fresh pack and yield the archive's bytes. An error from `produce` (a blob
 * failing verification, say) ends the iteration with that error; stopping the iteration early
 * destroys the pack and lets `produce` fail. `copied` is told of each chunk of a body that went
 * into a coalesced chunk (a blob's short last read): nothing refers to it any more, so its buffer
 * can be read into again (export's ChunkRing; else a big export leaks one buffer per blob).
 */
export async function* tarChunks(
  produce: (w: TarWriter) => Promise<void>,
  copied?: (chunk: Buffer) => void,
): AsyncGenerator<Buffer> {
  const pack = tar.pack();
  let failure: unknown;
  const producing = produce(packWriter(pack)).then(
    () => pack.finalize(),
    (err: unknown) => {
      failure ??= err;
      pack.destroy(err instanceof Error ? err : new Error(String(err)));
    },
  );
  let pending: Buffer[] = [];
  let pendingBytes = 0;
  const flush = (): Buffer => {
    const out = pending.length === 1 ? pending[0]! : Buffer.concat(pending, pendingBytes);
    if (out !== pending[0]) for (const piece of pending) copied?.(piece);
    pending = [];
    pendingBytes = 0;
    return out;
  };
  try {
    for await (const raw of pack) {
      const chunk = raw as Buffer;
      if (chunk.byteLength >= PASS_THROUGH) {
        if (pendingBytes > 0) yield flush();
        yield chunk;
        continue;
      }
      pending.push(chunk);
      pendingBytes += chunk.byteLength;
      if (pendingBytes >= OUT_CHUNK) yield flush();
    }
    if (pendingBytes > 0) yield flush();
  } catch (err) {
    failure ??= err;
  } finally {
    pack.destroy(null);
    await producing;
  }
  if (failure !== undefined)
    throw failure instanceof Error ? failure : new Error('tar writer failed');
}
