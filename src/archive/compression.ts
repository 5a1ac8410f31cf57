// Compression of archives and of the blobs inside them: recognised by magic bytes, never by name.
// Import inflates gzip archives with an expansion guard (gzip bombs); other codecs are refused
// with a clear message rather than misread as a corrupt tar.
import { createGunzip, createGzip, type Gunzip, type Gzip } from 'node:zlib';
import { IntegrityError, UnsafeInputError } from '../errors.js';

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

/** Throws E_CORRUPT_ARCHIVE for archive codecs we do not inflate. */
export function assertSupportedArchiveCodec(c: Compression, what: string): void {
  if (c === 'gzip' || c === 'none') return;
  throw new IntegrityError(
    'E_CORRUPT_ARCHIVE',
    `${what} is ${c}-compressed; only plain and gzip tar archives are read`,
    { what, compression: c },
    {
      hint: `decompress it first, e.g. \`${c === 'zstd' ? 'zstd -d' : c === 'xz' ? 'xz -d' : 'bunzip2'} -c FILE | ocilayout import - LAYOUT\``,
    },
  );
}

/**
 * 1 MiB output chunks: zlib's default 16 KiB costs a stream hop per 16 KiB
 * (spec-notes/performance.md).
 */
export function newGunzip(): Gunzip {
  return createGunzip({ chunkSize: 1024 * 1024 });
}

/** The compressor of `export --gzip`: level 6 (gzip's own default), 1 MiB output chunks as above. */
export function newGzip(): Gzip {
  return createGzip({ level: 6, chunkSize: 1024 * 1024 });
}

export interface ExpansionLimits {
  /** Refuse when the tar grows past this many bytes (default: unlimited). */
  maxBytes: number;
  /**
   * For gzip input: refuse when inflated bytes exceed `maxRatio` × compressed bytes read, once past
   * `ratioGraceBytes`. 0 disables. Real image archives inflate < 10:1 (layers are already gzip).
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
 * Called as inflated bytes arrive; throws E_TOO_LARGE as soon as a limit is passed, so a gzip bomb
 * stops after at most `ratioGraceBytes` (or maxRatio × input) bytes, not after filling the disk.
 */
export function checkExpansion(
  limits: ExpansionLimits,
  tarBytes: number,
  compressedBytes: number | undefined,
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
      `gzip archive inflates more than ${limits.maxRatio}:1 (${tarBytes} bytes from ${compressedBytes}); refusing a possible gzip bomb`,
      { ratio: limits.maxRatio, bytes: tarBytes, compressedBytes },
      { hint: 'if the archive is trusted, pass --max-ratio 0 to disable this check' },
    );
  }
}
