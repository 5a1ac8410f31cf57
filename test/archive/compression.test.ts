import { Readable } from 'node:stream';
import { gunzipSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  assertSupportedArchiveCodec,
  checkExpansion,
  gzipChunks,
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

describe('gzipChunks', () => {
  const zeros = (n: number, first: number): Buffer => {
    const b = Buffer.alloc(n);
    b[0] = first;
    return b;
  };

  it('stores the chunks it is told to as they are, deflates the rest, and gunzips to the input', async () => {
    const parts = [zeros(100_000, 1), zeros(70_000, 2), zeros(70_000, 3), zeros(100_000, 4)];
    const store = new Set([parts[1], parts[2]]);
    const gz = await collect(gzipChunks(Readable.from(parts), { stored: (c) => store.has(c) }));
    expect(gunzipSync(gz).equals(Buffer.concat(parts))).toBe(true);
    // Three members: deflated, stored (both stored chunks), deflated.
    const magic = Buffer.from([0x1f, 0x8b, 0x08]);
    let members = 0;
    for (let i = gz.indexOf(magic); i >= 0; i = gz.indexOf(magic, i + 1)) members++;
    expect(members).toBe(3);
    expect(gz.includes(parts[1]!.subarray(0, 32 * 1024))).toBe(true);
    expect(gz.length).toBeGreaterThan(140_000);
    expect(gz.length).toBeLessThan(140_000 + 2_000);
  });

  it('without stored chunks: one member at the level asked for', async () => {
    const data = Buffer.from('abc'.repeat(100_000));
    const fast = await collect(gzipChunks(Readable.from([data])));
    const best = await collect(gzipChunks(Readable.from([data]), { level: 9 }));
    expect(fast.equals(gzipSync(data, { level: 1 }))).toBe(true);
    expect(best.equals(gzipSync(data, { level: 9 }))).toBe(true);
  });

  it('makes a valid gzip of nothing, and refuses a level outside 1 to 9', async () => {
    expect(gunzipSync(await collect(gzipChunks(Readable.from([]))))).toHaveLength(0);
    await expect(collect(gzipChunks(Readable.from([]), { level: 0 }))).rejects.toMatchObject({
      code: 'E_USAGE',
    });
  });

  it('ends the source when its reader stops early, and passes a source failure on', async () => {
    let finished = false;
    async function* source(): AsyncGenerator<Buffer> {
      try {
        for (let i = 0; i < 1000; i++) yield await Promise.resolve(zeros(64 * 1024, i % 2));
      } finally {
        finished = true;
      }
    }
    for await (const _ of gzipChunks(source(), { stored: (c) => c[0] === 1 })) break;
    expect(finished).toBe(true);
    async function* failing(): AsyncGenerator<Buffer> {
      yield await Promise.resolve(zeros(10, 1));
      throw new Error('source broke');
    }
    await expect(collect(gzipChunks(failing(), { stored: (c) => c[0] === 1 }))).rejects.toThrow(
      'source broke',
    );
  });
});
