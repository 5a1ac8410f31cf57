import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { tarChunks } from '../../src/archive/tar-writer.js';

async function collect(it: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const c of it) out.push(c);
  return out;
}

describe('tarChunks', () => {
  it('coalesces many small entries into chunks of at least 1 MiB', async () => {
    const chunks = await collect(
      tarChunks(async (w) => {
        for (let i = 0; i < 5000; i++)
          await w.file(`f${String(i).padStart(5, '0')}`, Buffer.from('x'));
      }),
    );
    const total = chunks.reduce((n, c) => n + c.length, 0);
    expect(total).toBe(5000 * 1024 + 1024);
    for (const c of chunks.slice(0, -1)) expect(c.length).toBeGreaterThanOrEqual(1024 * 1024);
  });

  it('tells which body chunks it copied into a coalesced chunk, and only those', async () => {
    // A blob's short last read is gathered with the headers after it: its buffer is free at once.
    const big = Buffer.alloc(256 * 1024, 1);
    const tail = Buffer.alloc(1000, 2);
    const copied: Buffer[] = [];
    const chunks = await collect(
      tarChunks(
        async (w) => {
          await w.stream('blob', big.length + tail.length, Readable.from([big, tail]));
          await w.file('next', Buffer.from('x'));
        },
        (piece) => copied.push(piece),
      ),
    );
    expect(chunks).toContain(big);
    expect(copied).toContain(tail);
    expect(copied).not.toContain(big);
    expect(chunks).not.toContain(tail);
  });

  it('ends with the producer’s error (a blob failing verification mid-stream)', async () => {
    const boom = new Error('digest mismatch');
    async function* body(): AsyncGenerator<Buffer> {
      yield Buffer.alloc(4096);
      await Promise.resolve();
      throw boom;
    }
    await expect(collect(tarChunks((w) => w.stream('big', 8192, body())))).rejects.toBe(boom);
  });
});
