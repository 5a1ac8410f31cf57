import { describe, expect, it } from 'vitest';
import {
  MAX_PAGE,
  isValidRepositoryName,
  pageOf,
  parsePage,
  parseReference,
} from '../../src/serve/names.js';
import { RegistryHttpError } from '../../src/serve/http-errors.js';

const codeOf = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    return err instanceof RegistryHttpError ? `${err.status} ${err.code}` : String(err);
  }
  return 'no error';
};

describe('repository names', () => {
  it.each(['a', 'app', 'team/app', 'a.b_c__d---e/f0', 'x/y/z'])('accepts %s', (n) => {
    expect(isValidRepositoryName(n)).toBe(true);
  });
  it.each([
    '',
    '..',
    'a/..',
    '../a',
    '/a',
    'a/',
    'a//b',
    'A',
    'a..b',
    'a/.b',
    '.',
    'a b',
    'a%2fb',
    'a___b',
  ])('refuses %j', (n) => {
    expect(isValidRepositoryName(n)).toBe(false);
  });
  it('refuses names over 255 characters', () => {
    expect(isValidRepositoryName('a'.repeat(255))).toBe(true);
    expect(isValidRepositoryName('a'.repeat(256))).toBe(false);
  });
});

describe('references', () => {
  const d = `sha256:${'a'.repeat(64)}`;
  it('splits tags and digests', () => {
    expect(parseReference('v1.0_rc-1', false)).toEqual({ tag: 'v1.0_rc-1' });
    expect(parseReference(d, false)).toEqual({ digest: d });
  });
  it('a malformed digest is DIGEST_INVALID; a bad tag MANIFEST_INVALID on PUT, MANIFEST_UNKNOWN on GET', () => {
    expect(codeOf(() => parseReference('sha256:abc', false))).toBe('400 DIGEST_INVALID');
    expect(codeOf(() => parseReference(`blake3:${'a'.repeat(64)}`, true))).toBe(
      '400 DIGEST_INVALID',
    );
    expect(codeOf(() => parseReference('-bad', true))).toBe('400 MANIFEST_INVALID');
    expect(codeOf(() => parseReference('-bad', false))).toBe('404 MANIFEST_UNKNOWN');
  });
});

describe('paging', () => {
  const q = (s: string) => parsePage(new URLSearchParams(s));
  it('n and last; n is capped; a malformed n is refused', () => {
    expect(q('')).toEqual({ n: undefined, last: undefined });
    expect(q('n=2&last=b')).toEqual({ n: 2, last: 'b' });
    expect(q('n=999999999').n).toBe(MAX_PAGE);
    expect(codeOf(() => q('n=-1'))).toBe('400 UNSUPPORTED');
    expect(codeOf(() => q('n=1.5'))).toBe('400 UNSUPPORTED');
  });
  it('a page, and the last of it when more remain', () => {
    const all = ['a', 'b', 'c'];
    expect(pageOf(all, { n: 2, last: undefined })).toEqual({ items: ['a', 'b'], next: 'b' });
    expect(pageOf(all, { n: 2, last: 'b' })).toEqual({ items: ['c'] });
    expect(pageOf(all, { n: 3, last: undefined })).toEqual({ items: all });
    expect(pageOf(all, { n: 0, last: undefined })).toEqual({ items: [] });
    expect(pageOf(all, { n: undefined, last: 'a' })).toEqual({ items: ['b', 'c'] });
  });
});
