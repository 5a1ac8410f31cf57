import { describe, expect, it } from 'vitest';
import {
  assertValidTag,
  formatLayoutRef,
  isValidTag,
  parseLayoutRef,
  parseLayoutRefWithTarget,
  parseTransportRef,
} from '../../src/layout/refs.js';

const HEX = '0123456789abcdef'.repeat(4);
const D = `sha256:${HEX}`;

describe('tag grammar [a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}', () => {
  it.each([
    ['v1'],
    ['latest'],
    ['1.0.0-rc.1'],
    ['_private'],
    ['UPPER_lower.09-x'],
    [`sha256-${HEX}`],
    ['a'.repeat(128)],
  ])('accepts %s', (tag) => {
    expect(isValidTag(tag)).toBe(true);
    expect(assertValidTag(tag)).toBe(tag);
  });

  it.each([
    ['empty', ''],
    ['leading dot', '.hidden'],
    ['leading dash', '-v1'],
    ['129 characters', 'a'.repeat(129)],
    ['colon', 'a:b'],
    ['slash', 'a/b'],
    ['at sign', 'a@b'],
    ['plus', 'a+b'],
    ['space', 'a b'],
    ['non-ASCII', 'täg'],
    ['newline', 'v1\n'],
  ])('%s → E_INVALID_TAG', (_name, tag) => {
    expect(isValidTag(tag)).toBe(false);
    expect(() => assertValidTag(tag)).toThrow(expect.objectContaining({ code: 'E_INVALID_TAG' }));
  });
});

describe('parseLayoutRef', () => {
  describe('when the reference is valid', () => {
    it.each([
      ['plain relative dir', 'out', { layout: 'out' }],
      ['plain absolute dir', '/tmp/out', { layout: '/tmp/out' }],
      ['relative with tag', 'out:v1', { layout: 'out', tag: 'v1' }],
      ['dot-relative with tag', './out:latest', { layout: './out', tag: 'latest' }],
      ['absolute with tag', '/srv/oci/app:1.2.3', { layout: '/srv/oci/app', tag: '1.2.3' }],
      ['digest', `out@${D}`, { layout: 'out', digest: D }],
      ['absolute with digest', `/a/b@${D}`, { layout: '/a/b', digest: D }],
      [
        'sha512 digest',
        `out@sha512:${HEX}${HEX}`,
        { layout: 'out', digest: `sha512:${HEX}${HEX}` },
      ],
      // A directory name may contain ':' — only the last ':' can start a tag.
      [
        'colon inside the path',
        '/mnt/c:/images/app:v2',
        { layout: '/mnt/c:/images/app', tag: 'v2' },
      ],
      ['colon in a path component, no tag', '/data/a:b/layout', { layout: '/data/a:b/layout' }],
      ['colon dir, trailing slash means no tag', 'foo:bar/', { layout: 'foo:bar/' }],
      [
        'at sign inside the path',
        '/tmp/user@host/lay:v1',
        { layout: '/tmp/user@host/lay', tag: 'v1' },
      ],
      ['at sign in path with digest', `/tmp/a@b/lay@${D}`, { layout: '/tmp/a@b/lay', digest: D }],
      ['fallback-tag shaped tag', `out:sha256-${HEX}`, { layout: 'out', tag: `sha256-${HEX}` }],
      [
        'Windows-like drive path with tag',
        'C:\\oci\\app:v1',
        { layout: 'C:\\oci\\app', tag: 'v1' },
      ],
    ])('%s: %s', (_name, input, expected) => {
      expect(parseLayoutRef(input)).toEqual(expected);
    });
  });

  describe('when the tag is invalid', () => {
    it.each([
      ['empty tag', 'out:'],
      ['leading dash', 'out:-x'],
      ['leading dot', 'out:.x'],
      ['space', 'out:has space'],
      ['too long', `out:${'t'.repeat(129)}`],
      ['at sign in tag', 'out:v1@x'],
    ])('%s → E_INVALID_TAG', (_name, input) => {
      expect(() => parseLayoutRef(input)).toThrow(
        expect.objectContaining({ code: 'E_INVALID_TAG' }),
      );
    });
  });

  describe('when the digest is invalid', () => {
    it.each([
      ['short hex', 'out@sha256:abc'],
      ['uppercase hex', `out@sha256:${HEX.toUpperCase()}`],
      ['uppercase algorithm', `out@SHA256:${HEX}`],
      ['path traversal', 'out@sha256:../../etc/passwd'],
      ['slash in encoded', `out@sha256:${HEX.slice(1)}/`],
    ])('%s → E_INVALID_DIGEST', (_name, input) => {
      expect(() => parseLayoutRef(input)).toThrow(
        expect.objectContaining({ code: 'E_INVALID_DIGEST' }),
      );
    });

    it.each([
      ['blake3', `out@blake3:${HEX}`],
      ['sha384', `out@sha384:${HEX}${HEX.slice(0, 32)}`],
      ['sha256+b64u', 'out@sha256+b64u:LCa0a2j_xo_5m0U8HTBBNBNCLXBkg7-g-YpeiGJm564'],
    ])('%s → E_UNSUPPORTED_ALGORITHM', (_name, input) => {
      expect(() => parseLayoutRef(input)).toThrow(
        expect.objectContaining({ code: 'E_UNSUPPORTED_ALGORITHM' }),
      );
    });
  });

  describe('when the layout part is missing', () => {
    it.each([[''], [`@${D}`]])('%j → E_INVALID_REFERENCE', (input) => {
      expect(() => parseLayoutRef(input)).toThrow(
        expect.objectContaining({ code: 'E_INVALID_REFERENCE' }),
      );
    });
  });
});

describe('parseLayoutRefWithTarget', () => {
  it('requires a tag or digest', () => {
    expect(() => parseLayoutRefWithTarget('out')).toThrow(
      expect.objectContaining({ code: 'E_INVALID_REFERENCE' }),
    );
    expect(parseLayoutRefWithTarget('out:v1')).toEqual({ layout: 'out', tag: 'v1' });
    expect(parseLayoutRefWithTarget(`out@${D}`)).toEqual({ layout: 'out', digest: D });
  });
});

describe('parseLayoutRef with a full image name (LAYOUT:REPOSITORY:TAG)', () => {
  it.each([
    [
      'docker hub name',
      'L:docker.io/library/app:v1',
      { layout: 'L', tag: 'docker.io/library/app:v1' },
    ],
    [
      'registry with port',
      './out:localhost:5000/team/app:1.0',
      { layout: './out', tag: 'localhost:5000/team/app:1.0' },
    ],
    [
      'podman localhost',
      '/srv/L:localhost/app:latest',
      { layout: '/srv/L', tag: 'localhost/app:latest' },
    ],
    [
      'colon dir before a full name',
      'a:b:example.com/app:v1',
      { layout: 'a:b', tag: 'example.com/app:v1' },
    ],
  ])('%s: %s', (_name, input, expected) => {
    // Was read as the directory `L:docker.io/library/app` with tag `v1`.
    expect(parseLayoutRef(input)).toEqual(expected);
  });

  it.each([
    // The name needs a `/` and a tag: without them the old rules hold.
    ['no slash in the name', 'a:b:v1', { layout: 'a:b', tag: 'v1' }],
    ['no tag after the slash', '/data/a:b/layout', { layout: '/data/a:b/layout' }],
    ['uppercase path is no repository', './My:Dir/L:v1', { layout: './My:Dir/L', tag: 'v1' }],
    [
      'absolute path after the colon',
      '/mnt/c:/images/app:v2',
      { layout: '/mnt/c:/images/app', tag: 'v2' },
    ],
  ])('keeps the old reading when the rest is no full name: %s', (_name, input, expected) => {
    expect(parseLayoutRef(input)).toEqual(expected);
  });

  it.each([
    ['registry host', `L:registry.example/team/app@${D}`, 'registry.example/team/app'],
    ['registry with port', `./out:127.0.0.1:5000/app@${D}`, '127.0.0.1:5000/app'],
    ['docker hub', `a:b:docker.io/library/app@${D}`, 'docker.io/library/app'],
  ])("containerd's digest-only name (%s): %s", (_name, input, repository) => {
    // Was read as the directory `…:REPOSITORY` at a digest.
    const layout = input.slice(0, input.length - `${repository}@${D}`.length - 1);
    expect(parseLayoutRef(input)).toEqual({ layout, tag: `${repository}@${D}` });
  });

  it('keeps a directory with a colon at a digest when no registry host follows', () => {
    expect(parseLayoutRef(`/data/a:b/c@${D}`)).toEqual({ layout: '/data/a:b/c', digest: D });
  });

  it('round-trips through formatLayoutRef', () => {
    const input = 'L:docker.io/library/app:v1';
    expect(formatLayoutRef(parseLayoutRef(input))).toBe(input);
  });
});

describe('parseTransportRef (skopeo: split at the first colon)', () => {
  it.each([
    ['dir only', 'L', { layout: 'L' }],
    ['bare tag', 'L:v1', { layout: 'L', tag: 'v1' }],
    ['full name', 'L:docker.io/library/app:v1', { layout: 'L', tag: 'docker.io/library/app:v1' }],
    ['full name without a slash', 'L:app:v1', { layout: 'L', tag: 'app:v1' }],
    [
      'port in the name',
      'x.tar:localhost:5000/app:v1',
      { layout: 'x.tar', tag: 'localhost:5000/app:v1' },
    ],
    ['digest', `L@${D}`, { layout: 'L', digest: D }],
  ])('%s: %s', (_name, input, expected) => {
    expect(parseTransportRef(input)).toEqual(expected);
  });

  it('refuses what is neither a tag nor a full name (E_INVALID_TAG), and an empty DIR', () => {
    for (const bad of ['L:', 'L:Upper/Case:v1', 'L:a b']) {
      expect(() => parseTransportRef(bad)).toThrow(
        expect.objectContaining({ code: 'E_INVALID_TAG' }),
      );
    }
    expect(() => parseTransportRef(':v1')).toThrow(
      expect.objectContaining({ code: 'E_INVALID_REFERENCE' }),
    );
  });
});

describe('formatLayoutRef', () => {
  it.each([['out'], ['out:v1'], [`out@${D}`], ['/mnt/c:/x:v1']])('round-trips %s', (input) => {
    expect(formatLayoutRef(parseLayoutRef(input))).toBe(input);
  });
});

describe('parseLayoutRef with `@` in directory names', () => {
  it('keeps `@Name:tag` paths that do not look like a digest', () => {
    expect(parseLayoutRef('/home/me@Work:v1')).toEqual({ layout: '/home/me@Work', tag: 'v1' });
  });
});
