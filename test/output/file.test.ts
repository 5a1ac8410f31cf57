import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { IntegrityError, stageFile, writeFileAtomic } from '../../src/internal.js';
import { tmpDir } from '../helpers/tmp.js';

/** A source that yields some bytes, then fails (like a verifying stream at a mismatch). */
async function* failingSource(): AsyncGenerator<Uint8Array> {
  yield Buffer.from('partial');
  await Promise.resolve();
  throw new IntegrityError('E_DIGEST_MISMATCH', 'bad');
}

describe('writeFileAtomic', () => {
  it('writes a new file and replaces a regular file', async () => {
    const dir = tmpDir();
    const path = join(dir, 'f');
    await writeFileAtomic(path, Readable.from([Buffer.from('one')]));
    expect(readFileSync(path, 'utf8')).toBe('one');
    const r = await writeFileAtomic(path, [Buffer.from('two'), Buffer.from('!')]);
    expect(r.size).toBe(4);
    expect(readFileSync(path, 'utf8')).toBe('two!');
    expect(readdirSync(dir)).toEqual(['f']);
  });

  it('leaves neither the destination nor a temp file when the source fails', async () => {
    const dir = tmpDir();
    writeFileSync(join(dir, 'f'), 'old');
    await expect(writeFileAtomic(join(dir, 'f'), failingSource())).rejects.toMatchObject({
      code: 'E_DIGEST_MISMATCH',
    });
    expect(readdirSync(dir)).toEqual(['f']);
    expect(readFileSync(join(dir, 'f'), 'utf8')).toBe('old');
  });

  describe('syncEvery', () => {
    afterEach(() => vi.restoreAllMocks());

    async function fileHandleProto(): Promise<FileHandle> {
      const fh = await open(join(tmpDir(), 'probe'), 'w');
      await fh.close();
      return Object.getPrototypeOf(fh) as FileHandle;
    }
    const chunks = (): Buffer[] => Array.from({ length: 10 }, (_, i) => Buffer.alloc(1024, i));

    it('datasyncs in the background while writing, and still fsyncs at the end', async () => {
      const proto = await fileHandleProto();
      const datasync = vi.spyOn(proto, 'datasync');
      const sync = vi.spyOn(proto, 'sync');
      const path = join(tmpDir(), 'f');
      await writeFileAtomic(path, chunks(), { syncEvery: 2048 });
      expect(readFileSync(path).equals(Buffer.concat(chunks()))).toBe(true);
      expect(datasync.mock.calls.length).toBeGreaterThanOrEqual(1);
      expect(datasync.mock.calls.length).toBeLessThanOrEqual(5); // one in flight at a time
      expect(sync).toHaveBeenCalledTimes(1);
      datasync.mockClear();
      await writeFileAtomic(path, chunks());
      expect(datasync).not.toHaveBeenCalled();
    });

    it('a failed background datasync fails the write: the destination stays as it was', async () => {
      const proto = await fileHandleProto();
      vi.spyOn(proto, 'datasync').mockRejectedValue(
        Object.assign(new Error('EIO: i/o error, fdatasync'), { code: 'EIO' }),
      );
      const dir = tmpDir();
      writeFileSync(join(dir, 'f'), 'old');
      await expect(
        writeFileAtomic(join(dir, 'f'), chunks(), { syncEvery: 2048 }),
      ).rejects.toMatchObject({ code: 'E_IO' });
      expect(readdirSync(dir)).toEqual(['f']);
      expect(readFileSync(join(dir, 'f'), 'utf8')).toBe('old');
    });
  });

  it.each([
    ['a symlink', (dir: string, p: string) => symlinkSync(join(dir, 'target'), p)],
    ['a directory', (_dir: string, p: string) => mkdirSync(p)],
  ])('refuses to replace %s', async (_name, make) => {
    const dir = tmpDir();
    writeFileSync(join(dir, 'target'), 'keep');
    make(dir, join(dir, 'out'));
    await expect(writeFileAtomic(join(dir, 'out'), [Buffer.from('x')])).rejects.toMatchObject({
      code: 'E_UNSAFE_ENTRY',
    });
    expect(readFileSync(join(dir, 'target'), 'utf8')).toBe('keep');
    expect(readdirSync(dir).sort()).toEqual(['out', 'target']);
  });
});

describe('stageFile', () => {
  it('keeps the destination untouched until commit, and discard removes the temp file', async () => {
    const dir = tmpDir();
    const staged = await stageFile(join(dir, 'f'), [Buffer.from('data')]);
    expect(readdirSync(dir)).toHaveLength(1);
    expect(readdirSync(dir)[0]).toMatch(/^\.ocilayout-.*\.tmp$/);
    staged.discard();
    expect(readdirSync(dir)).toEqual([]);
    const again = await stageFile(join(dir, 'f'), [Buffer.from('data')]);
    again.commit();
    again.discard(); // after commit: a no-op
    expect(readdirSync(dir)).toEqual(['f']);
  });
});
