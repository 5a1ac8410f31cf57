import { describe, expect, it } from 'vitest';
import {
  Annotation,
  applyReferrerEdges,
  discoverReferrers,
  recordReferrers,
  setTag,
} from '../../src/internal.js';
import { layoutSnapshot } from '../helpers/snapshot.js';
import { tmpLayout } from '../helpers/tmp.js';
import { SIG, putArtifact, putImage, setEntries, tagEntry } from './helpers.js';

describe('applyReferrerEdges / recordReferrers', () => {
  it('lets an importer tag an image and record its referrers in one index.json commit', async () => {
    const layout = tmpLayout();
    const img = putImage(layout, 'a');
    const sig = putArtifact(layout, img, SIG);
    let commits = 0;
    const used = await layout.updateIndex((index) => {
      commits++;
      setTag(index, 'v1', img);
      const conventions = applyReferrerEdges(layout, index, [{ subject: img, referrer: sig }], {
        convention: 'fallback-tag',
      });
      return { index, result: conventions };
    });
    expect(commits).toBe(1);
    expect(used).toEqual(['fallback-tag']);
    expect(layout.readIndex().manifests.map((e) => e.annotations?.[Annotation.RefName])).toEqual([
      'v1',
      `sha256-${img.digest.slice(7)}`,
    ]);
    expect(discoverReferrers(layout, img.digest).map((d) => d.digest)).toEqual([sig.digest]);
  });

  it('rebuilds the descriptor from the stored manifest, whatever the caller passed', async () => {
    const layout = tmpLayout();
    const img = putImage(layout, 'a');
    const sig = putArtifact(layout, img, SIG, { k: 'v' });
    await setEntries(layout, [tagEntry(img, 'v1')]);
    await recordReferrers(
      layout,
      [
        {
          subject: img,
          referrer: { mediaType: sig.mediaType, digest: sig.digest, size: sig.size },
        },
      ],
      { convention: 'subject-annotation' },
    );
    expect(discoverReferrers(layout, img.digest)).toEqual([
      {
        mediaType: sig.mediaType,
        digest: sig.digest,
        size: sig.size,
        annotations: { k: 'v' },
        artifactType: SIG,
      },
    ]);
  });

  it('refuses a referrer that is not stored (E_NOT_FOUND) or names another subject (E_CONFLICT)', async () => {
    const layout = tmpLayout();
    const a = putImage(layout, 'a');
    const b = putImage(layout, 'b');
    const sigOfA = putArtifact(layout, a, SIG);
    await setEntries(layout, [tagEntry(a, 'a'), tagEntry(b, 'b')]);
    const before = layoutSnapshot(layout.root);
    const missing = { ...sigOfA, digest: `sha256:${'f'.repeat(64)}` };
    await expect(
      recordReferrers(layout, [{ subject: a, referrer: missing }], { convention: 'per-manifest' }),
    ).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    await expect(
      recordReferrers(layout, [{ subject: b, referrer: sigOfA }], { convention: 'per-manifest' }),
    ).rejects.toMatchObject({ code: 'E_CONFLICT' });
    expect(layoutSnapshot(layout.root)).toEqual(before);
  });

  it('writes nothing for no edges', async () => {
    const layout = tmpLayout();
    const before = layoutSnapshot(layout.root);
    await recordReferrers(layout, [], { convention: 'auto' });
    expect(layoutSnapshot(layout.root)).toEqual(before);
  });
});
