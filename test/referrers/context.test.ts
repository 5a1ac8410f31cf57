// context.ts: what a convention plans with. Index blobs are stored before the commit (or only named
// in a dry run), listed once each, and readable through the context's document reader at once.
import { describe, expect, it } from 'vitest';
import { digestOf, parseDigest } from '../../src/digest.js';
import { MediaType } from '../../src/media-types.js';
import { ConventionContext } from '../../src/referrers/context.js';
import { tmpLayout } from '../helpers/tmp.js';

const INDEX = Buffer.from(
  JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: [] }),
);

describe('ConventionContext', () => {
  it('stores an index blob and lists it once however often it is put', () => {
    const layout = tmpLayout();
    const ctx = new ConventionContext(layout);
    const d = ctx.putIndexBlob(INDEX);
    expect(d).toEqual({
      mediaType: MediaType.ImageIndex,
      digest: digestOf(INDEX),
      size: INDEX.length,
    });
    ctx.putIndexBlob(INDEX);
    expect(ctx.written).toEqual([d]);
    expect(layout.blobs.has(parseDigest(d.digest))).toBe(true);
    expect(ctx.docs.doc(d.digest)?.kind).toBe('index');
  });

  it('names but does not store blobs in a dry run, and still reads them back', () => {
    const layout = tmpLayout();
    const ctx = new ConventionContext(layout, { dryRun: true });
    const d = ctx.putIndexBlob(INDEX);
    expect(layout.blobs.has(parseDigest(d.digest))).toBe(false);
    expect(ctx.written).toEqual([d]);
    expect(ctx.docs.doc(d.digest)?.children).toEqual([]);
  });

  it('finds stored digests by algorithm and encoded prefix', () => {
    const layout = tmpLayout();
    const a = layout.blobs.putBytes(Buffer.from('a')).digest;
    const b = layout.blobs.putBytes(Buffer.from('b')).digest;
    const s512 = layout.blobs.putBytes(Buffer.from('c'), { algorithm: 'sha512' }).digest;
    const ctx = new ConventionContext(layout);
    expect(ctx.blobsWithPrefix('sha256', a.slice(7, 15))).toEqual([a]);
    expect(ctx.blobsWithPrefix('sha256', '').sort()).toEqual([a, b].sort());
    expect(ctx.blobsWithPrefix('sha512', s512.slice(7, 20))).toEqual([s512]);
    expect(ctx.blobsWithPrefix('sha384', '')).toEqual([]);
  });
});
