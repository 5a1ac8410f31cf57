import { mkdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { makeDirs } from '../../src/store/make-dirs.js';
import { mountSmallFs, smallFsUnavailable } from '../helpers/small-fs.js';
import { tmpDir } from '../helpers/tmp.js';

describe('makeDirs', () => {
  it('creates missing parents and accepts an existing directory', () => {
    const dir = join(tmpDir(), 'a', 'b', 'c');
    makeDirs(dir);
    expect(statSync(dir).isDirectory()).toBe(true);
    makeDirs(dir);
    makeDirs(join(dir, '..'));
  });

  it('refuses a file in the way with EEXIST, as mkdir -p does', () => {
    const root = tmpDir();
    writeFileSync(join(root, 'f'), '');
    expect(() => makeDirs(join(root, 'f'))).toThrow(expect.objectContaining({ code: 'EEXIST' }));
    expect(() => makeDirs(join(root, 'f', 'x'))).toThrow(
      expect.objectContaining({ code: 'ENOTDIR' }),
    );
  });

  const unavailable = smallFsUnavailable();
  it.skipIf(unavailable !== undefined)(
    `reports EROFS on a read-only filesystem, not ENOENT as recursive mkdirSync does${unavailable === undefined ? '' : ` (SKIP: ${unavailable})`}`,
    () => {
      const small = mountSmallFs('1m');
      mkdirSync(join(small.dir, 'layout'));
      small.readOnly();
      for (const dir of [join(small.dir, 'layout', 'ingest'), join(small.dir, 'x', 'y')]) {
        expect(() => makeDirs(dir)).toThrow(expect.objectContaining({ code: 'EROFS' }));
      }
      makeDirs(join(small.dir, 'layout')); // an existing directory is still fine
    },
  );
});
