import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  checkExpansion,
  sniffCompression,
  DEFAULT_EXPANSION_LIMITS,
} from '../../src/archive/compression.js';

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
