import { describe, expect, it } from 'vitest';
import {
  Annotation,
  MediaType,
  discoverReferrers,
  fallbackTagFor,
  recordReferrers,
  referrerGraph,
  referrerTree,
  referrersResponse,
  referrersResponseTree,
  FILTERS_APPLIED_ANNOTATION,
} from '../../src/internal.js';
import { tmpLayout } from '../helpers/tmp.js';
import {
  SBOM,
  SIG,
  copyFixture,
  putArtifact,
  putImage,
  putIndex,
  setEntries,
  tagEntry,
  untaggedEntry,
} from './helpers.js';

describe('discover', () => {
  describe('when one subject has referrers in every convention at once', () => {
    it('returns their union, once each, with every source', async () => {
      const layout = tmpLayout();
      const img = putImage(layout, 'a');
      await setEntries(layout, [tagEntry(img, 'v1')]);
      const a = putArtifact(layout, img, SIG, { n: 'a' });
      const b = putArtifact(layout, img, SIG, { n: 'b' });
      const c = putArtifact(layout, img, SBOM, { n: 'c' });
      await recordReferrers(layout, [{ subject: img, referrer: a }], {
        convention: 'fallback-tag',
      });
      await recordReferrers(
        layout,
        [
          { subject: img, referrer: a },
          { subject: img, referrer: b },
        ],
        {
          convention: 'subject-annotation',
        },
      );
      await recordReferrers(
        layout,
        [
          { subject: img, referrer: a },
          { subject: img, referrer: c },
        ],
        {
          convention: 'per-manifest',
        },
      );
      const g = referrerGraph(layout);
      expect(g.referrersOf(img.digest).map((d) => d.digest)).toEqual(
        [a.digest, b.digest, c.digest].sort(),
      );
      const recA = g.recordsOf(img.digest).find((r) => r.descriptor.digest === a.digest)!;
      expect([...recA.sources].sort()).toEqual([
        'fallback-tag',
        'per-manifest',
        'subject-annotation',
      ]);
      expect(g.subjects()).toEqual([img.digest]);
    });
  });

  it('verifies subjects: a stale fallback index or a wrong annotation never leaks a referrer', async () => {
    const layout = tmpLayout();
    const x = putImage(layout, 'x');
    const y = putImage(layout, 'y');
    const ofY = putArtifact(layout, y, SIG);
    const stale = putIndex(layout, [ofY]);
    await setEntries(layout, [
      tagEntry(x, 'x'),
      tagEntry(y, 'y'),
      tagEntry(stale, fallbackTagFor(x.digest)),
      untaggedEntry(stale, { [Annotation.ReferrerSubject]: x.digest }),
    ]);
    expect(discoverReferrers(layout, x.digest)).toEqual([]);
    // The listed manifest is a referrer of the subject it names.
    expect(discoverReferrers(layout, y.digest).map((d) => d.digest)).toEqual([ofY.digest]);
  });

  it('shapes descriptors as the referrers API: artifactType, else config media type; annotations', async () => {
    const layout = tmpLayout();
    const img = putImage(layout, 'a');
    // A referrer without artifactType and a real config: the config media type is reported.
    const plain = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ImageManifest,
        config: {
          mediaType: 'application/vnd.example.config+json',
          digest: img.digest,
          size: img.size,
        },
        layers: [],
        subject: img,
        annotations: { z: '1', a: '2' },
      }),
    );
    const p = layout.blobs.putBytes(plain);
    // An index referrer without artifactType: the field is omitted.
    const idx = putIndex(layout, [], { subject: img });
    await setEntries(layout, [
      tagEntry(img, 'v1'),
      untaggedEntry({ mediaType: MediaType.ImageManifest, digest: p.digest, size: p.size }),
      untaggedEntry(idx),
    ]);
    const refs = discoverReferrers(layout, img.digest);
    const byDigest = new Map(refs.map((d) => [d.digest, d]));
    expect(byDigest.get(p.digest)).toEqual({
      mediaType: MediaType.ImageManifest,
      digest: p.digest,
      size: p.size,
      annotations: { a: '2', z: '1' },
      artifactType: 'application/vnd.example.config+json',
    });
    expect(byDigest.get(idx.digest)).toEqual({
      mediaType: MediaType.ImageIndex,
      digest: idx.digest,
      size: idx.size,
    });
  });

  it('filters by artifactType and records the filter on the response', async () => {
    const layout = tmpLayout();
    const img = putImage(layout, 'a');
    const sig = putArtifact(layout, img, SIG);
    const sbom = putArtifact(layout, img, SBOM);
    await setEntries(layout, [tagEntry(img, 'v1'), untaggedEntry(sig), untaggedEntry(sbom)]);
    expect(
      discoverReferrers(layout, img.digest, { artifactType: SBOM }).map((d) => d.digest),
    ).toEqual([sbom.digest]);
    const all = discoverReferrers(layout, img.digest);
    expect(referrersResponse(all, { artifactType: SIG })).toEqual({
      schemaVersion: 2,
      mediaType: MediaType.ImageIndex,
      manifests: [all.find((d) => d.digest === sig.digest)],
      annotations: { [FILTERS_APPLIED_ANNOTATION]: 'artifactType' },
    });
    expect(referrersResponse(all).annotations).toBeUndefined();
  });

  it('keys by exact subject digest: referrers of an index are not referrers of its children', async () => {
    const layout = tmpLayout();
    const amd = putImage(layout, 'amd64');
    const multi = putIndex(layout, [amd]);
    const sig = putArtifact(layout, multi, SIG);
    await setEntries(layout, [tagEntry(multi, 'multi'), untaggedEntry(sig)]);
    expect(discoverReferrers(layout, multi.digest).map((d) => d.digest)).toEqual([sig.digest]);
    expect(discoverReferrers(layout, amd.digest)).toEqual([]);
  });

  it('builds a tree of referrers of referrers, cut at --depth', async () => {
    const layout = tmpLayout();
    const img = putImage(layout, 'a');
    const sbom = putArtifact(layout, img, SBOM);
    const sigOnSbom = putArtifact(layout, sbom, SIG);
    await setEntries(layout, [tagEntry(img, 'v1'), untaggedEntry(sbom), untaggedEntry(sigOnSbom)]);
    const g = referrerGraph(layout);
    const full = referrerTree(g, img.digest);
    expect(full.map((n) => n.descriptor.digest)).toEqual([sbom.digest]);
    expect(full[0]!.referrers.map((n) => n.descriptor.digest)).toEqual([sigOnSbom.digest]);
    expect(referrerTree(g, img.digest, { depth: 1 })[0]!.referrers).toEqual([]);
    expect(referrerTree(g, img.digest, { artifactType: SIG })).toEqual([]);
  });

  it('nests referrers responses down to a depth; depth 1 is the flat response', async () => {
    const layout = tmpLayout();
    const img = putImage(layout, 'a');
    const sbom = putArtifact(layout, img, SBOM);
    const sigOnSbom = putArtifact(layout, sbom, SIG);
    const sigOnImg = putArtifact(layout, img, SIG);
    await setEntries(layout, [
      tagEntry(img, 'v1'),
      untaggedEntry(sbom),
      untaggedEntry(sigOnSbom),
      untaggedEntry(sigOnImg),
    ]);
    const g = referrerGraph(layout);
    const flat = (s: string, at?: string) =>
      referrersResponse(g.referrersOf(s), { artifactType: at });
    expect(referrersResponseTree(g, img.digest, { depth: 1 })).toEqual(flat(img.digest));
    const two = referrersResponseTree(g, img.digest, { depth: 2 });
    expect(two).toEqual({
      ...flat(img.digest),
      manifests: flat(img.digest).manifests.map((d) => ({
        ...d,
        referrers: flat(d.digest).manifests,
      })),
    });
    expect(two.manifests.find((d) => d.digest === sbom.digest)!.referrers).toHaveLength(1);
    // Below the last level the key is absent (not looked at); within it, [] means none.
    const three = referrersResponseTree(g, img.digest, { depth: 3 });
    const sbomNode = three.manifests.find((d) => d.digest === sbom.digest)!;
    expect(sbomNode.referrers).toEqual([{ ...flat(sbom.digest).manifests[0]!, referrers: [] }]);
    // The filter applies at every level, and the top level says it was applied.
    const sigs = referrersResponseTree(g, img.digest, { depth: 3, artifactType: SIG });
    expect(sigs).toEqual({
      ...flat(img.digest, SIG),
      manifests: [{ ...flat(img.digest, SIG).manifests[0]!, referrers: [] }],
    });
  });

  it('finds unlisted referrers (cosign load, lost fallback tag) only with scanBlobs', async () => {
    const layout = tmpLayout();
    const img = putImage(layout, 'a');
    const sig = putArtifact(layout, img, SIG);
    await setEntries(layout, [tagEntry(img, 'v1')]);
    expect(discoverReferrers(layout, img.digest)).toEqual([]);
    const found = discoverReferrers(layout, img.digest, { scanBlobs: true });
    expect(found.map((d) => d.digest)).toEqual([sig.digest]);
    const rec = referrerGraph(layout, { scanBlobs: true }).recordsOf(img.digest)[0]!;
    expect([...rec.sources]).toEqual(['blob-scan']);
  });

  it('shows BuildKit attestations as those of the image they name; legacy ones are not API referrers', () => {
    const layout = copyFixture('peers/buildkit-style');
    const image = 'sha256:759431f268db4566be0168dfa99963818ccf3858ff70891464a79cd926e497f1';
    const g = referrerGraph(layout);
    expect(g.referrersOf(image)).toEqual([]);
    expect(g.attestationsOf(image).map((a) => a.descriptor.digest)).toEqual([
      'sha256:8189f3a4e45b80b57703d09a539cdb2b43d0d125e13f61f8e8b9d5612b7baabf',
    ]);
    const tree = referrerTree(g, image);
    expect(tree).toHaveLength(1);
    expect(tree[0]).toMatchObject({ buildkit: true, legacy: true });
  });

  it('counts a BuildKit OCI-artifact attestation (with subject) as a referrer, marked buildkit', async () => {
    const layout = tmpLayout();
    const img = putImage(layout, 'a');
    const att = putArtifact(layout, img, 'application/vnd.docker.attestation.manifest.v1+json');
    const idx = putIndex(layout, [
      { ...img, platform: { architecture: 'amd64', os: 'linux' } },
      {
        ...att,
        annotations: {
          [Annotation.DockerReferenceDigest]: img.digest,
          [Annotation.DockerReferenceType]: 'attestation-manifest',
        },
        platform: { architecture: 'unknown', os: 'unknown' },
      },
    ]);
    await setEntries(layout, [tagEntry(idx, 'v1')]);
    const rec = referrerGraph(layout).recordsOf(img.digest);
    expect(rec.map((r) => [r.descriptor.digest, r.buildkit, [...r.sources]])).toEqual([
      [att.digest, true, ['nested']],
    ]);
  });

  it('treats a malformed subject as a usage error and an unknown one as having no referrers', () => {
    const layout = tmpLayout();
    expect(() => discoverReferrers(layout, 'sha256:nope')).toThrow(
      expect.objectContaining({ code: 'E_INVALID_DIGEST' }) as Error,
    );
    expect(discoverReferrers(layout, `sha256:${'0'.repeat(64)}`)).toEqual([]);
  });
});
