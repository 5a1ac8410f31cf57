import { mkdirSync, readdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
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
