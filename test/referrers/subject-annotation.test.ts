import { describe, expect, it } from 'vitest';
import {
  Annotation,
  ConventionContext,
  MediaType,
  detach,
  detectConventions,
  discoverReferrers,
  recordReferrers,
} from '../../src/internal.js';
import { subjectAnnotationConvention } from '../../src/referrers/subject-annotation.js';
import { tmpLayout } from '../helpers/tmp.js';
import {
  SIG,
  SBOM,
  copyFixture,
  putArtifact,
  putImage,
  setEntries,
  signedImage,
  tagEntry,
} from './helpers.js';

const V1 = 'sha256:759431f268db4566be0168dfa99963818ccf3858ff70891464a79cd926e497f1';
const MULTI = 'sha256:6310998ef09c1e1a8d329405b6bf52f259b92bce97020f5acd1bf9a5732f02ff';

describe('subject-annotation convention', () => {
  it('reads both key families (olareg shape): a referrer of v1 and one of the index', () => {
    const layout = copyFixture('peers/olareg-style');
    expect(detectConventions(layout)).toEqual(['subject-annotation']);
    expect(discoverReferrers(layout, V1).map((d) => d.digest)).toEqual([
      'sha256:ebe2a4b108f569effe7d040e777bc9abace8c1d35c826801be064adc510c0567',
    ]);
    expect(discoverReferrers(layout, MULTI).map((d) => d.digest)).toEqual([
      'sha256:57cb4e1b03131528326a40aa47951e945f40d27f858ac69e17eb6b434fd32cf6',
    ]);
  });

  it('writes the PR #1171 key by default: one untagged response entry per subject', async () => {
    const layout = tmpLayout();
    const img = putImage(layout, 'a');
    await setEntries(layout, [tagEntry(img, 'v1')]);
    const sig = putArtifact(layout, img, SIG);
    const sbom = putArtifact(layout, img, SBOM);
    await recordReferrers(layout, [{ subject: img, referrer: sig }], {
      convention: 'subject-annotation',
    });
    await recordReferrers(layout, [{ subject: img, referrer: sbom }], {
      convention: 'subject-annotation',
    });
    const entries = layout.readIndex().manifests;
    expect(entries).toHaveLength(2);
    expect(entries[1]).toEqual({
      mediaType: MediaType.ImageIndex,
      digest: entries[1]!.digest,
      size: entries[1]!.size,
      annotations: { [Annotation.ReferrerSubject]: img.digest },
    });
    expect(discoverReferrers(layout, img.digest).map((d) => d.digest)).toEqual(
      [sig.digest, sbom.digest].sort(),
    );
  });

  it('writes olareg keys on request, and keeps the family of an entry it updates', async () => {
    const { layout, img } = await signedImage('subject-annotation', { olaregKeys: true });
    const sbom = putArtifact(layout, img, SBOM);
    await recordReferrers(layout, [{ subject: img, referrer: sbom }], { convention: 'auto' });
    const entries = layout.readIndex().manifests;
    expect(entries).toHaveLength(2);
    expect(Object.keys(entries[1]!.annotations ?? {})).toEqual([Annotation.OlaregReferrerSubject]);
    expect(discoverReferrers(layout, img.digest)).toHaveLength(2);
  });

  it('updates the olareg response in place (created kept) and never duplicates on repeat', async () => {
    const layout = copyFixture('peers/olareg-style');
    const img = layout.resolve({ tag: 'v1' });
    const text = layout.index.read().text;
    const existing = discoverReferrers(layout, img.digest);
    await recordReferrers(
      layout,
      existing.map((referrer) => ({ subject: img, referrer })),
      {
        convention: 'subject-annotation',
      },
    );
    expect(layout.index.read().text).toBe(text);
    const sbom = putArtifact(layout, img, SBOM);
    await recordReferrers(layout, [{ subject: img, referrer: sbom }], {
      convention: 'subject-annotation',
    });
    const entry = layout.readIndex().manifests[2]!;
    expect(entry.annotations).toEqual({
      [Annotation.OlaregReferrerSubject]: img.digest,
      [Annotation.Created]: '2024-01-01T00:00:05Z',
    });
    expect(discoverReferrers(layout, img.digest)).toHaveLength(2);
  });

  it('removes a response that becomes empty', async () => {
    const { layout, img, sig } = await signedImage('subject-annotation');
    await layout.updateIndex((index) => {
      subjectAnnotationConvention.remove(
        index,
        new Set([sig.digest]),
        new ConventionContext(layout),
      );
      return { index, result: undefined };
    });
    expect(layout.readIndex().manifests).toHaveLength(1);
    const again = putArtifact(layout, img, SIG, { again: 'yes' });
    await recordReferrers(layout, [{ subject: img, referrer: again }], {
      convention: 'subject-annotation',
    });
    const r = await detach(layout, again.digest);
    expect(r.conventions).toEqual(['subject-annotation']);
    expect(layout.readIndex().manifests).toHaveLength(1);
  });
});
