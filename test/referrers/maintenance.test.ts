import { describe, expect, it } from 'vitest';
import {
  Annotation,
  fallbackTagFor,
  fsck,
  gc,
  recordReferrers,
  referrerFsckChecks,
  referrerRootPolicy,
  type ConventionName,
  type Layout,
} from '../../src/internal.js';
import { tmpLayout } from '../helpers/tmp.js';
import {
  SBOM,
  SIG,
  putArtifact,
  putImage,
  putIndex,
  referrerSets,
  setEntries,
  staleFallbackLayout,
  tagEntry,
  untaggedEntry,
} from './helpers.js';

const CONVENTIONS: ConventionName[] = ['fallback-tag', 'subject-annotation', 'per-manifest'];

async function signedImage(convention: ConventionName) {
  const layout = tmpLayout();
  const img = putImage(layout, 'a');
  await setEntries(layout, [tagEntry(img, 'v1')]);
  const sbom = putArtifact(layout, img, SBOM);
  const sig = putArtifact(layout, sbom, SIG);
  await recordReferrers(
    layout,
    [
      { subject: img, referrer: sbom },
      { subject: sbom, referrer: sig },
    ],
    {
      convention,
    },
  );
  return { layout, img, sbom, sig };
}

/** Drop the image's tag, and this process's gc leases on what the test wrote. */
async function untagAll(layout: Layout): Promise<void> {
  layout.close();
  await layout.updateIndex((index) => {
    index.manifests = index.manifests.filter((e) => e.annotations?.[Annotation.RefName] !== 'v1');
    return { index, result: undefined };
  });
}

describe('referrerRootPolicy', () => {
  it.each(CONVENTIONS)('%s: bookkeeping is kept while its subject lives', async (convention) => {
    const { layout, img, sbom } = await signedImage(convention);
    const classes = referrerRootPolicy.classify(layout, layout.readIndex());
    expect(classes[0]).toEqual({ descriptor: layout.readIndex().manifests[0] });
    expect(
      classes
        .slice(1)
        .map((c) => c.keepWhileReachable)
        .sort(),
    ).toEqual([img.digest, sbom.digest].sort());
  });

  it.each(CONVENTIONS)(
    '%s: gc keeps a signature (and a signature on it) while the subject lives',
    async (convention) => {
      const { layout, sbom, sig } = await signedImage(convention);
      const sets = referrerSets(layout);
      const r = await gc(layout, { policy: referrerRootPolicy });
      expect(r.removedEntries).toEqual([]);
      expect(referrerSets(layout)).toEqual(sets);
      expect(layout.blobs.has(sbom.digest as never)).toBe(true);
      expect(layout.blobs.has(sig.digest as never)).toBe(true);
    },
  );

  it.each(CONVENTIONS)(
    '%s: gc collects referrers whose subject is gone, unless keepOrphans',
    async (convention) => {
      const { layout, img, sbom, sig } = await signedImage(convention);
      await untagAll(layout);
      const kept = await gc(layout, { policy: referrerRootPolicy, keepOrphans: true });
      expect(kept.removedEntries).toEqual([]);
      expect(layout.blobs.has(sig.digest as never)).toBe(true);
      expect(layout.blobs.has(img.digest as never)).toBe(false); // subject itself was never kept

      const r = await gc(layout, { policy: referrerRootPolicy });
      expect(r.removedEntries.length).toBeGreaterThan(0);
      expect(layout.readIndex().manifests).toEqual([]);
      expect(layout.blobs.has(sbom.digest as never)).toBe(false);
      expect(layout.blobs.has(sig.digest as never)).toBe(false);
    },
  );
});

describe('referrerFsckChecks', () => {
  it.each(CONVENTIONS)('%s: a layout we wrote has no error finding', async (convention) => {
    const { layout } = await signedImage(convention);
    const report = await fsck(layout, { checks: referrerFsckChecks });
    expect(report.findings.filter((f) => f.severity === 'error')).toEqual([]);
    expect(report.ok).toBe(true);
  });

  it('reports a fallback index listing a manifest of another subject, and a dangling descriptor', async () => {
    const { layout, ofY, missing } = await staleFallbackLayout();
    const codes = referrerFsckChecks
      .flatMap((c) => c(layout, layout.readIndex()))
      .map((f) => [f.code, f.digest]);
    expect(codes).toEqual(
      expect.arrayContaining([
        ['FALLBACK_SUBJECT_MISMATCH', ofY.digest],
        ['REFERRER_DANGLING_DESCRIPTOR', missing.digest],
      ]),
    );
    const report = await fsck(layout, { checks: referrerFsckChecks, allowMissing: true });
    expect(report.ok).toBe(false);
  });

  it('reports an annotation naming the wrong subject, in a response and in a containerd hint', async () => {
    const layout = tmpLayout();
    const x = putImage(layout, 'x');
    const y = putImage(layout, 'y');
    const ofY = putArtifact(layout, y, SIG);
    const response = putIndex(layout, [ofY]);
    await setEntries(layout, [
      tagEntry(x, 'x'),
      tagEntry(y, 'y'),
      untaggedEntry(response, { [Annotation.ReferrerSubject]: x.digest }),
      untaggedEntry(ofY, { [Annotation.ContainerdManifestSubject]: x.digest }),
    ]);
    const found = referrerFsckChecks.flatMap((c) => c(layout, layout.readIndex()));
    expect(
      found.filter((f) => f.code === 'REFERRER_ANNOTATION_MISMATCH').map((f) => f.digest),
    ).toEqual([ofY.digest, ofY.digest]);
  });

  it('reports a fallback tag that names something other than an index', async () => {
    const layout = tmpLayout();
    const x = putImage(layout, 'x');
    const other = putImage(layout, 'other');
    await setEntries(layout, [tagEntry(x, 'x'), tagEntry(other, fallbackTagFor(x.digest))]);
    const found = referrerFsckChecks.flatMap((c) => c(layout, layout.readIndex()));
    expect(found.map((f) => [f.code, f.severity])).toEqual([['FALLBACK_NOT_INDEX', 'error']]);
  });

  it('only warns about a digest tag naming the manifest itself (a mirror), so fsck passes', async () => {
    // regclient's test layout: an artifact tagged `mirror` and also `sha256-<its own hex>`.
    const layout = tmpLayout();
    const x = putImage(layout, 'x');
    const art = putArtifact(layout, x, SBOM);
    await setEntries(layout, [
      tagEntry(x, 'x'),
      tagEntry(art, 'mirror'),
      tagEntry(art, fallbackTagFor(art.digest)),
    ]);
    const report = await fsck(layout, { checks: referrerFsckChecks });
    expect(report.findings.map((f) => [f.code, f.severity, f.digest])).toEqual([
      ['DIGEST_TAG_NAMES_ITSELF', 'warning', art.digest],
    ]);
    expect(report.ok).toBe(true);
  });

  it('flags a listed descriptor that does not mirror the manifest (warning only)', async () => {
    const layout = tmpLayout();
    const x = putImage(layout, 'x');
    const sig = putArtifact(layout, x, SIG);
    const bare = putIndex(layout, [
      { mediaType: sig.mediaType, digest: sig.digest, size: sig.size },
    ]);
    await setEntries(layout, [tagEntry(x, 'x'), tagEntry(bare, fallbackTagFor(x.digest))]);
    const found = referrerFsckChecks.flatMap((c) => c(layout, layout.readIndex()));
    expect(found.map((f) => [f.code, f.severity])).toEqual([
      ['REFERRER_DESCRIPTOR_STALE', 'warning'],
    ]);
  });
});
