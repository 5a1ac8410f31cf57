import { isAbsolute, normalize, relative, sep } from 'node:path';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  SUPPORTED_ALGORITHMS,
  algorithmOf,
  digestOf,
  encodedOf,
  isSupportedAlgorithm,
  matchesDigestGrammar,
  parseDigest,
  shortDigest,
  tryParseDigest,
} from '../src/digest.js';
import { UsageError } from '../src/errors.js';
import { blobPath, blobRelPath } from '../src/store/paths.js';

const HEX64 = 'a'.repeat(32) + '0123456789abcdef'.repeat(2);
const HEX128 = HEX64 + HEX64;

describe('parseDigest', () => {
  describe('when the digest is a registered algorithm we verify', () => {
    it.each([
      [`sha256:${HEX64}`],
      [`sha512:${HEX128}`],
      [digestOf('hello')],
      [digestOf('hello', 'sha512')],
    ])('accepts %s unchanged', (input) => {
      expect(parseDigest(input)).toBe(input);
      expect(tryParseDigest(input)).toBe(input);
    });
  });

  describe('when the string breaks the image-spec grammar', () => {
    it.each([
      ['empty', ''],
      ['no colon', HEX64],
      ['empty algorithm', `:${HEX64}`],
      ['empty encoded', 'sha256:'],
      ['uppercase algorithm', `SHA256:${HEX64}`],
      ['path traversal', '../../etc/passwd'],
      ['traversal in encoded', `sha256:../${HEX64.slice(3)}`],
      ['dot-dot algorithm', `..:${HEX64}`],
      ['slash in encoded', `sha256:${HEX64.slice(1)}/`],
      ['backslash in encoded', `sha256:${HEX64.slice(1)}\\`],
      ['slash in algorithm', `sha/256:${HEX64}`],
      ['leading separator in algorithm', `+sha256:${HEX64}`],
      ['trailing separator in algorithm', `sha256+:${HEX64}`],
      ['double separator in algorithm', `sha256++b64u:${HEX64}`],
      ['whitespace', ` sha256:${HEX64}`],
      ['trailing newline', `sha256:${HEX64}\n`],
      ['two colons', `sha256:sha256:${HEX64}`],
      ['NUL byte', `sha256:${HEX64.slice(1)}\0`],
    ])('%s → E_INVALID_DIGEST', (_name, input) => {
      expect(() => parseDigest(input)).toThrow(
        expect.objectContaining({ code: 'E_INVALID_DIGEST' }),
      );
      expect(tryParseDigest(input)).toBeUndefined();
    });
  });

  describe('when a registered algorithm has the wrong encoding', () => {
    it.each([
      ['uppercase hex', `sha256:${HEX64.toUpperCase()}`],
      ['63 hex chars', `sha256:${HEX64.slice(1)}`],
      ['65 hex chars', `sha256:${HEX64}0`],
      ['sha512 with 64 chars', `sha512:${HEX64}`],
      ['non-hex letters', `sha256:${'g'.repeat(64)}`],
      ['base64 padding', `sha256:${HEX64.slice(1)}=`],
      ['underscore', `sha256:${HEX64.slice(1)}_`],
    ])('%s → E_INVALID_DIGEST', (_name, input) => {
      expect(() => parseDigest(input)).toThrow(
        expect.objectContaining({ code: 'E_INVALID_DIGEST' }),
      );
    });
  });

  describe('when the algorithm is grammatical but not one we can verify', () => {
    it.each([
      ['sha384', `sha384:${HEX64}${HEX64.slice(0, 32)}`],
      ['blake3 (registered in image-spec main)', `blake3:${HEX64}`],
      ['sha256+b64u (spec example)', 'sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564'],
      [
        'multihash+base58 (spec example)',
        'multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8',
      ],
      ['made-up algorithm', 'md5:d41d8cd98f00b204e9800998ecf8427e'],
    ])('%s → E_UNSUPPORTED_ALGORITHM naming the algorithm', (_name, input) => {
      let caught: unknown;
      try {
        parseDigest(input);
      } catch (err) {
        caught = err;
      }
      expect(caught).toBeInstanceOf(UsageError);
      expect(caught).toMatchObject({
        code: 'E_UNSUPPORTED_ALGORITHM',
        details: { algorithm: input.slice(0, input.indexOf(':')) },
      });
      // Grammar-valid digests are still recognisable as digests (index.json may carry them).
      expect(matchesDigestGrammar(input)).toBe(true);
    });
  });

  it('rejects non-strings without throwing a TypeError', () => {
    expect(() => parseDigest(42 as unknown as string)).toThrow(
      expect.objectContaining({ code: 'E_INVALID_DIGEST' }),
    );
    expect(tryParseDigest(undefined)).toBeUndefined();
    expect(tryParseDigest({})).toBeUndefined();
  });

  it('gives a hint saying what a digest looks like', () => {
    expect(() => parseDigest('nope')).toThrow(
      expect.objectContaining({ hint: expect.stringContaining('sha256:') }),
    );
  });
});

describe('algorithm helpers', () => {
  it('supports exactly sha256 and sha512', () => {
    expect(SUPPORTED_ALGORITHMS).toEqual(['sha256', 'sha512']);
    expect(isSupportedAlgorithm('sha256')).toBe(true);
    expect(isSupportedAlgorithm('sha384')).toBe(false);
    // Not fooled by Object.prototype keys.
    expect(isSupportedAlgorithm('constructor')).toBe(false);
    expect(isSupportedAlgorithm('__proto__')).toBe(false);
  });

  it('splits a digest into algorithm and encoded part', () => {
    const d = parseDigest(`sha512:${HEX128}`);
    expect(algorithmOf(d)).toBe('sha512');
    expect(encodedOf(d)).toBe(HEX128);
  });

  it('digestOf hashes strings and bytes alike, in either algorithm', () => {
    expect(digestOf('abc')).toBe(
      'sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad',
    );
    expect(digestOf(Buffer.from('abc'))).toBe(digestOf('abc'));
    expect(digestOf('abc', 'sha512')).toMatch(/^sha512:ddaf35a193617aba/);
  });

  it('shortDigest keeps the algorithm and n hex characters', () => {
    expect(shortDigest(`sha256:${HEX64}`)).toBe(`sha256:${HEX64.slice(0, 12)}`);
    expect(shortDigest(`sha256:${HEX64}`, 4)).toBe(`sha256:${HEX64.slice(0, 4)}`);
    expect(shortDigest('no-colon')).toBe('no-colon');
  });
});

describe('digest → path (store/paths.ts)', () => {
  const root = '/layout';

  /** The invariant: an accepted digest maps to blobs/<alg>/<encoded>, one level per part. */
  function assertContained(d: string): void {
    const digest = parseDigest(d);
    const rel = blobRelPath(digest);
    expect(isAbsolute(rel)).toBe(false);
    expect(normalize(rel)).toBe(rel);
    expect(rel.split(sep)).toEqual(['blobs', algorithmOf(digest), encodedOf(digest)]);
    expect(relative(root, blobPath(root, digest))).toBe(rel);
  }

  it.each([[`sha256:${HEX64}`], [`sha512:${HEX128}`]])('%s stays under blobs/', (d) => {
    assertContained(d);
  });

  it('no string parseDigest accepts escapes blobs/ (property)', () => {
    const digestish = fc.oneof(
      fc.string({ maxLength: 140 }),
      fc
        .tuple(
          fc.constantFrom('sha256', 'sha512', 'SHA256', '..', '.', 'sha256/..', ''),
          fc.constantFrom(':', '/', '\\', ':/'),
          fc.string({ unit: fc.constantFrom(...'abcdef0123456789./\\:ABCDEF'), maxLength: 130 }),
        )
        .map(([a, s, e]) => `${a}${s}${e}`),
      fc
        .string({ unit: fc.constantFrom(...'0123456789abcdef'), minLength: 64, maxLength: 64 })
        .map((hex) => `sha256:${hex}`),
    );
    let accepted = 0;
    fc.assert(
      fc.property(digestish, (s) => {
        const d = tryParseDigest(s);
        if (d === undefined) return;
        accepted++;
        assertContained(d);
      }),
      { numRuns: 2000 },
    );
    expect(accepted).toBeGreaterThan(100);
  });
});
