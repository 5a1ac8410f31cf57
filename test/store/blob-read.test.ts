import { spawnSync } from 'node:child_process';
import { closeSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { digestOf, type Digest } from '../../src/digest.js';
import { openBlobFile, openBlobFileSized, readWholeBlob } from '../../src/store/blob-read.js';
import { tmpDir } from '../helpers/tmp.js';

function withFile(content: string): { path: string; root: string } {
  const root = tmpDir();
  const path = join(root, 'blob');
  writeFileSync(path, content);
  return { path, root };
}

function readFile(path: string, digest: Digest, max: number, verify = true): Buffer {
  const { fd, size } = openBlobFileSized(path, digest, '/layout');
  try {
    return readWholeBlob(fd, size, digest, max, verify);
  } finally {
    closeSync(fd);
  }
}

describe('openBlobFileSized + readWholeBlob', () => {
  it('reads a regular file whole and verifies it', () => {
    const { path } = withFile('{"a":1}');
    expect(readFile(path, digestOf('{"a":1}'), 100).toString()).toBe('{"a":1}');
  });

  describe('when the content or the file is wrong', () => {
    it('refuses more than the cap before reading (E_TOO_LARGE)', () => {
      const { path } = withFile('x'.repeat(101));
      expect(() => readFile(path, digestOf('x'.repeat(101)), 100)).toThrow(
        expect.objectContaining({ code: 'E_TOO_LARGE' }),
      );
    });

    it('refuses other bytes (E_DIGEST_MISMATCH) unless verify is off', () => {
      const { path } = withFile('other');
      const claimed = digestOf('expected');
      expect(() => readFile(path, claimed, 100)).toThrow(
        expect.objectContaining({ code: 'E_DIGEST_MISMATCH' }),
      );
      expect(readFile(path, claimed, 100, false).toString()).toBe('other');
    });

    it('reports a missing file as E_NOT_FOUND', () => {
      expect(() => openBlobFile(join(tmpDir(), 'nope'), digestOf('x'), '/layout')).toThrow(
        expect.objectContaining({ code: 'E_NOT_FOUND' }),
      );
    });

    it('refuses a symlink, a directory and a FIFO (E_UNSAFE_ENTRY), without blocking', () => {
      const root = tmpDir();
      const unsafe = expect.objectContaining({ code: 'E_UNSAFE_ENTRY' });
      const { path: target } = withFile('t');
      symlinkSync(target, join(root, 'link'));
      mkdirSync(join(root, 'dir'));
      expect(spawnSync('mkfifo', [join(root, 'fifo')]).status).toBe(0);
      for (const name of ['link', 'dir', 'fifo']) {
        expect(() => openBlobFile(join(root, name), digestOf('t'), root)).toThrow(unsafe);
      }
    });
  });
});
