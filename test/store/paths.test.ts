// paths.ts: the one place a digest becomes a path, and the layout's file names.
import { isAbsolute, join, sep } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDigest } from '../../src/digest.js';
import {
  BLOBS_DIR,
  blobDir,
  blobPath,
  blobRelPath,
  INDEX_FILE,
  INDEX_LOCK,
  INGEST_DIR,
  OCI_LAYOUT_FILE,
} from '../../src/store/paths.js';

const SHA256 = parseDigest(`sha256:${'ab'.repeat(32)}`);
const SHA512 = parseDigest(`sha512:${'cd'.repeat(64)}`);

describe('blob paths', () => {
  it.each([
    [SHA256, `blobs${sep}sha256${sep}${'ab'.repeat(32)}`],
    [SHA512, `blobs${sep}sha512${sep}${'cd'.repeat(64)}`],
  ])('puts %s under blobs/<alg>/<encoded>', (digest, rel) => {
    expect(blobRelPath(digest)).toBe(rel);
    expect(isAbsolute(blobRelPath(digest))).toBe(false);
    expect(blobPath('/l', digest)).toBe(join('/l', rel));
    expect(blobDir('/l', digest)).toBe(join('/l', 'blobs', digest.split(':')[0]!));
  });

  it('never leaves the layout root', () => {
    expect(blobPath('/l', SHA256).startsWith(`${join('/l', BLOBS_DIR)}${sep}`)).toBe(true);
  });
});

describe('file names', () => {
  it('are the spec names, and our lock never takes a peer name', () => {
    expect([OCI_LAYOUT_FILE, INDEX_FILE, BLOBS_DIR, INGEST_DIR]).toEqual([
      'oci-layout',
      'index.json',
      'blobs',
      'ingest',
    ]);
    expect(INDEX_LOCK).not.toBe('index.json.lock'); // BuildKit's flock file
    expect(INDEX_LOCK.startsWith('.')).toBe(true);
  });
});
