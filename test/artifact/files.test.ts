import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  assertSafeTitle,
  checkArtifactFile,
  checkArtifactFiles,
  digestOf,
  storeArtifactFile,
} from '../../src/internal.js';
import { tmpDir, tmpLayout } from '../helpers/tmp.js';

const LAYER = 'application/vnd.oci.image.layer.v1.tar';

describe('checkArtifactFiles', () => {
  it('titles each file with its base name and applies the default media type', () => {
    const dir = tmpDir();
    writeFileSync(join(dir, 'a.txt'), 'aa');
    writeFileSync(join(dir, 'b.json'), '{}');
    const checked = checkArtifactFiles(
      [{ path: join(dir, 'a.txt') }, { path: join(dir, 'b.json'), mediaType: 'application/json' }],
      LAYER,
    );
    expect(checked.map((c) => [c.title, c.mediaType, c.size])).toEqual([
      ['a.txt', LAYER, 2],
      ['b.json', 'application/json', 2],
    ]);
  });

  describe('when the input is bad', () => {
    it('refuses two files with the same base name (E_USAGE)', () => {
      const dir = tmpDir();
      mkdirSync(join(dir, 'x'));
      writeFileSync(join(dir, 'f'), '1');
      writeFileSync(join(dir, 'x', 'f'), '2');
      expect(() =>
        checkArtifactFiles([{ path: join(dir, 'f') }, { path: join(dir, 'x', 'f') }], LAYER),
      ).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
    });

    it('refuses a missing file (E_NOT_FOUND) and a directory (E_USAGE)', () => {
      const dir = tmpDir();
      expect(() => checkArtifactFile({ path: join(dir, 'nope') }, LAYER)).toThrow(
        expect.objectContaining({ code: 'E_NOT_FOUND' }),
      );
      expect(() => checkArtifactFile({ path: dir }, LAYER)).toThrow(
        expect.objectContaining({ code: 'E_USAGE' }),
      );
    });

    it('refuses a media type that is not type/subtype (E_USAGE)', () => {
      const dir = tmpDir();
      writeFileSync(join(dir, 'a'), 'a');
      expect(() => checkArtifactFile({ path: join(dir, 'a'), mediaType: 'nope' }, LAYER)).toThrow(
        expect.objectContaining({ code: 'E_USAGE' }),
      );
    });
  });
});

describe('storeArtifactFile', () => {
  it('stores the file as a blob of its digest', async () => {
    const layout = tmpLayout();
    const dir = tmpDir();
    writeFileSync(join(dir, 'a.txt'), 'hello');
    const stored = await storeArtifactFile(
      layout,
      checkArtifactFile({ path: join(dir, 'a.txt') }, LAYER),
    );
    expect(stored).toMatchObject({ digest: digestOf(Buffer.from('hello')), size: 5 });
    expect(layout.blobs.has(stored.digest)).toBe(true);
  });

  describe('when the file changed after it was checked', () => {
    it('fails with E_SIZE_MISMATCH', async () => {
      const layout = tmpLayout();
      const dir = tmpDir();
      writeFileSync(join(dir, 'a.txt'), 'hello');
      const checked = checkArtifactFile({ path: join(dir, 'a.txt') }, LAYER);
      writeFileSync(join(dir, 'a.txt'), 'hello, longer now');
      await expect(storeArtifactFile(layout, checked)).rejects.toMatchObject({
        code: 'E_SIZE_MISMATCH',
      });
    });
  });
});

describe('assertSafeTitle', () => {
  it.each(['a.txt', 'with space', '..hidden', 'a..b', 'ünïcödé', '-dash', 'x'.repeat(255)])(
    'accepts %j',
    (t) => {
      expect(assertSafeTitle(t)).toBe(t);
    },
  );

  it.each(['', '.', '..', 'a/b', 'a\\b', 'bell\u0007', 'x'.repeat(256)])('refuses %j', (t) => {
    expect(() => assertSafeTitle(t)).toThrow(expect.objectContaining({ code: 'E_UNSAFE_ENTRY' }));
  });
});
