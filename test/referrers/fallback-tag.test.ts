import { describe, expect, it } from 'vitest';
import {
  Annotation,
  ConventionContext,
  MediaType,
  classifyIndex,
  detectConventions,
  digestOf,
  discoverReferrers,
  fallbackTagFor,
  recordReferrers,
  subjectOfFallbackTag,
} from '../../src/internal.js';
import { fallbackTagConvention } from '../../src/referrers/fallback-tag.js';
import { layoutSnapshot } from '../helpers/snapshot.js';
import { tmpLayout } from '../helpers/tmp.js';
import {
  SIG,
  copyFixture,
  putArtifact,
  putImage,
  putIndex,
  setEntries,
  tagEntry,
} from './helpers.js';

const SUBJECT = 'sha256:759431f268db4566be0168dfa99963818ccf3858ff70891464a79cd926e497f1';

describe('fallbackTagFor', () => {
  it.each([
    [`sha256:${'a'.repeat(64)}`, `sha256-${'a'.repeat(64)}`],
    [`sha512:${'b'.repeat(64)}${'c'.repeat(64)}`, `sha512-${'b'.repeat(64)}`],
    // distribution-spec's own example: algorithm cut to 32, encoded to 64, `+` and `=` become `-`.
    [
      'test+algorithm+using+algorithm+separators+and+lots+of+characters+to+excercise+overall+truncation:alsoSome=InTheEncodedSectionToShowHyphenReplacementAndLotsAndLotsOfCharacters',
      'test-algorithm-using-algorithm-s-alsoSome-InTheEncodedSectionToShowHyphenReplacementAndLotsAndLot',
    ],
  ])('%s → %s', (digest, tag) => {
    expect(fallbackTagFor(digest)).toBe(tag);
    expect(tag.length).toBeLessThanOrEqual(128);
  });

  it('reads the subject back only when nothing was truncated', () => {
    const sha256 = `sha256:${'a'.repeat(64)}`;
    const sha512 = `sha512:${'b'.repeat(128)}`;
    expect(subjectOfFallbackTag(fallbackTagFor(sha256))).toBe(sha256);
    expect(subjectOfFallbackTag(fallbackTagFor(sha512))).toBeUndefined();
    expect(subjectOfFallbackTag(`sha512-${'b'.repeat(128)}`)).toBe(sha512);
    expect(subjectOfFallbackTag('v1')).toBeUndefined();
  });
});

describe('fallback-tag convention', () => {
  it('reads the regctl shape: the tag index lists both referrers of v1', () => {
    const layout = copyFixture('peers/regctl-style');
    expect(detectConventions(layout)).toEqual(['fallback-tag']);
    const refs = discoverReferrers(layout, SUBJECT).map((d) => d.digest);
    expect(refs).toEqual([
      'sha256:8af5360003a62ce4e1c230d9da1b438682972696f70523b7d028c44d9bbedb35',
      'sha256:ebe2a4b108f569effe7d040e777bc9abace8c1d35c826801be064adc510c0567',
    ]);
    const [b] = classifyIndex(layout.readIndex(), new ConventionContext(layout));
    expect(b).toMatchObject({ convention: 'fallback-tag', subject: SUBJECT });
  });

  it('writes one index per subject under ref.name <alg>-<hex>, sorted by digest, artifactType pulled up', async () => {
    const layout = tmpLayout();
    const img = putImage(layout, 'a');
    await setEntries(layout, [tagEntry(img, 'v1')]);
    const s1 = putArtifact(layout, img, SIG, { n: '1' });
    const s2 = putArtifact(layout, img, SIG, { n: '2' });
    await recordReferrers(
      layout,
      [
        { subject: img, referrer: s2 },
        { subject: img, referrer: s1 },
      ],
      {
        convention: 'fallback-tag',
      },
    );
    const index = layout.readIndex();
    expect(index.manifests).toHaveLength(2);
    const entry = index.manifests[1]!;
    expect(entry).toEqual({
      mediaType: MediaType.ImageIndex,
      digest: entry.digest,
      size: entry.size,
      annotations: { [Annotation.RefName]: fallbackTagFor(img.digest) },
    });
    const listed = JSON.parse(
      layout.blobs.readBytes(entry.digest as never, 1 << 20).toString(),
    ) as {
      manifests: { digest: string; artifactType: string; annotations: Record<string, string> }[];
    };
    expect(listed.manifests.map((d) => d.digest)).toEqual([s1.digest, s2.digest].sort());
    expect(listed.manifests.every((d) => d.artifactType === SIG)).toBe(true);
    expect(listed.manifests.map((d) => d.annotations['n']).sort()).toEqual(['1', '2']);
  });

  it('adds to an existing regctl index without duplicating, and removes the tag when emptied', async () => {
    const layout = copyFixture('peers/regctl-style');
    const img = layout.resolve({ tag: 'v1' });
    const before = layout.index.read().text;
    const existing = discoverReferrers(layout, img.digest);
    await recordReferrers(
      layout,
      existing.map((referrer) => ({ subject: img, referrer })),
      {
        convention: 'fallback-tag',
      },
    );
    expect(layout.index.read().text).toBe(before);

    const s3 = putArtifact(layout, img, SIG, { n: '3' });
    await recordReferrers(layout, [{ subject: img, referrer: s3 }], { convention: 'fallback-tag' });
    expect(discoverReferrers(layout, img.digest)).toHaveLength(3);
    // The entry keeps its place and regclient's created annotation.
    const entry = layout.readIndex().manifests[1]!;
    expect(entry.annotations?.[Annotation.Created]).toBe('2024-01-01T00:00:05Z');

    await layout.updateIndex((index) => {
      const ctx = new ConventionContext(layout);
      fallbackTagConvention.remove(
        index,
        new Set([...existing.map((d) => d.digest), s3.digest]),
        ctx,
      );
      return { index, result: undefined };
    });
    expect(layout.readIndex().manifests.map((e) => e.annotations?.[Annotation.RefName])).toEqual([
      'v1',
    ]);
  });

  it('refuses (E_CONFLICT) when the tag names something that is not a referrers index, and writes nothing', async () => {
    const layout = tmpLayout();
    const img = putImage(layout, 'a');
    const other = putImage(layout, 'b');
    await setEntries(layout, [tagEntry(img, 'v1'), tagEntry(other, fallbackTagFor(img.digest))]);
    const sig = putArtifact(layout, img, SIG);
    const before = layoutSnapshot(layout.root);
    await expect(
      recordReferrers(layout, [{ subject: img, referrer: sig }], { convention: 'fallback-tag' }),
    ).rejects.toMatchObject({ code: 'E_CONFLICT' });
    expect(layoutSnapshot(layout.root)).toEqual(before);
  });

  it('treats an index of subject-less manifests under a fallback-shaped name as a user tag', async () => {
    const layout = tmpLayout();
    const img = putImage(layout, 'a');
    const multi = putIndex(layout, [img]);
    await setEntries(layout, [tagEntry(multi, fallbackTagFor(digestOf('x')))]);
    expect(detectConventions(layout)).toEqual([]);
  });

  it('recovers a truncated sha512 subject from the listed manifests and never leaks another subject', async () => {
    const layout = tmpLayout();
    const img = putImage(layout, 'a', { algorithm: 'sha512' });
    const sig = putArtifact(layout, img, SIG);
    await setEntries(layout, [tagEntry(img, 'v1')]);
    await recordReferrers(layout, [{ subject: img, referrer: sig }], {
      convention: 'fallback-tag',
    });
    const tag = fallbackTagFor(img.digest);
    expect(tag).toHaveLength(71);
    expect(layout.readIndex().manifests[1]?.annotations?.[Annotation.RefName]).toBe(tag);
    const [b] = classifyIndex(layout.readIndex(), new ConventionContext(layout)).filter(
      (x) => x.convention === 'fallback-tag',
    );
    expect(b?.subject).toBe(img.digest);
    expect(discoverReferrers(layout, img.digest).map((d) => d.digest)).toEqual([sig.digest]);
    // Another sha512 digest sharing the 64-hex prefix has no referrers, though it shares the tag.
    const twin = `${img.digest.slice(0, 7 + 64)}${'0'.repeat(64)}`;
    expect(fallbackTagFor(twin)).toBe(tag);
    expect(discoverReferrers(layout, twin)).toEqual([]);
  });
});
