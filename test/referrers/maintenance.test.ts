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
  cosignFixture,
  cosignTagsIn,
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

describe('cosign tags', () => {
  /** The fixture without tag v1: the signed image is unreachable, its signatures orphans. */
  async function unsigned(): Promise<ReturnType<typeof cosignFixture>> {
    const f = cosignFixture();
    await untagAll(f.layout);
    return f;
  }

  it('are kept while their subject lives, as bookkeeping is', () => {
    const { layout, fx } = cosignFixture();
    const index = layout.readIndex();
    const classes = referrerRootPolicy.classify(layout, index);
    const byTag = Object.fromEntries(
      classes.map((c) => [c.descriptor.annotations?.[Annotation.RefName], c.keepWhileReachable]),
    );
    expect(byTag).toEqual({
      v1: undefined,
      ...Object.fromEntries(Object.entries(fx.tags).map(([t, v]) => [t, v.subject])),
    });
  });

  it('gc keeps every signature of a live image, the per-platform ones included', async () => {
    const { layout, fx } = cosignFixture();
    const r = await gc(layout, { policy: referrerRootPolicy });
    expect(r.removedEntries).toEqual([]);
    expect(cosignTagsIn(layout)).toEqual(Object.keys(fx.tags).sort());
    for (const { referrer } of Object.values(fx.tags))
      expect(layout.blobs.has(referrer as never)).toBe(true);
  });

  it('gc drops the tags of a gone image and their blobs, unless keepOrphans', async () => {
    const { layout, fx } = await unsigned();
    const kept = await gc(layout, { policy: referrerRootPolicy, keepOrphans: true });
    expect(kept.removedEntries).toEqual([]);
    expect(cosignTagsIn(layout)).toEqual(Object.keys(fx.tags).sort());
    expect(layout.blobs.has(fx.index as never)).toBe(false);

    const r = await gc(layout, { policy: referrerRootPolicy });
    expect(r.removedEntries).toHaveLength(Object.keys(fx.tags).length);
    expect(layout.readIndex().manifests).toEqual([]);
    for (const { referrer } of Object.values(fx.tags))
      expect(layout.blobs.has(referrer as never)).toBe(false);
  });

  it('a cosign-shaped tag on a manifest with its own subject is a plain tag, kept as a root', async () => {
    const layout = tmpLayout();
    const x = putImage(layout, 'x');
    const sig = putArtifact(layout, x, SIG);
    const other = `sha256-${'1'.repeat(64)}.sig`;
    await setEntries(layout, [tagEntry(sig, other)]);
    const r = await gc(layout, { policy: referrerRootPolicy });
    expect(r.removedEntries).toEqual([]);
    expect(layout.blobs.has(sig.digest as never)).toBe(true);
  });

  it('fsck warns of a tag whose subject is not in the layout, and of nothing in a whole one', async () => {
    const whole = cosignFixture().layout;
    expect((await fsck(whole, { checks: referrerFsckChecks })).findings).toEqual([]);

    const { layout, fx } = await unsigned();
    // gc with keepOrphans removes the image's blobs and leaves the signatures.
    await gc(layout, { policy: referrerRootPolicy, keepOrphans: true });
    const report = await fsck(layout, { checks: referrerFsckChecks });
    expect(report.findings.map((f) => [f.code, f.severity, f.digest, f.path]).sort()).toEqual(
      Object.values(fx.tags)
        .map((t) => ['COSIGN_TAG_SUBJECT_MISSING', 'warning', t.subject, 'index.json'])
        .sort(),
    );
    expect(report.findings[0]!.message).toMatch(
      /^cosign tag sha256-[0-9a-f]{64}\.(sig|att) \((sig|att)\) names sha256:/,
    );
    expect(report.ok).toBe(true);
  });
});
