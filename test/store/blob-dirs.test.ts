import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { digestOf } from '../../src/digest.js';
import { OwnBlobDirs, listBlobs } from '../../src/store/blob-dirs.js';
import { tmpDir } from '../helpers/tmp.js';

const unsafe = expect.objectContaining({ code: 'E_UNSAFE_ENTRY' });

describe('OwnBlobDirs', () => {
  it('passes real directories, and missing ones (nothing to read through yet)', () => {
    const root = tmpDir();
    const d = digestOf('x');
    expect(() => new OwnBlobDirs(root).assert(d)).not.toThrow();
    mkdirSync(join(root, 'blobs', 'sha256'), { recursive: true });
    expect(() => new OwnBlobDirs(root).assert(d)).not.toThrow();
  });

  describe('when blobs/ or blobs/<alg>/ is a symlink', () => {
    it('refuses blobs/ (E_UNSAFE_ENTRY)', () => {
      const root = tmpDir();
      const elsewhere = tmpDir();
      symlinkSync(elsewhere, join(root, 'blobs'));
      expect(() => new OwnBlobDirs(root).assert(digestOf('x'))).toThrow(unsafe);
    });

    it('refuses blobs/<alg>/ (E_UNSAFE_ENTRY)', () => {
      const root = tmpDir();
      mkdirSync(join(root, 'blobs'));
      symlinkSync(tmpDir(), join(root, 'blobs', 'sha256'));
      expect(() => new OwnBlobDirs(root).assert(digestOf('x'))).toThrow(unsafe);
    });
  });
});

describe('listBlobs', () => {
  it('lists digests sorted and every other name as a stray', () => {
    const root = tmpDir();
    const [a, b] = [digestOf('a'), digestOf('b')].sort();
    mkdirSync(join(root, 'blobs', 'sha256'), { recursive: true });
    mkdirSync(join(root, 'blobs', 'md5'));
    for (const d of [b!, a!]) writeFileSync(join(root, 'blobs', 'sha256', d.slice(7)), d);
    writeFileSync(join(root, 'blobs', 'sha256', 'tmp-123'), '');
    writeFileSync(join(root, 'blobs', 'md5', 'abc'), '');
    symlinkSync(tmpDir(), join(root, 'blobs', 'sha512'));
    expect(listBlobs(root)).toEqual({
      blobs: [a, b],
      strays: [
        join('blobs', 'md5', 'abc'),
        join('blobs', 'sha256', 'tmp-123'),
        join('blobs', 'sha512'),
      ],
    });
  });

  it('lists nothing without blobs/, and refuses a blobs/ that is a file', () => {
    const root = tmpDir();
    expect(listBlobs(root)).toEqual({ blobs: [], strays: [] });
    writeFileSync(join(root, 'blobs'), '');
    expect(() => listBlobs(root)).toThrow(unsafe);
  });
});
