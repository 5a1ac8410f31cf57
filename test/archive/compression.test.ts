import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  assertSupportedArchiveCodec,
  checkExpansion,
  newDecompressor,
  newZstdCompress,
  requireZstdForExport,
  sniffCompression,
  zstdAvailable,
  DEFAULT_EXPANSION_LIMITS,
} from '../../src/archive/compression.js';
import { throughCodec } from '../../src/archive/streams.js';
import { UsageError } from '../../src/errors.js';
import { zst } from '../helpers/make-tar.js';

/** Whether this runtime's zlib has zstd: which of the two zstd suites below runs. */
const HAS_ZSTD = zstdAvailable();

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of chunks) out.push(c);
  return Buffer.concat(out);
}

describe('sniffCompression', () => {
  it.each([
    [gzipSync('x'), 'gzip'],
    [Buffer.from([0x28, 0xb5, 0x2f, 0xfd, 0]), 'zstd'],
    [Buffer.from('BZh91AY'), 'bzip2'],
    [Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0]), 'xz'],
    [Buffer.from('index.json'), 'none'],
    [Buffer.alloc(0), 'none'],
  ])('%#: %s', (bytes, want) => {
    expect(sniffCompression(bytes)).toBe(want);
  });
});

describe('checkExpansion', () => {
  const limits = { ...DEFAULT_EXPANSION_LIMITS, maxRatio: 10, ratioGraceBytes: 100 };
  it('allows anything under the grace, and ratios under the limit', () => {
    expect(() => checkExpansion(limits, 100, 1)).not.toThrow();
    expect(() => checkExpansion(limits, 1000, 100)).not.toThrow();
    expect(() => checkExpansion(limits, 10_000, undefined)).not.toThrow();
  });
  it('refuses past the ratio once past the grace, and past maxBytes always', () => {
    expect(() => checkExpansion(limits, 1001, 100)).toThrow(
      expect.objectContaining({ code: 'E_TOO_LARGE' }),
    );
    expect(() => checkExpansion({ ...limits, maxBytes: 50 }, 51, undefined)).toThrow(
      expect.objectContaining({ code: 'E_TOO_LARGE' }),
    );
    expect(() => checkExpansion({ ...limits, maxRatio: 0 }, 1e9, 1)).not.toThrow();
  });
});

describe('zstd and the runtime', () => {
  it('zlib has zstd exactly on Node 22.15+ and 23.8+ (so the suite that runs is the right one)', () => {
    const [major = 0, minor = 0] = process.versions.node.split('.').map(Number);
    const expected = major > 23 || (major === 23 && minor >= 8) || (major === 22 && minor >= 15);
    expect(HAS_ZSTD).toBe(expected);
  });

  it.runIf(HAS_ZSTD)(
    'round-trips through newZstdCompress and newDecompressor, in pieces',
    async () => {
      const data = Buffer.from(Array.from({ length: 3 * 1024 * 1024 }, (_, i) => (i * 31) % 97));
      const parts = [data.subarray(0, 5), data.subarray(5, 2_000_000), data.subarray(2_000_000)];
      const packed = await collect(throughCodec(Readable.from(parts), newZstdCompress()));
      expect(sniffCompression(packed)).toBe('zstd');
      expect(packed.length).toBeLessThan(data.length / 10);
      const again = await collect(throughCodec(Readable.from([data]), newZstdCompress()));
      expect(again.equals(packed)).toBe(true); // deterministic, however the input is cut
      expect(
        (await collect(throughCodec(Readable.from([zst(data)]), newDecompressor('zstd')))).equals(
          data,
        ),
      ).toBe(true);
      const halves = [packed.subarray(0, 100), packed.subarray(100)];
      expect(
        (await collect(throughCodec(Readable.from(halves), newDecompressor('zstd')))).equals(data),
      ).toBe(true);
      expect(() => assertSupportedArchiveCodec('zstd', 'a.tar.zst')).not.toThrow();
    },
  );

  it.runIf(!HAS_ZSTD)('refuses zstd in and out with E_USAGE naming the Node version needed', () => {
    const refusal = {
      code: 'E_USAGE',
      message: expect.stringMatching(
        new RegExp(`Node\\.js 22\\.15 .*${process.version.replaceAll('.', '\\.')}$`),
      ),
    };
    expect(() => assertSupportedArchiveCodec('zstd', 'a.tar.zst')).toThrow(
      expect.objectContaining(refusal),
    );
    expect(() => assertSupportedArchiveCodec('zstd', 'a.tar.zst')).toThrow(UsageError);
    expect(() => requireZstdForExport()).toThrow(expect.objectContaining(refusal));
    expect(() => newZstdCompress()).toThrow(expect.objectContaining(refusal));
    expect(() => newDecompressor('zstd')).toThrow(expect.objectContaining(refusal));
  });

  it('names the codec of a bomb', () => {
    const limits = { ...DEFAULT_EXPANSION_LIMITS, maxRatio: 10, ratioGraceBytes: 100 };
    expect(() => checkExpansion(limits, 1001, 100, 'zstd')).toThrow(/^zstd archive inflates/);
    expect(() => checkExpansion(limits, 1001, 100)).toThrow(/^gzip archive inflates/);
  });

  it('still names xz and bzip2 as unsupported archives (E_CORRUPT_ARCHIVE)', () => {
    for (const c of ['xz', 'bzip2'] as const) {
      expect(() => assertSupportedArchiveCodec(c, 'a.tar')).toThrow(
        expect.objectContaining({ code: 'E_CORRUPT_ARCHIVE' }),
      );
    }
  });
});
