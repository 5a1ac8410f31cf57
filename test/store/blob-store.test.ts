import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { digestOf, parseDigest } from '../../src/index.js';
import { tmpLayout } from '../helpers/tmp.js';

describe('BlobStore', () => {
  it('stores a stream under blobs/<alg>/<hex> and reads it back verified', async () => {
    const layout = tmpLayout();
    const data = Buffer.from('hello world');
    const r = await layout.blobs.put(Readable.from([data]));
    expect(r.digest).toBe(digestOf(data));
    expect(r.existed).toBe(false);
    const chunks: Buffer[] = [];
    for await (const c of layout.blobs.open(r.digest, { verify: true, size: data.length }))
      chunks.push(c as Buffer);
    expect(Buffer.concat(chunks).equals(data)).toBe(true);
  });

  it('refuses content that does not match the expected digest and leaves nothing behind', async () => {
    const layout = tmpLayout();
    const wrong = digestOf('other');
    await expect(
      layout.blobs.put(Readable.from([Buffer.from('data')]), { digest: wrong }),
    ).rejects.toMatchObject({
      code: 'E_DIGEST_MISMATCH',
    });
    expect(layout.blobs.has(parseDigest(wrong))).toBe(false);
    expect(layout.blobs.list().blobs).toEqual([]);
  });

  it('is idempotent for an existing blob', () => {
    const layout = tmpLayout();
    const a = layout.blobs.putBytes(Buffer.from('x'));
    const b = layout.blobs.putBytes(Buffer.from('x'), { digest: a.digest, size: 1 });
    expect(b).toMatchObject({ digest: a.digest, existed: true });
  });
});
