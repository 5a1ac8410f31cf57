// media-types.ts: the document kinds we walk, and the media-type grammar users may type.
import { describe, expect, it } from 'vitest';
import { digestOf } from '../src/digest.js';
import {
  assertMediaType,
  EMPTY_DIGEST,
  EMPTY_JSON,
  isImageManifestMediaType,
  isIndexMediaType,
  isManifestMediaType,
  isValidMediaType,
  MediaType,
} from '../src/media-types.js';

describe('document kinds', () => {
  it.each([
    [MediaType.ImageIndex, true, false],
    [MediaType.DockerManifestList, true, false],
    [MediaType.ImageManifest, false, true],
    [MediaType.DockerManifest, false, true],
    [MediaType.ImageConfig, false, false],
    [MediaType.Layer, false, false],
    ['application/json', false, false],
    [undefined, false, false],
  ])('%s: index %s, image manifest %s', (mt, index, manifest) => {
    expect(isIndexMediaType(mt)).toBe(index);
    expect(isImageManifestMediaType(mt)).toBe(manifest);
    expect(isManifestMediaType(mt)).toBe(index || manifest);
  });
});

describe('EMPTY_DIGEST', () => {
  it('is the digest of the empty JSON object', () => {
    expect(digestOf(EMPTY_JSON)).toBe(EMPTY_DIGEST);
  });
});

describe('media type grammar', () => {
  it.each([
    'application/json',
    'application/vnd.oci.image.layer.v1.tar+gzip',
    'text/plain',
    'x/y',
    `a/${'b'.repeat(127)}`,
  ])('accepts %s', (s) => {
    expect(isValidMediaType(s)).toBe(true);
    expect(assertMediaType(s, '--media-type')).toBe(s);
  });

  it.each([
    '',
    'text',
    'text/',
    '/plain',
    'text/plain; charset=utf-8',
    'a/b/c',
    '-a/b',
    'a b/c',
    `a/${'b'.repeat(128)}`,
    'tëxt/plain',
  ])('refuses %j (E_USAGE)', (s) => {
    expect(isValidMediaType(s)).toBe(false);
    expect(() => assertMediaType(s, '--media-type')).toThrow(
      expect.objectContaining({ code: 'E_USAGE', details: { mediaType: s } }),
    );
  });
});
