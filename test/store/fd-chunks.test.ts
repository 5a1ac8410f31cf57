import { randomBytes } from 'node:crypto';
import { closeSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ChunkRing, fdChunks } from '../../src/store/fd-chunks.js';
import { tmpDir } from '../helpers/tmp.js';

const MiB = 1024 * 1024;

async function withFile<T>(bytes: Buffer, fn: (fd: number) => Promise<T>): Promise<T> {
  const path = join(tmpDir(), 'blob');
  writeFileSync(path, bytes);
  const fd = openSync(path, 'r');
  try {
    return await fn(fd);
  } finally {
    closeSync(fd);
  }
}

describe('fdChunks', () => {
  it('reads the whole file in chunks of up to 1 MiB, reusing the buffers handed back', async () => {
    const bytes = randomBytes(5 * MiB + 17);
    const ring = new ChunkRing();
    const seen = new Set<ArrayBufferLike>();
    const copies: Buffer[] = [];
    await withFile(bytes, async (fd) => {
      for await (const chunk of fdChunks(fd, ring, { size: bytes.byteLength, what: 'blob x' })) {
        expect(chunk.byteLength).toBeLessThanOrEqual(MiB);
        copies.push(Buffer.from(chunk));
        seen.add(chunk.buffer);
        ring.release(chunk);
      }
    });
    expect(Buffer.concat(copies).equals(bytes)).toBe(true);
    // One chunk in the caller's hands and one read ahead: two buffers serve all six chunks.
    expect(seen.size).toBe(2);
  });

  it('reads to the end when no size is expected', async () => {
    const bytes = randomBytes(2 * MiB + 5);
    const copies: Buffer[] = [];
    await withFile(bytes, async (fd) => {
      for await (const chunk of fdChunks(fd, new ChunkRing())) copies.push(Buffer.from(chunk));
    });
    expect(Buffer.concat(copies).equals(bytes)).toBe(true);
  });

  it('never hands out a buffer that was not given back', async () => {
    const bytes = randomBytes(4 * MiB);
    const ring = new ChunkRing();
    const held: Buffer[] = [];
    await withFile(bytes, async (fd) => {
      for await (const chunk of fdChunks(fd, ring, { size: bytes.byteLength, what: 'blob x' }))
        held.push(chunk);
    });
    expect(new Set(held.map((c) => c.buffer)).size).toBe(held.length);
    expect(Buffer.concat(held).equals(bytes)).toBe(true);
    ring.release(Buffer.alloc(MiB)); // not the ring's: ignored
    ring.release(held[0]!);
    ring.release(held[0]!); // twice: once only
    const a = ring.take();
    const b = ring.take();
    expect(a.buffer).toBe(held[0]!.buffer);
    expect(b.buffer).not.toBe(held[0]!.buffer);
  });

  it('fails with E_SIZE_MISMATCH before yielding a byte past the size, and on a short file', async () => {
    const bytes = randomBytes(2 * MiB + 1);
    await withFile(bytes, async (fd) => {
      let got = 0;
      const reading = (async () => {
        for await (const chunk of fdChunks(fd, new ChunkRing(), {
          size: 2 * MiB,
          what: 'blob x',
        })) {
          got += chunk.byteLength;
        }
      })();
      await expect(reading).rejects.toMatchObject({ code: 'E_SIZE_MISMATCH' });
      expect(got).toBe(2 * MiB);
      const short = (async () => {
        for await (const _ of fdChunks(fd, new ChunkRing(), { size: 3 * MiB, what: 'blob x' }));
      })();
      await expect(short).rejects.toMatchObject({
        code: 'E_SIZE_MISMATCH',
        details: { expected: 3 * MiB, found: 2 * MiB + 1 },
      });
    });
  });
});
