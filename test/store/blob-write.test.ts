import { createHash, randomBytes } from 'node:crypto';
import { existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { placePart, writePart, writePartBytes } from '../../src/store/blob-write.js';
import { tmpDir } from '../helpers/tmp.js';

async function* chunks(...parts: string[]): AsyncGenerator<Uint8Array> {
  for (const p of parts) {
    await Promise.resolve();
    yield Buffer.from(p);
  }
}

const options = { describe: 'blob', what: 'write blob', fsync: true };

describe('writePart', () => {
  it('writes and hashes every chunk, and returns the size', async () => {
    const part = join(tmpDir(), 'part');
    const hash = createHash('sha256');
    const size = await writePart(part, chunks('ab', 'cd', 'e'), hash, options);
    expect(size).toBe(5);
    expect(readFileSync(part, 'utf8')).toBe('abcde');
    expect(hash.digest('hex')).toBe(createHash('sha256').update('abcde').digest('hex'));
  });

  it('with `transient`, writes what it hashed though the source reuses each chunk two pulls on', async () => {
    // The source reads into three buffers in turn, so chunk n is overwritten when chunk n + 3 is
    // read, i.e. right after the caller asks for chunk n + 2: what transientChunks allows. Small
    // chunks (gathered into a write) and whole 1 MiB ones alternate.
    const MiB = 1024 * 1024;
    const sizes = [300_000, 300_000, 300_000, 300_000, MiB, 5, MiB, MiB, 7, 1, MiB - 1, 2, MiB];
    const expected = randomBytes(sizes.reduce((a, b) => a + b, 0));
    const ring = [Buffer.alloc(MiB), Buffer.alloc(MiB), Buffer.alloc(MiB)];
    async function* reusing(): AsyncGenerator<Uint8Array> {
      let at = 0;
      for (const [i, n] of sizes.entries()) {
        const buf = ring[i % 3]!;
        expected.copy(buf, 0, at, at + n);
        at += n;
        await new Promise((resolve) => setTimeout(resolve, 1));
        yield buf.subarray(0, n);
      }
    }
    const part = join(tmpDir(), 'part');
    const hash = createHash('sha256');
    const size = await writePart(part, reusing(), hash, { ...options, transient: true });
    expect(size).toBe(expected.length);
    expect(readFileSync(part).equals(expected)).toBe(true);
    expect(hash.digest('hex')).toBe(createHash('sha256').update(expected).digest('hex'));
  });

  describe('when the part cannot be written as asked', () => {
    it('stops as soon as the source passes maxSize (E_SIZE_MISMATCH)', async () => {
      const part = join(tmpDir(), 'part');
      let pulled = 0;
      async function* counted(): AsyncGenerator<Uint8Array> {
        for (const p of ['aaa', 'bbb', 'ccc']) {
          pulled += 1;
          await Promise.resolve();
          yield Buffer.from(p);
        }
      }
      const hash = createHash('sha256');
      await expect(
        writePart(part, counted(), hash, { ...options, maxSize: 4 }),
      ).rejects.toMatchObject({ code: 'E_SIZE_MISMATCH' });
      expect(pulled).toBe(2);
    });

    it('refuses a part file that exists already (E_IO), leaving it as it was', async () => {
      const part = join(tmpDir(), 'part');
      writeFileSync(part, 'someone else');
      await expect(
        writePart(part, chunks('x'), createHash('sha256'), options),
      ).rejects.toMatchObject({ code: 'E_IO' });
      expect(readFileSync(part, 'utf8')).toBe('someone else');
    });
  });
});

describe('writePartBytes', () => {
  it('creates the part with the bytes, and never overwrites', () => {
    const part = join(tmpDir(), 'part');
    writePartBytes(part, Buffer.from('{}'), false);
    expect(readFileSync(part, 'utf8')).toBe('{}');
    expect(() => writePartBytes(part, Buffer.from('[]'), false)).toThrow(
      expect.objectContaining({ code: 'EEXIST' }),
    );
  });
});

describe('placePart', () => {
  it('hard-links the part to a free target', () => {
    const dir = tmpDir();
    writeFileSync(join(dir, 'part'), 'abc');
    expect(placePart(join(dir, 'part'), join(dir, 'blob'), 3)).toBe(false);
    expect(statSync(join(dir, 'blob')).ino).toBe(statSync(join(dir, 'part')).ino);
  });

  it('keeps a complete blob already there (existed), and replaces one of the wrong size', () => {
    const dir = tmpDir();
    writeFileSync(join(dir, 'part'), 'abc');
    writeFileSync(join(dir, 'blob'), 'xyz');
    expect(placePart(join(dir, 'part'), join(dir, 'blob'), 3)).toBe(true);
    expect(readFileSync(join(dir, 'blob'), 'utf8')).toBe('xyz');
    writeFileSync(join(dir, 'short'), 'ab');
    expect(placePart(join(dir, 'part'), join(dir, 'short'), 3)).toBe(false);
    expect(readFileSync(join(dir, 'short'), 'utf8')).toBe('abc');
    expect(existsSync(join(dir, 'part'))).toBe(false); // renamed over the short file
  });
});
