// plan.ts: what a copy moves, planned from a ContentSource (a layout here,
// since the plan only reads through the interface): docs children-first, blobs once, the
// --platform filter, referrers recursively (each verified by its own subject), cosign tags.
import { describe, expect, it } from 'vitest';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { parseDigest, type Digest } from '../../src/digest.js';
import { Layout } from '../../src/layout/layout.js';
import { MediaType } from '../../src/media-types.js';
import { planCopy, planRoots } from '../../src/transfer/plan.js';
import type { RemoteReferrers } from '../../src/registry/remote-referrers.js';
import { LayoutSource, type ContentSource } from '../../src/transfer/sources.js';
import type { Descriptor } from '../../src/schema/descriptor.js';
import {
  externalLayerLayout,
  freshDir,
  imageBlobs,
  imageIndex,
  imageManifest,
  makeLayout,
  tagged,
  type LayoutSpec,
} from '../helpers/make-layout.js';
import { makeFixture } from '../registry/fixture.js';
import { cosignFixture } from '../referrers/helpers.js';

const digestsOf = (docs: { descriptor: Descriptor }[]): string[] =>
  docs.map((d) => d.descriptor.digest);

/** A LayoutSource whose referrers() answer is replaced (a stale or hostile listing). */
function withListing(
  layout: Layout,
  target: { tag: string },
  listing: (subject: Digest) => Descriptor[],
): ContentSource {
  const inner = new LayoutSource(layout, target);
  return Object.assign(Object.create(inner) as LayoutSource, {
    referrers: (subject: Digest): Promise<RemoteReferrers> =>
      Promise.resolve({ descriptors: listing(subject), via: 'fallback-tag' }),
  });
}

describe('planCopy', () => {
  it('refuses a source that states two sizes for one blob (E_SIZE_MISMATCH)', async () => {
    const m = makeLayout({
      blobs: {
        ...imageBlobs('a'),
        liar: (d) =>
          imageManifest(d['aconfig']!, [{ ...d['alayer']!, size: d['alayer']!.size + 1 }]),
        idx: (d) => imageIndex([d['amanifest']!, d['liar']!]),
      },
      index: (d) => imageIndex([tagged(d['idx']!, 'v1')]),
    });
    await expect(planCopy(new LayoutSource(m.open(), { tag: 'v1' }))).rejects.toMatchObject({
      code: 'E_SIZE_MISMATCH',
      details: { digest: m.d['alayer']!.digest },
    });
  });

  it('lists manifests children before parents and every other blob once', async () => {
    const m = makeLayout({
      blobs: {
        ...imageBlobs('a'),
        ...imageBlobs('b'),
        shared: (d) => imageManifest(d['aconfig']!, [d['alayer']!, d['blayer']!]),
        idx: (d) => imageIndex([d['amanifest']!, d['bmanifest']!, d['shared']!]),
      },
      index: (d) => imageIndex([tagged(d['idx']!, 'v1')]),
    });
    const plan = await planCopy(new LayoutSource(m.open(), { tag: 'v1' }));
    expect(plan.sourceTag).toBe('v1');
    expect(plan.root.descriptor.digest).toBe(m.d['idx']!.digest);
    expect(digestsOf(plan.docs)).toEqual(
      ['amanifest', 'bmanifest', 'shared', 'idx'].map((n) => m.d[n]!.digest),
    );
    expect(plan.blobs.map((b) => b.digest).sort()).toEqual(
      ['aconfig', 'alayer', 'bconfig', 'blayer'].map((n) => m.d[n]!.digest).sort(),
    );
    expect(plan).toMatchObject({ edges: [], cosign: [], referrersVia: [], warnings: [] });
  });

  it('filters a multi-arch index to --platform, remembering where it came from', async () => {
    const f = await makeFixture(freshDir(), 'fallback-tag', 10);
    const plan = await planCopy(new LayoutSource(f.layout, { tag: 'v1' }), {
      platforms: ['linux/arm64'],
    });
    expect(plan.filteredFrom?.digest).toBe(f.index.digest);
    expect(plan.root.descriptor.digest).not.toBe(f.index.digest);
    expect(plan.root.parsed.kind === 'index' && plan.root.parsed.doc.manifests).toEqual([f.arm64]);
    expect(digestsOf(plan.docs)).toEqual([f.arm64.digest, plan.root.descriptor.digest]);
  });

  it('warns that --platform does not apply to a single manifest', async () => {
    const f = await makeFixture(freshDir(), 'fallback-tag', 10);
    const plan = await planCopy(new LayoutSource(f.layout, { digest: f.amd64.digest }), {
      platforms: ['linux/arm64'],
    });
    expect(plan.filteredFrom).toBeUndefined();
    expect(plan.root.descriptor.digest).toBe(f.amd64.digest);
    expect(plan.warnings).toHaveLength(1);
  });

  it('adds referrers of everything copied, and referrers of referrers, once each', async () => {
    const f = await makeFixture(freshDir(), 'subject-annotation', 10);
    const plan = await planCopy(new LayoutSource(f.layout, { tag: 'v1' }), { referrers: true });
    expect(plan.edges.map((e) => [e.subject.digest, e.referrer.digest]).sort()).toEqual(
      [
        [f.index.digest, f.sig],
        [f.amd64.digest, f.sbom],
        [f.sbom, f.sbomSig],
      ].sort(),
    );
    expect(plan.referrersVia).toEqual(['layout']);
    const docs = digestsOf(plan.docs);
    for (const r of [f.sig, f.sbom, f.sbomSig]) expect(docs.filter((d) => d === r)).toHaveLength(1);
    const sbom = plan.edges.find((e) => e.referrer.digest === f.sbom)!;
    expect(sbom.listing).toMatchObject({ digest: f.sbom, artifactType: 'application/spdx+json' });
    expect(sbom.referrer).toEqual({
      mediaType: MediaType.ImageManifest,
      digest: f.sbom,
      size: sbom.referrer.size,
    });
  });

  it('skips listed referrers whose own subject disagrees, and non-manifest entries', async () => {
    const f = await makeFixture(freshDir(), 'fallback-tag', 10);
    const sbom = f.layout.describeBlob(parseDigest(f.sbom));
    const source = withListing(f.layout, { tag: 'v1' }, (subject) =>
      subject === f.index.digest
        ? [sbom, { mediaType: MediaType.Layer, digest: f.sig, size: 1 }]
        : [],
    );
    const plan = await planCopy(source, { referrers: true });
    expect(plan.edges).toEqual([]);
    expect(plan.warnings).toHaveLength(2);
    expect(digestsOf(plan.docs)).not.toContain(f.sbom);
  });

  it('records a referrer listed twice once', async () => {
    const f = await makeFixture(freshDir(), 'fallback-tag', 10);
    const sbom = f.layout.describeBlob(parseDigest(f.sbom));
    const source = withListing(f.layout, { tag: 'v1' }, (subject) =>
      subject === f.amd64.digest ? [sbom, sbom] : [],
    );
    const plan = await planCopy(source, { referrers: true });
    expect(plan.edges.map((e) => e.referrer.digest)).toEqual([f.sbom]);
    expect(plan.referrersVia).toEqual(['fallback-tag']);
  });

  it("adds cosign's sha256-<hex>.sig/.att/.sbom tags by default, none with cosignTags: false", async () => {
    const m = makeLayout({
      blobs: {
        ...imageBlobs('a'),
        sig: (d) => imageManifest(d['aconfig']!, [], { annotations: { cosign: 'sig' } }),
      },
      index: (d) =>
        imageIndex([
          tagged(d['amanifest']!, 'v1'),
          tagged(d['sig']!, `sha256-${d['amanifest']!.digest.slice(7)}.sig`),
        ]),
    });
    const source = new LayoutSource(m.open(), { tag: 'v1' });
    const off = await planCopy(source, { cosignTags: false });
    expect(off.cosign).toEqual([]);
    expect(digestsOf(off.docs)).not.toContain(m.d['sig']!.digest);
    for (const plan of [await planCopy(source), await planCopy(source, { cosignTags: true })]) {
      expect(plan.cosign.map((c) => [c.tag, c.doc.descriptor.digest])).toEqual([
        [`sha256-${m.d['amanifest']!.digest.slice(7)}.sig`, m.d['sig']!.digest],
      ]);
      expect(digestsOf(plan.docs)).toContain(m.d['sig']!.digest);
    }
  });

  describe('cosign signatures of a multi-platform image (cosign sign --recursive)', () => {
    const tagsOf = (plan: { cosign: { tag: string }[] }): string[] =>
      plan.cosign.map((c) => c.tag).sort();

    it('carries the signatures of the index and of every platform manifest', async () => {
      const { layout, fx } = cosignFixture();
      const plan = await planCopy(new LayoutSource(layout, { tag: 'v1' }));
      expect(tagsOf(plan)).toEqual(Object.keys(fx.tags).sort());
      for (const { referrer } of Object.values(fx.tags))
        expect(digestsOf(plan.docs)).toContain(referrer);
    });

    it("with --platform, carries the kept manifest's signature, not the source index's", async () => {
      const { layout, fx } = cosignFixture();
      const plan = await planCopy(new LayoutSource(layout, { tag: 'v1' }), {
        platforms: ['linux/arm64'],
      });
      const arm = fx.platforms['linux/arm64/v8']!;
      expect(plan.filteredFrom?.digest).toBe(fx.index);
      // The filtered index has a new digest: the index's .sig and .att sign other bytes.
      expect(tagsOf(plan)).toEqual([`${arm.replace(':', '-')}.sig`]);
      const carried = new Set(digestsOf(plan.docs));
      for (const { subject, referrer } of Object.values(fx.tags))
        expect(carried.has(referrer)).toBe(subject === arm);
      // and says which it left behind, and why
      const dropped = Object.keys(fx.tags).filter((t) => fx.tags[t]!.subject === fx.index);
      expect(dropped.length).toBeGreaterThan(0);
      for (const tag of dropped) {
        expect(plan.warnings.join('\n')).toContain(`cosign tag ${tag} not carried`);
      }
    });
  });

  it('refuses indexes nested deeper than 64 levels (E_SCHEMA)', async () => {
    const blobs: NonNullable<LayoutSpec['blobs']> = {
      ...imageBlobs('a'),
      i0: (d) => imageIndex([d['amanifest']!]),
    };
    for (let i = 1; i <= 66; i++) blobs[`i${i}`] = (d) => imageIndex([d[`i${i - 1}`]!]);
    const m = makeLayout({ blobs, index: (d) => imageIndex([tagged(d['i66']!, 'deep')]) });
    await expect(planCopy(new LayoutSource(m.open(), { tag: 'deep' }))).rejects.toMatchObject({
      code: 'E_SCHEMA',
    });
  });
});

describe('planRoots', () => {
  it('plans several roots as one graph: a shared manifest or blob once, children first', async () => {
    const m = makeLayout({
      blobs: {
        ...imageBlobs('a'),
        ...imageBlobs('b'),
        idx: (d) => imageIndex([d['amanifest']!, d['bmanifest']!]),
      },
      index: (d) => imageIndex([tagged(d['idx']!, 'all'), tagged(d['amanifest']!, 'a')]),
    });
    const plan = await planRoots(new LayoutSource(m.open(), {}), [m.d['amanifest']!, m.d['idx']!]);
    expect(digestsOf(plan.docs)).toEqual(
      ['amanifest', 'bmanifest', 'idx'].map((n) => m.d[n]!.digest),
    );
    expect(plan.blobs.map((b) => b.digest).sort()).toEqual(
      ['aconfig', 'alayer', 'bconfig', 'blayer'].map((n) => m.d[n]!.digest).sort(),
    );
    expect(plan.external).toEqual([]);
  });

  it('carries a root that is no manifest as a blob, checked like any other', async () => {
    const m = makeLayout({
      blobs: { ...imageBlobs('a'), note: () => 'a plain file' },
      index: (d) => imageIndex([d['amanifest']!, d['note']!]),
    });
    const l = m.open();
    const plan = await planRoots(new LayoutSource(l, {}), l.readIndex().manifests);
    expect(plan.blobs.map((b) => b.digest)).toContain(m.d['note']!.digest);
    expect(digestsOf(plan.docs)).toEqual([m.d['amanifest']!.digest]);
  });

  it('leaves out an absent layer with urls only when told to, refusing any other absence', async () => {
    const m = externalLayerLayout();
    const source = new LayoutSource(m.open(), {});
    await expect(planRoots(source, [m.d['win']!])).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
      details: { digest: m.foreign.digest },
    });
    const plan = await planRoots(source, [m.d['win']!], { external: true });
    expect(plan.external).toEqual([m.foreign]);
    expect(plan.blobs.map((b) => b.digest).sort()).toEqual(
      [m.d['aconfig']!.digest, m.d['alayer']!.digest].sort(),
    );
    // Without urls nothing excuses an absent layer.
    rmSync(join(m.root, 'blobs', 'sha256', m.d['alayer']!.digest.slice(7)));
    await expect(
      planRoots(new LayoutSource(m.open(), {}), [m.d['win']!], { external: true }),
    ).rejects.toMatchObject({ code: 'E_NOT_FOUND', details: { digest: m.d['alayer']!.digest } });
  });
});
