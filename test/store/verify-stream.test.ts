import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { describe, expect, it } from 'vitest';
import { digestOf, parseDigest } from '../../src/digest.js';
import { VerifyingStream } from '../../src/store/verify-stream.js';

async function drain(
  chunks: Buffer[],
  expected: { digest: string; size?: number },
): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(
    Readable.from(chunks),
    new VerifyingStream({ digest: parseDigest(expected.digest), size: expected.size }, 'blob x'),
    async (source: AsyncIterable<Buffer>) => {
      for await (const c of source) out.push(c);
    },
  );
  return Buffer.concat(out);
}

describe('VerifyingStream', () => {
  const data = Buffer.from('verified bytes flow through');
  const parts = [data.subarray(0, 5), data.subarray(5)];

  it('passes matching content through unchanged', async () => {
    expect(await drain(parts, { digest: digestOf(data), size: data.length })).toEqual(data);
    expect(await drain(parts, { digest: digestOf(data, 'sha512') })).toEqual(data);
  });

  it('fails at the end on a digest mismatch', async () => {
    await expect(drain(parts, { digest: digestOf('other') })).rejects.toMatchObject({
      code: 'E_DIGEST_MISMATCH',
      details: { expected: digestOf('other'), found: digestOf(data) },
    });
  });

  it('fails on a short stream', async () => {
    await expect(
      drain(parts, { digest: digestOf(data), size: data.length + 1 }),
    ).rejects.toMatchObject({ code: 'E_SIZE_MISMATCH', details: { found: data.length } });
  });

  it('fails as soon as the stream runs past the expected size', async () => {
    await expect(drain(parts, { digest: digestOf(data), size: 3 })).rejects.toMatchObject({
      code: 'E_SIZE_MISMATCH',
      details: { expected: 3, found: 5 },
    });
  });
});
