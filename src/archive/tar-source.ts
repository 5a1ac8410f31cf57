// Reads a tar archive (plain, gzip or zstd, file or stream) entry by entry through tar-stream,
// judging each header before its body is handed on. Owns the input side of import: codec detection,
// expansion limits, truncation detection, and turning parser errors into E_CORRUPT_ARCHIVE. Writes
// nothing.
import { createReadStream, statSync } from 'node:fs';
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
  return { stream: createReadStream(path, { highWaterMark: READ_CHUNK }), name: path, size };
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

  const raw = input.stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const head = await readHead(raw, 8).catch((err: unknown) => {
    input.stream.destroy();
    throw wrapFsError(err, `read ${input.name}`);
  });
  const compression = sniffCompression(head.bytes);
  try {
    assertSupportedArchiveCodec(compression, input.name);
  } catch (err) {
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
    for (;;) {
      const n = await raw.next();
      if (n.done === true) return;
      inputBytes += n.value.byteLength;
      options.onProgress?.(inputBytes, input.size);
      yield n.value;
    }
  }
  const codec = compression === 'gzip' || compression === 'zstd' ? compression : undefined;
  const tarChunks: AsyncIterable<Buffer> =
    codec === undefined ? counted() : decompress(codec, counted());

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
      if (ended) continue;
      if (framed.archive.byteLength > 0 && !extract.write(framed.archive)) await waitDrain(extract);
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
      input.stream.destroy();
    }
  }
  await feeding;
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
