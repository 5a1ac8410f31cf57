import { describe, expect, it } from 'vitest';
import {
  Annotation,
  CONVENTION_NAMES,
  convert,
  detectConventions,
  fallbackTagFor,
  recordReferrers,
  type ConventionName,
  type Layout,
} from '../../src/internal.js';
import { layoutSnapshot } from '../helpers/snapshot.js';
import { tmpLayout } from '../helpers/tmp.js';
import {
  SBOM,
  SIG,
  indexText,
  putArtifact,
  putImage,
  putIndex,
  referrerSets,
  setEntries,
  staleFallbackLayout,
  tagEntry,
  untaggedEntry,
} from './helpers.js';

/**
 * A layout with referrers of a manifest, of an index, of a sha512 manifest, and of a referrer,
 * recorded in `convention`, between unrelated entries (tagged and untagged).
 */
async function richLayout(convention: ConventionName): Promise<Layout> {
  const layout = tmpLayout();
  const a = putImage(layout, 'a');
  const amd = putImage(layout, 'amd64');
  const multi = putIndex(layout, [amd]);
  const s = putImage(layout, 's', { algorithm: 'sha512' });
  const loose = putImage(layout, 'loose');
  await setEntries(layout, [
    tagEntry(a, 'v1'),
    untaggedEntry(loose),
    tagEntry(multi, 'multi'),
    tagEntry(s, 's512'),
  ]);
  const sigA = putArtifact(layout, a, SIG);
  const sbomA = putArtifact(layout, a, SBOM);
  const sigSbom = putArtifact(layout, sbomA, SIG);
  const sigMulti = putArtifact(layout, multi, SIG);
  const sigS = putArtifact(layout, s, SIG);
  await recordReferrers(
    layout,
    [
      { subject: a, referrer: sigA },
      { subject: a, referrer: sbomA },
      { subject: sbomA, referrer: sigSbom },
      { subject: multi, referrer: sigMulti },
      { subject: s, referrer: sigS },
    ],
    { convention },
  );
  const after = putImage(layout, 'after');
  await layout.updateIndex((index) => {
    index.manifests.push(tagEntry(after, 'later'));
    return { index, result: undefined };
  });
  return layout;
}

function userEntries(layout: Layout): string[] {
  return layout
    .readIndex()
    .manifests.filter((e) => {
      const tag = e.annotations?.[Annotation.RefName];
      return tag === undefined ? e.annotations === undefined : !tag.startsWith('sha');
    })
    .map((e) => JSON.stringify(e));
}

const PAIRS = CONVENTION_NAMES.flatMap((a) =>
  CONVENTION_NAMES.filter((b) => b !== a).map((b) => [a, b] as const),
);

describe('convert', () => {
  it.each(PAIRS)(
    '%s → %s → back is lossless, deterministic and leaves other entries alone',
    async (from, to) => {
      const layout = await richLayout(from);
      const sets = referrerSets(layout);
      expect(Object.keys(sets)).toHaveLength(4);
      const users = userEntries(layout);
      await convert(layout, from);
      const canonical = indexText(layout);

      const there = await convert(layout, to);
      expect(there.changed).toBe(true);
      expect(there.from).toEqual([from]);
      expect(detectConventions(layout)).toEqual([to]);
      expect(referrerSets(layout)).toEqual(sets);
      expect(userEntries(layout)).toEqual(users);

      const again = await convert(layout, to);
      expect(again.changed).toBe(false);

      await convert(layout, from);
      expect(indexText(layout)).toBe(canonical);
      expect(referrerSets(layout)).toEqual(sets);
    },
  );

  it('writes canonical bookkeeping after the other entries, sorted', async () => {
    const layout = await richLayout('per-manifest');
    await convert(layout, 'fallback-tag');
    const tags = layout.readIndex().manifests.map((e) => e.annotations?.[Annotation.RefName]);
    const fallback = tags.filter((t) => t?.startsWith('sha'));
    expect(tags.slice(-fallback.length)).toEqual(fallback);
    expect(fallback).toEqual([...fallback].sort());
    expect(fallback).toHaveLength(4);
  });

  it('plans without writing in a dry run, and the plan matches the real run', async () => {
    const layout = await richLayout('fallback-tag');
    const before = layoutSnapshot(layout.root);
    const plan = await convert(layout, 'subject-annotation', { dryRun: true });
    expect(layoutSnapshot(layout.root)).toEqual(before);
    expect(plan).toMatchObject({ dryRun: true, changed: true, subjects: 4, referrers: 5 });
    expect(plan.removed).toHaveLength(4);
    expect(plan.added).toHaveLength(4);
    const real = await convert(layout, 'subject-annotation');
    expect({ ...real, dryRun: true }).toEqual(plan);
  });

  it('merges every convention of a mixed layout into one, dropping the convert flags', async () => {
    const layout = tmpLayout();
    const a = putImage(layout, 'a');
    await setEntries(layout, [tagEntry(a, 'v1')], {
      annotations: { [Annotation.OlaregReferrerConvert]: 'true', keep: 'me' },
    });
    const refs = [SIG, SBOM, 'application/x'].map((t) => putArtifact(layout, a, t));
    await recordReferrers(layout, [{ subject: a, referrer: refs[0]! }], {
      convention: 'fallback-tag',
    });
    await recordReferrers(layout, [{ subject: a, referrer: refs[1]! }], {
      convention: 'subject-annotation',
    });
    await recordReferrers(
      layout,
      [
        { subject: a, referrer: refs[2]! },
        { subject: a, referrer: refs[0]! },
      ],
      {
        convention: 'per-manifest',
      },
    );
    const sets = referrerSets(layout);
    const plan = await convert(layout, 'subject-annotation');
    expect(plan.from).toEqual(['fallback-tag', 'subject-annotation', 'per-manifest']);
    expect(referrerSets(layout)).toEqual(sets);
    const index = layout.readIndex();
    expect(index.manifests).toHaveLength(2);
    expect(index.annotations).toEqual({ keep: 'me' });
  });

  it('re-files a stale listing under its real subject and reports dangling ones as dropped', async () => {
    const { layout, y, ofY, missing } = await staleFallbackLayout();
    const plan = await convert(layout, 'fallback-tag');
    expect(plan.dropped).toEqual([
      expect.objectContaining({ digest: missing.digest, convention: 'fallback-tag' }),
    ]);
    expect(referrerSets(layout)).toEqual({ [y.digest]: [ofY.digest] });
    const tags = layout.readIndex().manifests.map((e) => e.annotations?.[Annotation.RefName]);
    expect(tags).toEqual(['x', 'y', fallbackTagFor(y.digest)]);
  });

  it('adopts blob-only referrers only when asked', async () => {
    const layout = tmpLayout();
    const a = putImage(layout, 'a');
    const sig = putArtifact(layout, a, SIG);
    await setEntries(layout, [tagEntry(a, 'v1')]);
    expect((await convert(layout, 'per-manifest')).changed).toBe(false);
    const plan = await convert(layout, 'per-manifest', { adoptUnlisted: true });
    expect(plan.adopted.map((d) => d.digest)).toEqual([sig.digest]);
    expect(referrerSets(layout)).toEqual({ [a.digest]: [sig.digest] });
  });

  it('keeps a tagged referrer tagged and records it in the target too', async () => {
    const layout = tmpLayout();
    const a = putImage(layout, 'a');
    const sig = putArtifact(layout, a, SIG);
    await setEntries(layout, [tagEntry(a, 'v1'), tagEntry(sig, 'sig')]);
    await convert(layout, 'fallback-tag');
    const tags = layout.readIndex().manifests.map((e) => e.annotations?.[Annotation.RefName]);
    expect(tags).toEqual(['v1', 'sig', fallbackTagFor(a.digest)]);
    await convert(layout, 'per-manifest');
    expect(layout.readIndex().manifests.map((e) => e.annotations?.[Annotation.RefName])).toEqual([
      'v1',
      'sig',
    ]);
  });

  it('refuses (E_CONFLICT) when a user tag holds the fallback tag name, writing nothing', async () => {
    const layout = tmpLayout();
    const a = putImage(layout, 'a');
    const other = putImage(layout, 'other');
    const sig = putArtifact(layout, a, SIG);
    await setEntries(layout, [
      tagEntry(a, 'v1'),
      tagEntry(other, fallbackTagFor(a.digest)),
      untaggedEntry(sig),
    ]);
    const before = layoutSnapshot(layout.root);
    await expect(convert(layout, 'fallback-tag')).rejects.toMatchObject({ code: 'E_CONFLICT' });
    expect(layoutSnapshot(layout.root)).toEqual(before);
  });
});
