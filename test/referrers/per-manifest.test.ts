import { describe, expect, it } from 'vitest';
import {
  Annotation,
  ConventionContext,
  classifyIndex,
  detectConventions,
  discoverReferrers,
  recordReferrers,
} from '../../src/internal.js';
import { tmpLayout } from '../helpers/tmp.js';
import {
  SIG,
  copyFixture,
  putArtifact,
  putImage,
  setEntries,
  signedImage,
  tagEntry,
  untaggedEntry,
} from './helpers.js';

const V1 = 'sha256:759431f268db4566be0168dfa99963818ccf3858ff70891464a79cd926e497f1';
const SIG_DIGEST = 'sha256:ebe2a4b108f569effe7d040e777bc9abace8c1d35c826801be064adc510c0567';
const SBOM_DIGEST = 'sha256:8af5360003a62ce4e1c230d9da1b438682972696f70523b7d028c44d9bbedb35';

describe('per-manifest convention', () => {
  it.each(['peers/oras-style', 'peers/containerd-export-style'])('reads %s', (fixture) => {
    const layout = copyFixture(fixture);
    expect(detectConventions(layout)).toEqual(['per-manifest']);
    expect(discoverReferrers(layout, V1).map((d) => d.digest)).toEqual([SBOM_DIGEST, SIG_DIGEST]);
  });

  it('reads cosign save entries (kind annotation, no tags) by their subject', () => {
    const layout = copyFixture('peers/cosign-save-style');
    expect(detectConventions(layout)).toEqual(['per-manifest']);
    const refs = discoverReferrers(layout, V1);
    expect(refs).toHaveLength(1);
    expect(refs[0]!.annotations).toBeDefined();
  });

  it('writes untagged entries with the containerd hint and artifactType', async () => {
    const { layout, img, sig } = await signedImage('per-manifest');
    expect(layout.readIndex().manifests[1]).toEqual({
      mediaType: sig.mediaType,
      digest: sig.digest,
      size: sig.size,
      annotations: { [Annotation.ContainerdManifestSubject]: img.digest },
      artifactType: SIG,
    });
  });

  it('never depends on the hint: a wrong hint is ignored, the manifest subject wins', async () => {
    const layout = tmpLayout();
    const a = putImage(layout, 'a');
    const b = putImage(layout, 'b');
    const sig = putArtifact(layout, a, SIG);
    await setEntries(layout, [
      tagEntry(a, 'a'),
      tagEntry(b, 'b'),
      untaggedEntry(sig, { [Annotation.ContainerdManifestSubject]: b.digest }),
    ]);
    expect(discoverReferrers(layout, a.digest).map((d) => d.digest)).toEqual([sig.digest]);
    expect(discoverReferrers(layout, b.digest)).toEqual([]);
  });

  it('a tagged referrer is a user tag, not bookkeeping; recording it adds no entry', async () => {
    const layout = tmpLayout();
    const img = putImage(layout, 'a');
    const sig = putArtifact(layout, img, SIG);
    await setEntries(layout, [tagEntry(img, 'v1'), tagEntry(sig, 'sig')]);
    expect(classifyIndex(layout.readIndex(), new ConventionContext(layout))).toEqual([]);
    const text = layout.index.read().text;
    await recordReferrers(layout, [{ subject: img, referrer: sig }], {
      convention: 'per-manifest',
    });
    expect(layout.index.read().text).toBe(text);
    expect(discoverReferrers(layout, img.digest).map((d) => d.digest)).toEqual([sig.digest]);
  });

  it("a referrer synced by digest (containerd's digest-only name) is the user's, as a tag is", async () => {
    const layout = tmpLayout();
    const img = putImage(layout, 'a');
    const sig = putArtifact(layout, img, SIG);
    const named = {
      mediaType: sig.mediaType,
      digest: sig.digest,
      size: sig.size,
      annotations: { [Annotation.ContainerdImageName]: `reg.example/team/sig@${sig.digest}` },
    };
    await setEntries(layout, [tagEntry(img, 'v1'), named]);
    expect(classifyIndex(layout.readIndex(), new ConventionContext(layout))).toEqual([]);
    expect(discoverReferrers(layout, img.digest).map((d) => d.digest)).toEqual([sig.digest]);
  });
});
