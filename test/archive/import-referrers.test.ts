// import-referrers.ts on its own: readIncoming splits an archive's index.json into plain entries,
// referrer edges and top-level fields; mergeIncoming keeps the archive's bookkeeping as it comes
// into a target recording no referrers, and re-records the edges in the target's convention(s)
// otherwise. The archive side is a layout (what staging holds after verification).
import { cpSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { mergeIncoming, readIncoming } from '../../src/archive/import-referrers.js';
import { Layout } from '../../src/layout/layout.js';
import { Annotation } from '../../src/media-types.js';
import { detectConventions } from '../../src/referrers/convention.js';
import { fallbackTagFor } from '../../src/referrers/fallback-tag.js';
import { recordReferrers } from '../../src/referrers/record.js';
import type { IndexFile } from '../../src/schema/layout-files.js';
import { layoutSnapshot } from '../helpers/snapshot.js';
import { tmpDir } from '../helpers/tmp.js';
import {
  putArtifact,
  putImage,
  putIndex,
  setEntries,
  signedImage,
  SIG,
  tagEntry,
} from '../referrers/helpers.js';

/** A target holding every blob of `source` (as after import's publish), with `entries` listed. */
function targetWith(source: Layout): Layout {
  const root = join(tmpDir(), 'target');
  cpSync(source.root, root, { recursive: true });
  rmSync(join(root, 'ingest'), { recursive: true, force: true });
  return Layout.open(root);
}

describe('readIncoming', () => {
  it('splits bookkeeping from plain entries, and keeps top-level fields', async () => {
    const { layout, img, sig } = await signedImage('fallback-tag');
    const index: IndexFile = { ...layout.readIndex(), annotations: { from: 'archive' } };
    const incoming = readIncoming(layout, index);
    expect(incoming.all).toBe(index.manifests);
    expect(incoming.plain.map((e) => e.digest)).toEqual([img.digest]);
    expect(incoming.edges.map((e) => [e.subject.digest, e.referrer.digest])).toEqual([
      [img.digest, sig.digest],
    ]);
    expect(incoming.edges[0]!.subject.size).toBe(img.size);
    expect(incoming.top).toEqual({ annotations: { from: 'archive' } });
  });

  it('makes no edge of a referrer that is only tagged', async () => {
    const { layout } = await signedImage('per-manifest');
    const img = putImage(layout, 'b');
    const sig = putArtifact(layout, img, SIG);
    await setEntries(layout, [tagEntry(img, 'b'), tagEntry(sig, 'b-sig')]);
    const incoming = readIncoming(layout, layout.readIndex());
    expect(incoming.edges).toEqual([]);
    expect(incoming.plain).toEqual(layout.readIndex().manifests);
  });
});

describe('mergeIncoming', () => {
  it('keeps the archive entries as they come when the target records no referrers', async () => {
    const { layout: archive } = await signedImage('fallback-tag');
    const target = targetWith(archive);
    await setEntries(target, []);
    const index = target.readIndex();
    const incoming = readIncoming(archive, { ...archive.readIndex(), annotations: { a: '1' } });
    const r = mergeIncoming(target, index, incoming, 'fail');
    expect(r.conventions).toEqual([]);
    expect(index.manifests).toEqual(archive.readIndex().manifests);
    expect(r.added).toEqual(archive.readIndex().manifests);
    expect((index as Record<string, unknown>)['annotations']).toEqual({ a: '1' }); // adopted
  });

  it("re-records the archive's edges in the target's convention, dropping its bookkeeping", async () => {
    const { layout: archive, img, sig } = await signedImage('fallback-tag');
    const target = targetWith(archive);
    // The target records referrers as per-manifest entries (another image, another signature).
    const other = putImage(target, 'other');
    const otherSig = putArtifact(target, other, SIG);
    await setEntries(target, [tagEntry(other, 'other')]);
    await recordReferrers(target, [{ subject: other, referrer: otherSig }], {
      convention: 'per-manifest',
    });
    const index = target.readIndex();
    const r = mergeIncoming(target, index, readIncoming(archive, archive.readIndex()), 'fail');
    expect(r.conventions).toEqual(['per-manifest']);
    expect(r.added.map((e) => e.digest)).toEqual([img.digest]);
    const names = index.manifests.map((e) => e.annotations?.[Annotation.RefName]);
    expect(names.filter((n) => n?.startsWith('sha256-'))).toEqual([]); // no fallback tag came in
    expect(index.manifests.map((e) => e.digest)).toContain(sig.digest);
    expect(detectConventions(target, index)).toEqual(['per-manifest']);
  });

  it('records nothing new when the archive brings no referrers', async () => {
    const { layout: target } = await signedImage('per-manifest');
    const archive = targetWith(target);
    const plain = putImage(archive, 'plain');
    // Bookkeeping without referrers (an emptied fallback index) comes along as it is.
    const empty = putIndex(archive, []);
    await setEntries(archive, [
      tagEntry(plain, 'plain'),
      tagEntry(empty, fallbackTagFor(plain.digest)),
    ]);
    const incoming = readIncoming(archive, archive.readIndex());
    expect(incoming.edges).toEqual([]);
    const index = target.readIndex();
    const r = mergeIncoming(target, index, incoming, 'fail');
    expect(r.conventions).toEqual([]);
    expect(r.added.map((e) => e.digest)).toEqual([plain.digest, empty.digest]);
  });

  it('writes nothing in a dry run, reporting the conventions it would use', async () => {
    const { layout: archive } = await signedImage('per-manifest');
    const target = targetWith(archive);
    const x = putImage(target, 'x');
    const xSig = putArtifact(target, x, SIG);
    await setEntries(target, [tagEntry(x, 'x')]);
    await recordReferrers(target, [{ subject: x, referrer: xSig }], { convention: 'fallback-tag' });
    const before = layoutSnapshot(target.root);
    const index = target.readIndex();
    const r = mergeIncoming(target, index, readIncoming(archive, archive.readIndex()), 'fail', {
      dryRun: true,
    });
    expect(r.conventions).toEqual(['fallback-tag']);
    expect(layoutSnapshot(target.root)).toEqual(before);
  });

  it('keeps a populated target’s own top-level fields', async () => {
    const { layout: archive } = await signedImage('per-manifest');
    const target = targetWith(archive);
    const index: IndexFile = { ...target.readIndex(), annotations: { mine: 'yes' } };
    const incoming = readIncoming(archive, {
      ...archive.readIndex(),
      annotations: { a: '1' },
      'org.example.extension': true,
    });
    mergeIncoming(target, index, incoming, 'skip');
    expect((index as Record<string, unknown>)['annotations']).toEqual({ mine: 'yes' });
    expect(Object.hasOwn(index, 'org.example.extension')).toBe(false);
  });

  it('applies the conflict policy to tags that name other content (E_CONFLICT)', async () => {
    const { layout: archive } = await signedImage('per-manifest');
    const target = targetWith(archive);
    const other = putImage(target, 'other');
    await setEntries(target, [tagEntry(other, 'v1')]);
    const incoming = readIncoming(archive, archive.readIndex());
    expect(() => mergeIncoming(target, target.readIndex(), incoming, 'fail')).toThrow(
      expect.objectContaining({ code: 'E_CONFLICT' }),
    );
    const index = target.readIndex();
    const r = mergeIncoming(target, index, incoming, 'skip');
    expect(r.skipped.map((c) => c.tag)).toEqual(['v1']);
    expect(index.manifests[0]!.digest).toBe(other.digest);
  });
});
