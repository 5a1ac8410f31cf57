import { describe, expect, it } from 'vitest';
import {
  fileOrStdin,
  parseAnnotations,
  parseDigestRef,
  parseFileArg,
  parseTagRef,
  stringList,
} from '../../src/cli/options.js';

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
