import { describe, expect, it } from 'vitest';
import { routeFile } from '../../src/archive/contents.js';

const HEX = 'a'.repeat(64);

describe('routeFile', () => {
  it.each([
    ['index.json', 'json'],
    ['top/index.json', 'json'],
    ['oci-layout', 'json'],
    ['manifest.json', 'json'],
    ['repositories', 'json'],
    [`blobs/sha256/${HEX}`, 'blob'],
    [`top/blobs/sha256/${HEX}`, 'blob'],
    [`blobs/sha512/${'b'.repeat(128)}`, 'blob'],
    ['blobs/sha256/abc', 'unknown'],
    [`blobs/md5/${HEX}`, 'unknown'],
    [`${HEX}.tar`, 'docker-file'],
    [`${HEX}.json`, 'docker-file'],
    [`sha256:${HEX}`, 'docker-file'],
    [`${HEX}/layer.tar`, 'docker-file'],
    [`top/${HEX}/layer.tar`, 'docker-file'],
    [`${HEX}/json`, 'legacy-metadata'],
    [`${HEX}/VERSION`, 'legacy-metadata'],
    ['a/b/c/d', 'unknown'],
    ['a/b/index.json', 'unknown'],
  ])('%s → %s', (path, kind) => {
    expect(routeFile(path).kind).toBe(kind);
  });
});
