import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  fileOrStdin,
  openInput,
  parseAnnotations,
  parseDigestRef,
  parseFileArg,
  parseTagRef,
  readInputCapped,
  stringList,
  targetOf,
} from '../../src/cli/options.js';
import type { Digest } from '../../src/digest.js';
import { tmpDir } from '../helpers/tmp.js';

const D = `sha256:${'0'.repeat(64)}`;

describe('parseFileArg', () => {
  const none = (): boolean => false;
  it.each([
    ['a.txt', { path: 'a.txt' }],
    ['a.txt:text/plain', { path: 'a.txt', mediaType: 'text/plain' }],
    [
      'dir/x:application/vnd.oci.image.layer.v1.tar+gzip',
      { path: 'dir/x', mediaType: 'application/vnd.oci.image.layer.v1.tar+gzip' },
    ],
    ['C:\\files\\a.txt', { path: 'C:\\files\\a.txt' }],
    ['C:\\files\\a.txt:text/plain', { path: 'C:\\files\\a.txt', mediaType: 'text/plain' }],
    ['a:b:c', { path: 'a:b:c' }],
    ['f:notatype', { path: 'f:notatype' }],
    ['f:text/plain; charset=utf-8', { path: 'f:text/plain; charset=utf-8' }],
    [':text/plain', { path: ':text/plain' }],
  ])('splits %j when no such file exists', (arg, want) => {
    expect(parseFileArg(arg, none)).toEqual(want);
  });

  it('never splits an existing path', () => {
    expect(parseFileArg('a:text/plain', (p) => p === 'a:text/plain')).toEqual({
      path: 'a:text/plain',
    });
  });

  it('refuses FILE:WORD when FILE exists and WORD is no media type, naming both', () => {
    const exists = (p: string): boolean => p === 'sbom.spdx.json';
    for (const [arg, mediaType] of [
      ['sbom.spdx.json:spdx', 'spdx'],
      ['sbom.spdx.json:', ''],
      ['sbom.spdx.json:text/plain; charset=utf-8', 'text/plain; charset=utf-8'],
    ] as const) {
      let err: unknown;
      try {
        parseFileArg(arg, exists);
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({
        code: 'E_USAGE',
        details: { path: 'sbom.spdx.json', mediaType },
        hint: expect.stringContaining('FILE:TYPE/SUBTYPE'),
      });
      expect((err as Error).message).toContain(`${JSON.stringify(mediaType)} is not a media type`);
    }
    // Neither the whole argument nor the part before the colon exists: a missing file, as before.
    expect(parseFileArg('other.json:spdx', exists)).toEqual({ path: 'other.json:spdx' });
  });

  it('refuses an empty argument', () => {
    expect(() => parseFileArg('', none)).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
  });
});

describe('parseAnnotations', () => {
  it('splits at the first = and keeps = and empty values', () => {
    expect(parseAnnotations(['a=1', 'b=x=y', 'c='])).toEqual({ a: '1', b: 'x=y', c: '' });
  });
  it('returns undefined for none', () => {
    expect(parseAnnotations([])).toBeUndefined();
  });
  it.each([['novalue'], ['=v'], ['k=1', 'k=2']])('refuses %j', (...values) => {
    expect(() => parseAnnotations(values)).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
  });
});

describe('references', () => {
  it('parseDigestRef needs a digest', () => {
    expect(parseDigestRef(`./out@${D}`)).toEqual({ layout: './out', digest: D });
    expect(() => parseDigestRef('./out:v1')).toThrow(
      expect.objectContaining({ code: 'E_INVALID_REFERENCE' }),
    );
    expect(() => parseDigestRef(`./out@sha384:${'0'.repeat(96)}`)).toThrow(
      expect.objectContaining({ code: 'E_UNSUPPORTED_ALGORITHM' }),
    );
  });
  it('parseTagRef needs a tag', () => {
    expect(parseTagRef('./out:v1')).toEqual({ layout: './out', tag: 'v1' });
    expect(() => parseTagRef(`./out@${D}`)).toThrow(
      expect.objectContaining({ code: 'E_INVALID_REFERENCE' }),
    );
  });
});

describe('small helpers', () => {
  it('stringList normalises yargs values', () => {
    expect(stringList(undefined)).toEqual([]);
    expect(stringList('a')).toEqual(['a']);
    expect(stringList(['a', 'b'])).toEqual(['a', 'b']);
  });
  it('fileOrStdin maps the empty string yargs makes of "-" back to "-"', () => {
    expect(fileOrStdin('')).toBe('-');
    expect(fileOrStdin('f')).toBe('f');
  });
});

describe('targetOf', () => {
  it('prefers the digest, else the tag, else neither (the only entry)', () => {
    expect(targetOf({ layout: 'l', tag: 'v1', digest: D as Digest })).toEqual({ digest: D });
    expect(targetOf({ layout: 'l', tag: 'v1' })).toEqual({ tag: 'v1' });
    expect(targetOf({ layout: 'l' })).toEqual({ tag: undefined });
  });
});

describe('reading input', () => {
  it('readInputCapped reads a file or stdin whole, refusing more than the limit', async () => {
    const dir = tmpDir();
    const file = join(dir, 'm.json');
    writeFileSync(file, '{"a":1}');
    expect((await readInputCapped(file, Readable.from([]), 7)).toString()).toBe('{"a":1}');
    const stdin = Readable.from([Buffer.from('ab'), Buffer.from('cd')]);
    expect((await readInputCapped('-', stdin, 4)).toString()).toBe('abcd');
    await expect(readInputCapped(file, Readable.from([]), 6)).rejects.toMatchObject({
      code: 'E_TOO_LARGE',
    });
    await expect(
      readInputCapped('-', Readable.from([Buffer.alloc(3), Buffer.alloc(3)]), 5),
    ).rejects.toMatchObject({ code: 'E_TOO_LARGE' });
    await expect(readInputCapped(join(dir, 'nope'), Readable.from([]), 5)).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
    });
  });

  it('openInput streams a file (or hands stdin back), E_NOT_FOUND when absent', async () => {
    const dir = tmpDir();
    const file = join(dir, 'blob');
    writeFileSync(file, Buffer.alloc(3 * 1024 * 1024, 7));
    const chunks: Buffer[] = [];
    for await (const c of await openInput(file, Readable.from([]))) chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).length).toBe(3 * 1024 * 1024);
    expect(chunks[0]!.length).toBe(1024 * 1024); // 1 MiB reads (spec-notes/performance.md)
    const stdin = Readable.from([]);
    expect(await openInput('-', stdin)).toBe(stdin);
    await expect(openInput(join(dir, 'nope'), stdin)).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
    });
  });
});
