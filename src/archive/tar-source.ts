// Reads a tar archive (plain, gzip or zstd, file or stream) entry by entry through tar-stream,
// judging each header before its body is handed on. Owns the input side of import: codec detection,
// expansion limits, truncation detection, and turning parser errors into E_CORRUPT_ARCHIVE. Writes
// nothing.
import { createReadStream, readSync, statSync, type ReadStream } from 'node:fs';
import { once } from 'node:events';
import { Readable } from 'node:stream';
import * as tar from 'tar-stream';
import type { Extract } from 'tar-stream';
import { IntegrityError, UnsafeInputError, isOcilayoutError, wrapFsError } from '../errors.js';
import {
  assertSupportedArchiveCodec,
  checkExpansion,
  codecFailureHint,
  decompress,
  sniffCompression,
  type Compression,
  type ExpansionLimits,
} from './compression.js';
import { ChunkRing, fdChunks } from '../store/fd-chunks.js';
import { judgeEntry, type EntryVerdict } from './safe-entry.js';
import { waitDrain } from './streams.js';
import { TarFraming } from './tar-framing.js';

/** One archive entry: its header and a stream of its body (tar-stream's Source). */
export type TarEntry = Extract extends AsyncIterable<infer S> ? S : never;
type Entry = TarEntry;

const READ_CHUNK = 1024 * 1024;

export interface ArchiveInput {
  stream: Readable;
  /** For messages: a file name or "stdin". */
  name: string;
  /** Input size when known (a file), for progress. */
  size?: number | undefined;
}

/** Open an archive file for streaming in 1 MiB chunks. Throws E_NOT_FOUND / E_IO. */
export function openArchiveFile(path: string): ArchiveInput {
  let size: number;
  try {
    const st = statSync(path);
    if (!st.isFile())
      throw Object.assign(new Error(`${path} is not a regular file`), { code: 'EISDIR' });
    size = st.size;
  } catch (err) {
    throw wrapFsError(err, `open archive ${path}`, { path });
  }
  const stream = createReadStream(path, { highWaterMark: READ_CHUNK });
  ownFiles.add(stream);
  return { stream, name: path, size };
}

/**
 * Streams made by openArchiveFile: readArchive reads these through their fd with positional reads
 * into reused buffers (fdChunks, and FedChunks for when each is free) instead of through the
 * stream, which allocates a fresh 1 MiB buffer per read. Anyone else reading them gets the stream
 * as it is; readArchive never reads the stream itself, only destroys it (closing the fd) once the
 * last read has landed.
 */
const ownFiles = new WeakSet<Readable>();

/**
 * Tar bytes handed on by readArchive and not yet known to be consumed: a chunk's buffer goes back
 * to the ring only once everything downstream (TarFraming, tar-stream, the entry handler) is past
 * its last byte. Offsets are in the coordinates of the bytes written to the parser.
 */
class FedChunks {
  private readonly fed: { chunk: Buffer; end: number }[] = [];
  /** Every byte of the parser's input before this offset is consumed. */
  private consumedTo = 0;

  constructor(private readonly ring: ChunkRing) {}

  /** `chunk` (from the ring) was handed on; its last byte is at parser offset `end` - 1. */
  add(chunk: Buffer, end: number): void {
    if (end <= this.consumedTo) {
      this.ring.release(chunk);
      return;
    }
    this.fed.push({ chunk, end });
    // A consumer that never reports (it keeps chunks until its entry ends) must not make the list
    // grow with the entry: the oldest chunk is forgotten, which only leaves it to the GC.
    if (this.fed.length > MAX_FED) this.fed.shift();
  }

  consumed(offset: number): void {
    if (offset <= this.consumedTo) return;
    this.consumedTo = offset;
    while (this.fed.length > 0 && this.fed[0]!.end <= offset)
      this.ring.release(this.fed.shift()!.chunk);
  }
}

/** Chunks of the input awaiting consumption that FedChunks tracks (more are left to the GC). */
const MAX_FED = 16;

/**
 * Reports how far an entry handler is through a body: set by readArchive for the entry it hands
 * out, read by transientChunks.
 */
const bodyProgress = new WeakMap<object, (bytes: number) => void>();

/**
 * The chunks of `body` for a consumer that is done with a chunk once it has asked for the chunk
 * after the next one (it hashes or copies it, or writes it and waits for that write before it
 * starts the next: BlobStore.put with `transientChunks`), and keeps no other reference to it:
 * readArchive may then reuse the chunk's memory for later input. A consumer that keeps chunks
 * longer (to concatenate them later) must iterate `body` itself instead.
 */
export async function* transientChunks(body: TarEntry): AsyncGenerator<Buffer> {
  const report = bodyProgress.get(body);
  let done = 0;
  let previous = 0;
  for await (const chunk of body) {
    yield chunk as Buffer;
    // Asked for the next chunk: the one before this is done with.
    done += previous;
    previous = (chunk as Buffer).byteLength;
    report?.(done);
  }
}

export interface ReadArchiveOptions {
  limits: ExpansionLimits;
  /** Bytes the destination can still take; an entry larger than this is refused before reading. */
  freeBytes?: (() => number) | undefined;
  /** At most this many entries (directories included). */
  maxEntries?: number | undefined;
  /** Input bytes consumed so far (compressed side), and the input size when known. */
  onProgress?: ((bytesRead: number, total: number | undefined) => void) | undefined;
}

export interface ReadArchiveSummary {
  compression: Compression;
  inputBytes: number;
  tarBytes: number;
  entries: number;
  /**
   * Bytes after the end-of-archive marker that are not zero padding: read (the limits apply) but
   * ignored, as every other tar reader ignores them.
   */
  trailing?: { offset: number; bytes: number } | undefined;
}

/** Receives each accepted entry; must consume `body` or leave it to be drained. */
export type EntryHandler = (verdict: EntryVerdict, body: Entry) => Promise<void>;

/**
 * Stream every entry of `input` to `handle`, in archive order. Throws E_UNSAFE_ENTRY /
 * E_CORRUPT_ARCHIVE / E_TOO_LARGE (from the headers, the parser, the codec or the limits), or
 * whatever `handle` throws; the input is destroyed on any failure.
 */
export async function readArchive(
  input: ArchiveInput,
  options: ReadArchiveOptions,
  handle: EntryHandler,
): Promise<ReadArchiveSummary> {
  const maxEntries = options.maxEntries ?? 1_000_000;
  let inputBytes = 0;
  let tarBytes = 0;
  let entries = 0;
  let declared = 0;
  let failure: unknown;
  let handlerError: unknown;
  const fail = (err: unknown): void => {
    failure ??= err;
  };

  // Our own uncompressed archive file: read through its fd into reused buffers (FedChunks says
  // when each is free). Compressed, the codec makes its own buffers anyway: the stream as before.
  const own = await plainFile(input).catch((err: unknown) => {
    input.stream.destroy();
    throw wrapFsError(err, `read ${input.name}`);
  });
  const ring = own === undefined ? undefined : new ChunkRing();
  const raw =
    own === undefined
      ? (input.stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>)
      : fdChunks(fdOf(own), ring!);
  const head = await readHead(raw, SNIFF_BYTES).catch((err: unknown) => {
    input.stream.destroy();
    throw wrapFsError(err, `read ${input.name}`);
  });
  const compression = sniffCompression(head.bytes);
  try {
    assertSupportedArchiveCodec(compression, input.name);
  } catch (err) {
    if (own !== undefined) await raw.return?.(undefined);
    input.stream.destroy();
    throw err;
  }
  async function* counted(): AsyncGenerator<Buffer> {
    for (const chunk of head.chunks) {
      inputBytes += chunk.byteLength;
      options.onProgress?.(inputBytes, input.size);
      yield chunk;
    }
    if (head.done) return;
    try {
      for (;;) {
        const n = await raw.next();
        if (n.done === true) return;
        inputBytes += n.value.byteLength;
        options.onProgress?.(inputBytes, input.size);
        yield n.value;
      }
    } finally {
      // Stopped early (a failure): fdChunks lets its read in flight land before the fd closes.
      if (own !== undefined) await raw.return?.(undefined);
    }
  }
  const codec = compression === 'gzip' || compression === 'zstd' ? compression : undefined;
  const tarChunks: AsyncIterable<Buffer> =
    codec === undefined ? counted() : decompress(codec, counted());
  // Behind a codec the tar bytes are the codec's own buffers: the input's are never reused.
  const fed = ring !== undefined && codec === undefined ? new FedChunks(ring) : undefined;
  let fedBytes = 0;

  const extract = tar.extract();
  let extractError: unknown;
  extract.on('error', (err: unknown) => {
    extractError ??= err;
  });
  const framing = new TarFraming(input.name);
  const feeding = (async () => {
    let ended = false;
    for await (const chunk of tarChunks) {
      tarBytes += chunk.byteLength;
      checkExpansion(options.limits, tarBytes, codec === undefined ? undefined : inputBytes, codec);
      if (failure !== undefined || (extract.destroyed && !ended)) return;
      // Past the marker the input is still read to its end (limits apply, stdin is not cut off).
      const framed = framing.push(chunk);
      const archive = ended ? framed.archive.subarray(0, 0) : framed.archive;
      fedBytes += archive.byteLength;
      // What the parser gets is the chunk's own memory, or a copy (TarFraming keeps only copies).
      fed?.add(chunk, archive.buffer === chunk.buffer && archive.byteLength > 0 ? fedBytes : 0);
      if (ended) continue;
      if (archive.byteLength > 0 && !extract.write(archive)) await waitDrain(extract);
      if (framed.ended) {
        ended = true;
        extract.end(undefined);
      }
    }
    framing.finish();
    if (!ended) extract.end(undefined);
  })().catch((err: unknown) => {
    fail(err);
    extract.destroy(err instanceof Error ? err : new Error(String(err)));
  });

  try {
    for await (const entry of extract) {
      if (++entries > maxEntries) {
        throw new UnsafeInputError('E_TOO_LARGE', `archive has more than ${maxEntries} entries`, {
          limit: maxEntries,
        });
      }
      // tar-stream parses a header only once the entry before it is drained, and keeps no view of
      // a header's bytes: everything before this body has been consumed. Its offset is in the
      // coordinates of what was written to the parser.
      const bodyAt = (entry.header as { byteOffset?: unknown }).byteOffset;
      if (fed !== undefined && typeof bodyAt === 'number' && bodyAt <= fedBytes) {
        fed.consumed(bodyAt);
        bodyProgress.set(entry, (bytes) => fed.consumed(bodyAt + bytes));
      }
      const verdict = judgeEntry(entry.header);
      const size = entry.header.size ?? 0;
      if (verdict.kind === 'file') {
        declared += size;
        checkEntrySize(verdict.path, size, declared, options);
      }
      try {
        await handle(verdict, entry);
      } catch (err) {
        handlerError = err; // the handler's own errors pass through unchanged
        throw err;
      }
      await drain(entry);
    }
  } catch (err) {
    fail(err);
  } finally {
    if (failure !== undefined) {
      extract.destroy(null);
      // Our own file is closed only after the feeder's last read landed (below): a read still in
      // flight on a closed fd could read whatever file reuses the number.
      if (own === undefined) input.stream.destroy();
    }
  }
  await feeding;
  own?.destroy();
  if (failure !== undefined) {
    // A handler's own error passes through, unless it is the parser's error seen through an entry.
    if (failure === handlerError && extractError === undefined && failure instanceof Error) {
      throw failure;
    }
    throw asArchiveError(
      isOcilayoutError(failure) ? failure : (extractError ?? failure),
      input.name,
    );
  }
  if (entries === 0) {
    throw new IntegrityError('E_CORRUPT_ARCHIVE', `${input.name} is empty or not a tar archive`, {
      archive: input.name,
    });
  }
  const after = framing.trailing;
  const trailing =
    after !== undefined && after.data ? { offset: after.offset, bytes: after.bytes } : undefined;
  return { compression, inputBytes, tarBytes, entries, trailing };
}

function checkEntrySize(
  path: string,
  size: number,
  declared: number,
  options: ReadArchiveOptions,
): void {
  if (declared > options.limits.maxBytes) {
    throw new UnsafeInputError(
      'E_TOO_LARGE',
      `archive entry ${path} (${size} bytes) takes the archive past the ${options.limits.maxBytes}-byte limit`,
      { entry: path, size, limit: options.limits.maxBytes },
      { hint: 'raise the limit with --max-size if the archive is trusted' },
    );
  }
  const free = options.freeBytes?.();
  if (free !== undefined && size > free) {
    throw new UnsafeInputError(
      'E_TOO_LARGE',
      `archive entry ${path} claims ${size} bytes but only ${free} bytes are free at the destination`,
      { entry: path, size, free },
    );
  }
}

/** Read until at least `n` bytes (or the end), keeping the chunks to replay. */
async function readHead(
  it: AsyncIterator<Buffer>,
  n: number,
): Promise<{ bytes: Buffer; chunks: Buffer[]; done: boolean }> {
  const chunks: Buffer[] = [];
  let size = 0;
  while (size < n) {
    const r = await it.next();
    if (r.done === true) return { bytes: Buffer.concat(chunks), chunks, done: true };
    chunks.push(r.value);
    size += r.value.byteLength;
  }
  return { bytes: Buffer.concat(chunks).subarray(0, n), chunks, done: false };
}

/**
 * One of openArchiveFile's streams, once open, when its file starts like a plain tar (not gzip or
 * zstd); undefined for anything else. fs errors pass as they are.
 */
async function plainFile(input: ArchiveInput): Promise<ReadStream | undefined> {
  if (!ownFiles.has(input.stream)) return undefined;
  const stream = input.stream as ReadStream;
  if (stream.pending) await once(stream, 'ready');
  const head = Buffer.alloc(SNIFF_BYTES);
  const n = readSync(fdOf(stream), head, 0, SNIFF_BYTES, 0);
  return sniffCompression(head.subarray(0, n)) === 'none' ? stream : undefined;
}

/** The fd of an open ReadStream (Node sets it on open; its typings leave it out). */
function fdOf(stream: ReadStream): number {
  return (stream as unknown as { fd: number }).fd;
}

/** sniffCompression needs no more than this many leading bytes. */
const SNIFF_BYTES = 8;

async function drain(entry: Entry): Promise<void> {
  if (entry.destroyed) return;
  for await (const _ of entry) {
    /* discard */
  }
}

/** Parser and codec errors become E_CORRUPT_ARCHIVE; our own typed errors pass through. */
function asArchiveError(err: unknown, name: string): Error {
  if (isOcilayoutError(err)) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new IntegrityError(
    'E_CORRUPT_ARCHIVE',
    `${name} is not a readable tar archive: ${message}`,
    { archive: name, reason: message },
    {
      cause: err,
      hint:
        codecFailureHint(message) ??
        'the archive may be truncated or damaged; nothing was imported',
    },
  );
}
