// Compression of archives and of the blobs inside them: recognised by magic bytes, never by name.
// Import inflates gzip and zstd archives with an expansion guard (decompression bombs); other codecs
// are refused with a clear message rather than misread as a corrupt tar. zstd needs a runtime whose
// zlib has it (Node 22.15+, 23.8+); on older ones it is a usage error naming the version needed.
import { createGunzip, createGzip, gzipSync } from 'node:zlib';
import type { Transform } from 'node:stream';
import { IntegrityError, UnsafeInputError, UsageError } from '../errors.js';
import { throughCodec } from './streams.js';
import { zstdFrames } from './zstd-frames.js';

export type Compression = 'gzip' | 'zstd' | 'bzip2' | 'xz' | 'none';

/** The codec a stream starts with (RFC 1952 gzip, RFC 8878 zstd, bzip2 `BZh`, xz). */
export function sniffCompression(head: Uint8Array): Compression {
  const b = (i: number): number => head[i] ?? -1;
  if (b(0) === 0x1f && b(1) === 0x8b) return 'gzip';
  if (b(0) === 0x28 && b(1) === 0xb5 && b(2) === 0x2f && b(3) === 0xfd) return 'zstd';
  if (b(0) === 0x42 && b(1) === 0x5a && b(2) === 0x68) return 'bzip2';
  if (b(0) === 0xfd && b(1) === 0x37 && b(2) === 0x7a && b(3) === 0x58 && b(4) === 0x5a)
    return 'xz';
  return 'none';
}

/** The runtimes whose zlib has zstd (first in 23.8.0, backported to 22.15.0). */
export const ZSTD_NODE_VERSIONS = '22.15 or later';

/** zlib's zstd entry points; @types/node 20 does not declare them, so they are looked up. */
interface ZstdZlib {
  createZstdCompress(options: { chunkSize?: number; params?: Record<number, number> }): Transform;
  createZstdDecompress(options: { chunkSize?: number }): Transform;
  constants: { ZSTD_c_compressionLevel: number };
}

/** This runtime's zstd, if its zlib has one. */
function runtimeZstd(): ZstdZlib | undefined {
  // Looked up here, not through a namespace import: the CLI bundle copies a namespace's every
  // property at load, which would load zlib on every start-up (cli/bin.ts loads it on first use).
  const z = process.getBuiltinModule('node:zlib') as unknown as Partial<ZstdZlib>;
  return typeof z.createZstdCompress === 'function' && typeof z.createZstdDecompress === 'function'
    ? (z as ZstdZlib)
    : undefined;
}

/** True when this runtime can read and write zstd archives. */
export function zstdAvailable(): boolean {
  return runtimeZstd() !== undefined;
}

/** Throws E_USAGE, naming the Node version needed, when this runtime has no zstd. */
function requireZstd(doing: string, hint: string): ZstdZlib {
  const z = runtimeZstd();
  if (z !== undefined) return z;
  throw new UsageError(
    'E_USAGE',
    `${doing} needs Node.js ${ZSTD_NODE_VERSIONS} (zstd in zlib); this is Node.js ${process.version}`,
    { node: process.version, needs: ZSTD_NODE_VERSIONS },
    { hint },
  );
}

/**
 * Throws for archive codecs we do not inflate here: E_CORRUPT_ARCHIVE for xz and bzip2, E_USAGE for
 * zstd on a runtime without it (the archive is fine; the runtime is not).
 */
export function assertSupportedArchiveCodec(c: Compression, what: string): void {
  if (c === 'gzip' || c === 'none') return;
  if (c === 'zstd') {
    requireZstd(
      `reading ${what} (zstd-compressed)`,
      'run ocilayout on Node.js 22.15+, or decompress first: `zstd -d -c FILE | ocilayout import - LAYOUT`',
    );
    return;
  }
  throw new IntegrityError(
    'E_CORRUPT_ARCHIVE',
    `${what} is ${c}-compressed; only plain, gzip and zstd tar archives are read`,
    { what, compression: c },
    {
      hint: `decompress it first, e.g. \`${c === 'xz' ? 'xz -d' : 'bunzip2'} -c FILE | ocilayout import - LAYOUT\``,
    },
  );
}

/** 1 MiB output chunks: zlib's default 16 KiB costs a stream hop per 16 KiB (performance.md). */
const CODEC_CHUNK = 1024 * 1024;

/** The decompressor for an archive's codec (gzip or zstd; see assertSupportedArchiveCodec). */
export function newDecompressor(c: 'gzip' | 'zstd'): Transform {
  if (c === 'gzip') return createGunzip({ chunkSize: CODEC_CHUNK });
  // The decoder's default window limit (2^27 bytes, what `zstd -d` allows without --long) bounds
  // its memory; a frame asking for more fails as E_CORRUPT_ARCHIVE (see codecFailureHint).
  const z = requireZstd('reading a zstd archive', 'run ocilayout on Node.js 22.15+');
  return z.createZstdDecompress({ chunkSize: CODEC_CHUNK });
}

/**
 * `source` (gzip or zstd) decompressed, as chunks. zstd input reaches the decoder one frame per
 * write, so every frame of a multi-frame stream is decoded on every runtime (zstd-frames.ts).
 */
export function decompress(
  c: 'gzip' | 'zstd',
  source: AsyncIterable<Buffer>,
): AsyncGenerator<Buffer> {
  return throughCodec(c === 'zstd' ? zstdFrames(source) : source, newDecompressor(c));
}

/**
 * A hint for a decoder failure that is not damage: a zstd frame whose window is over the decoder's
 * 128 MiB limit (made with `zstd --long=28` or more), which `zstd -d` also refuses without --long.
 */
export function codecFailureHint(message: string): string | undefined {
  if (!/requires too much memory/i.test(message)) return undefined;
  return 'the zstd archive was made with a window over 128 MiB (zstd --long); decompress it first: `zstd -d --long=31 -c FILE | ocilayout import - LAYOUT`';
}

/**
 * `export --gzip`'s default level: 1, deflate's fastest. An image archive is mostly layers that
 * are compressed already; what is left (tar headers, JSON, the odd uncompressed layer) gains
 * little from the slower levels (spec-notes/performance.md, "export --gzip").
 */
export const DEFAULT_GZIP_LEVEL = 1;

/** Throws E_USAGE unless `level` is a gzip level from 1 (fastest) to 9 (smallest). */
export function assertGzipLevel(level: number): number {
  if (!Number.isInteger(level) || level < 1 || level > 9) {
    throw new UsageError('E_USAGE', `--gzip-level ${level}: expected a whole number from 1 to 9`, {
      level,
    });
  }
  return level;
}

/** A plain gzip compressor (one member), 1 MiB output chunks as above. */
export function newGzip(level = DEFAULT_GZIP_LEVEL): Transform {
  return createGzip({ level: assertGzipLevel(level), chunkSize: CODEC_CHUNK });
}

export interface GzipOptions {
  /** 1 to 9; default DEFAULT_GZIP_LEVEL. */
  level?: number | undefined;
  /**
   * True for chunks that are compressed already (a gzip or zstd layer): they go into the archive
   * as deflate stored blocks, as they are, instead of being deflated again for nothing.
   */
  stored?: ((chunk: Buffer) => boolean) | undefined;
}

/**
 * `source` as one gzip file. Each run of chunks that `stored` picks out becomes a gzip member of
 * its own at level 0, and each run between them a member at `level`: RFC 1952 §2.2 makes a gzip
 * file a series of members, and gunzip, Go's compress/gzip (docker, skopeo) and Node read them as
 * one stream. Members rather than zlib's params(): a level change there needs a flush in flight,
 * and a stream destroyed meanwhile asserts in Node's callback. Deterministic for the same input.
 */
export async function* gzipChunks(
  source: AsyncIterable<Buffer>,
  options: GzipOptions = {},
): AsyncGenerator<Buffer> {
  const level = assertGzipLevel(options.level ?? DEFAULT_GZIP_LEVEL);
  const stored = options.stored ?? (() => false);
  const input = source[Symbol.asyncIterator]();
  let next: IteratorResult<Buffer> = await input.next();
  // A function, not `next.done` inline: TypeScript would keep its narrowing across the awaits.
  const ended = (): boolean => next.done === true;
  if (ended()) {
    yield gzipSync(Buffer.alloc(0), { level }); // still a gzip file
    return;
  }
  try {
    while (!ended()) {
      const storing = stored(next.value as Buffer);
      async function* run(): AsyncGenerator<Buffer> {
        while (!ended() && stored(next.value as Buffer) === storing) {
          const chunk = next.value as Buffer;
          next = await input.next();
          yield chunk;
        }
      }
      yield* throughCodec(
        run(),
        createGzip({ level: storing ? 0 : level, chunkSize: CODEC_CHUNK }),
      );
    }
  } finally {
    if (!ended()) await input.return?.();
  }
}

/**
 * The compressor of `export --zstd`: level 3 (zstd's own default), one thread. Not ZSTD_c_nbWorkers:
 * with workers, Node's zlib stream ends before the frame is complete, so the archive comes out
 * truncated (seen on Node 24.22).
 */
export function newZstdCompress(): Transform {
  const z = requireZstdForExport();
  return z.createZstdCompress({
    chunkSize: CODEC_CHUNK,
    params: { [z.constants.ZSTD_c_compressionLevel]: 3 },
  });
}

/** Throws E_USAGE for `export --zstd` on a runtime without zstd. */
export function requireZstdForExport(): ZstdZlib {
  return requireZstd(
    'export --zstd',
    'use --gzip, or compress the stream: `ocilayout export LAYOUT - | zstd -o FILE.tar.zst`',
  );
}

export interface ExpansionLimits {
  /** Refuse when the tar grows past this many bytes (default: unlimited). */
  maxBytes: number;
  /**
   * For gzip or zstd input: refuse when inflated bytes exceed `maxRatio` × compressed bytes read,
   * once past `ratioGraceBytes`. 0 disables. Real image archives inflate < 10:1 (layers are already
   * compressed).
   */
  maxRatio: number;
  ratioGraceBytes: number;
}

export const DEFAULT_EXPANSION_LIMITS: ExpansionLimits = {
  maxBytes: Number.POSITIVE_INFINITY,
  maxRatio: 100,
  ratioGraceBytes: 32 * 1024 * 1024,
};

/**
 * Called as inflated bytes arrive; throws E_TOO_LARGE as soon as a limit is passed, so a gzip (or
 * zstd) bomb stops after at most `ratioGraceBytes` (or maxRatio × input) bytes, not after filling
 * the disk. zstd reaches far higher ratios than gzip's ~1000:1, so the same guard matters more.
 */
export function checkExpansion(
  limits: ExpansionLimits,
  tarBytes: number,
  compressedBytes: number | undefined,
  codec: 'gzip' | 'zstd' = 'gzip',
): void {
  if (tarBytes > limits.maxBytes) {
    throw new UnsafeInputError(
      'E_TOO_LARGE',
      `archive expands past the ${limits.maxBytes}-byte limit`,
      { limit: limits.maxBytes, bytes: tarBytes },
      { hint: 'raise the limit with --max-size if the archive is trusted' },
    );
  }
  if (compressedBytes === undefined || limits.maxRatio <= 0) return;
  if (tarBytes > limits.ratioGraceBytes && tarBytes > limits.maxRatio * compressedBytes) {
    throw new UnsafeInputError(
      'E_TOO_LARGE',
      `${codec} archive inflates more than ${limits.maxRatio}:1 (${tarBytes} bytes from ${compressedBytes}); refusing a possible ${codec} bomb`,
      { ratio: limits.maxRatio, bytes: tarBytes, compressedBytes },
      { hint: 'if the archive is trusted, pass --max-ratio 0 to disable this check' },
    );
  }
}
