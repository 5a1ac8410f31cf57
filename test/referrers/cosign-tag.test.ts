import { describe, expect, it } from 'vitest';
import {
  Annotation,
  convert,
  discoverReferrers,
  referrerGraph,
  referrerSummary,
  referrerTree,
  referrersResponseTree,
} from '../../src/internal.js';
import { tmpLayout } from '../helpers/tmp.js';
import { SIG, cosignLayout, putArtifact, putImage, setEntries, tagEntry } from './helpers.js';

const SIG_AT = 'application/vnd.dev.cosign.artifact.sig.v1+json';
const ATT_AT = 'application/vnd.dev.cosign.artifact.att.v1+json';
const SOURCE = 'dev.ocilayout.referrer.source';

describe('cosign tags', () => {
  it('discover lists .sig and .att tagged manifests as referrers of the digest the tag names', async () => {
    const { layout, img, sig, att } = await cosignLayout();
    const found = discoverReferrers(layout, img.digest);
    expect(new Set(found.map((d) => d.digest))).toEqual(new Set([sig.digest, att.digest]));
    const byDigest = new Map(found.map((d) => [d.digest, d]));
    expect(byDigest.get(sig.digest)?.artifactType).toBe(SIG_AT);
    expect(byDigest.get(att.digest)?.artifactType).toBe(ATT_AT);
    for (const d of found) expect(d.annotations?.[SOURCE]).toBe('cosign-tag');
  });

  it('the artifactType filter finds each kind', async () => {
    const { layout, img, sig, att } = await cosignLayout();
    expect(discoverReferrers(layout, img.digest, { artifactType: SIG_AT })).toMatchObject([
      { digest: sig.digest },
    ]);
    expect(discoverReferrers(layout, img.digest, { artifactType: ATT_AT })).toMatchObject([
      { digest: att.digest },
    ]);
    const tree = referrersResponseTree(referrerGraph(layout), img.digest, {
      depth: 1,
      artifactType: ATT_AT,
    });
    expect(tree.manifests.map((d) => d.digest)).toEqual([att.digest]);
  });

  it('the tree marks them with their source', async () => {
    const { layout, img } = await cosignLayout();
    const nodes = referrerTree(referrerGraph(layout), img.digest);
    expect(nodes).toHaveLength(2);
    for (const n of nodes) expect(n.sources).toEqual(['cosign-tag']);
  });

  it('info counts them', async () => {
    const { layout } = await cosignLayout();
    const s = referrerSummary(layout);
    expect(s.referrers).toBe(2);
    expect(s.subjects).toBe(1);
    expect(s.cosignTagged).toBe(2);
  });

  it('a .sbom tag makes a cosign SBOM referrer of the digest it names', async () => {
    const { layout, img } = await cosignLayout();
    const other = putImage(layout, 'b');
    const index = layout.readIndex();
    await setEntries(layout, [
      ...index.manifests,
      tagEntry(img, `${other.digest.replace(':', '-')}.sbom`),
    ]);
    // img has no subject: the .sbom tag names `other`, so img becomes other's cosign SBOM.
    expect(discoverReferrers(layout, other.digest)).toMatchObject([
      { digest: img.digest, artifactType: 'application/vnd.dev.cosign.artifact.sbom.v1+json' },
    ]);
  });

  it('a manifest with its own subject stays filed by it; the cosign-shaped tag is a plain tag', async () => {
    const layout = tmpLayout();
    const img = putImage(layout, 'a');
    const other = putImage(layout, 'b');
    const sig = putArtifact(layout, img, SIG);
    await setEntries(layout, [
      tagEntry(img, 'v1'),
      tagEntry(sig, `${other.digest.replace(':', '-')}.sig`),
    ]);
    expect(discoverReferrers(layout, other.digest)).toEqual([]);
    const [rec] = referrerGraph(layout).recordsOf(img.digest);
    expect(rec?.descriptor).toMatchObject({ digest: sig.digest, artifactType: SIG });
    expect(rec?.descriptor.annotations?.[SOURCE]).toBeUndefined();
    expect([...(rec?.sources ?? [])]).toEqual(['tagged']);
  });

  it('a name that only looks like one (bad hex, unknown suffix) is an ordinary tag', async () => {
    const layout = tmpLayout();
    const img = putImage(layout, 'a');
    const sig = putImage(layout, 's');
    const hex = img.digest.slice('sha256:'.length);
    await setEntries(layout, [
      tagEntry(img, 'v1'),
      tagEntry(sig, `sha256-${hex}.sigx`),
      tagEntry(sig, `sha256-${hex.slice(1)}.sig`),
    ]);
    expect(discoverReferrers(layout, img.digest)).toEqual([]);
  });

  it('convert leaves the cosign tags in place and records them in no convention', async () => {
    const { layout, img, sig, att } = await cosignLayout();
    const before = layout.readIndex();
    const plan = await convert(layout, 'per-manifest');
    expect(plan.changed).toBe(false);
    const after = layout.readIndex();
    expect(after).toEqual(before);
    const tags = after.manifests.map((e) => e.annotations?.[Annotation.RefName]);
    const tag = img.digest.replace(':', '-');
    expect(tags).toEqual(['v1', `${tag}.sig`, `${tag}.att`]);
    expect(
      discoverReferrers(layout, img.digest)
        .map((d) => d.digest)
        .sort(),
    ).toEqual([sig.digest, att.digest].sort());
  });
});
