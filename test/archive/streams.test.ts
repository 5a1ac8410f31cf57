import { Writable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { newDecompressor, newGzip } from '../../src/archive/compression.js';
import { throughCodec, waitDrain } from '../../src/archive/streams.js';

async function* chunksOf(...parts: Buffer[]): AsyncGenerator<Buffer> {
  for (const p of parts) {
    await Promise.resolve();
    yield p;
  }
}

async function collect(source: AsyncIterable<Buffer>): Promise<Buffer> {
  const out: Buffer[] = [];
  for await (const c of source) out.push(c);
  return Buffer.concat(out);
}

describe('throughCodec', () => {
  it('runs chunks through gzip and back unchanged', async () => {
    const data = Buffer.from('layer bytes '.repeat(10_000));
    const packed = await collect(
      throughCodec(chunksOf(data.subarray(0, 7), data.subarray(7)), newGzip()),
    );
    expect(packed.subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
    expect(await collect(throughCodec(chunksOf(packed), newDecompressor('gzip')))).toEqual(data);
  });

  describe('when the input is corrupt', () => {
    it('fails the iteration with the codec error', async () => {
      const packed = gzipSync(Buffer.from('x'.repeat(1000)));
      const broken = Buffer.from(packed);
      broken[broken.length - 5] = broken[broken.length - 5]! ^ 0xff; // the CRC no longer matches
      await expect(
        collect(throughCodec(chunksOf(broken), newDecompressor('gzip'))),
      ).rejects.toThrow();
    });
  });

  describe('when the source fails', () => {
    it('fails the iteration with the source error', async () => {
      async function* failing(): AsyncGenerator<Buffer> {
        yield Buffer.from('abc');
        await Promise.resolve();
        throw new Error('source broke');
      }
      await expect(collect(throughCodec(failing(), newGzip()))).rejects.toThrow('source broke');
    });
  });
});

describe('waitDrain', () => {
  it('resolves at once for a stream destroyed already (its close event is gone)', async () => {
    const w = new Writable({ write: () => undefined });
    w.destroy();
    await new Promise((resolve) => setImmediate(resolve)); // 'close' has been emitted
    await expect(waitDrain(w)).resolves.toBeUndefined();
  }, 5_000);
});
