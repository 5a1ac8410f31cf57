// export-referrers.ts on its own: withReferrers lists the referrers the copy plan carries (of
// everything the entries reach, recursively) beside the exported entries, copying the layout's own bookkeeping entries as they are and
// recording referrers the layout lists only elsewhere in its convention, in memory only.
import { describe, expect, it } from 'vitest';
import { withReferrers, type WithReferrers } from '../../src/archive/export-referrers.js';
import type { Layout } from '../../src/layout/layout.js';
import type { IndexFile } from '../../src/schema/layout-files.js';
import { planRoots } from '../../src/transfer/plan.js';
import { LayoutSource } from '../../src/transfer/sources.js';
import { parseDigest } from '../../src/digest.js';
import { Annotation } from '../../src/media-types.js';
import { fallbackTagFor } from '../../src/referrers/fallback-tag.js';
import { recordReferrers } from '../../src/referrers/record.js';
import type { Descriptor } from '../../src/schema/descriptor.js';
import { layoutSnapshot } from '../helpers/snapshot.js';
import { tmpLayout } from '../helpers/tmp.js';
import {
  cosignLayout,
  putArtifact,
  putImage,
  putIndex,
  setEntries,
  signedImage,
  SBOM,
  SIG,
  tagEntry,
} from '../referrers/helpers.js';

const digests = (entries: Descriptor[]): string[] => entries.map((e) => e.digest);

/** withReferrers over the edges the copy plan finds for `entries`, as export asks it. */
async function withPlanned(
  layout: Layout,
  index: IndexFile,
  entries: Descriptor[],
): Promise<WithReferrers> {
  const plan = await planRoots(new LayoutSource(layout, {}), entries, {
    referrers: true,
    cosignTags: false,
  });
  const edges = plan.edges.map((e) => ({ subject: e.subject, referrer: e.listing }));
  return withReferrers(layout, index, entries, edges);
}

describe('withReferrers', () => {
  it.each(['fallback-tag', 'subject-annotation', 'per-manifest'] as const)(
    "copies the layout's %s bookkeeping of an exported subject as it is",
    async (convention) => {
      const { layout, sig } = await signedImage(convention);
      const index = layout.readIndex();
      const v1 = index.manifests[0]!;
      const r = await withPlanned(layout, index, [v1]);
      expect(r.entries[0]).toBe(v1);
      expect(r.entries.slice(1)).toEqual(index.manifests.slice(1)); // same entries, same order
      expect(r.entries.length).toBeGreaterThan(1);
      expect(r.memoryBlobs.size).toBe(0);
      // Everything the archive needs is reachable through the source.
      const reached = r.entries.flatMap((e) => {
        const p = r.source.readManifest(e);
        return p.kind === 'index' ? p.doc.manifests.map((m) => m.digest) : [e.digest];
      });
      expect(reached).toContain(sig.digest);
    },
  );

  it('returns the entries unchanged when nothing refers to them', async () => {
    const layout = tmpLayout();
    const img = putImage(layout, 'a');
    await setEntries(layout, [tagEntry(img, 'v1')]);
    const index = layout.readIndex();
    const r = await withPlanned(layout, index, index.manifests);
    expect(r.entries).toEqual(index.manifests);
    expect(r.memoryBlobs.size).toBe(0);
  });

  it("follows referrers of referrers and leaves other subjects' referrers out", async () => {
    const layout = tmpLayout();
    const a = putImage(layout, 'a');
    const b = putImage(layout, 'b');
    await setEntries(layout, [tagEntry(a, 'a'), tagEntry(b, 'b')]);
    const sig = putArtifact(layout, a, SIG);
    const sigOfSig = putArtifact(layout, sig, SIG, { n: '2' });
    const sbomOfB = putArtifact(layout, b, SBOM);
    await recordReferrers(
      layout,
      [
        { subject: a, referrer: sig },
        { subject: sig, referrer: sigOfSig },
        { subject: b, referrer: sbomOfB },
      ],
      { convention: 'per-manifest' },
    );
    const index = layout.readIndex();
    const r = await withPlanned(layout, index, [index.manifests[0]!]);
    expect(r.entries[0]).toBe(index.manifests[0]);
    // Bookkeeping follows in the layout's order.
    expect(r.entries.slice(1)).toEqual(
      index.manifests.filter((e) => [sig.digest, sigOfSig.digest].includes(e.digest)),
    );
    expect(r.entries).toHaveLength(3);
  });

  it('includes a tagged referrer by its tag entries', async () => {
    const layout = tmpLayout();
    const a = putImage(layout, 'a');
    const sig = putArtifact(layout, a, SIG);
    await setEntries(layout, [tagEntry(a, 'v1'), tagEntry(sig, 'the-signature')]);
    const index = layout.readIndex();
    const r = await withPlanned(layout, index, [index.manifests[0]!]);
    expect(r.entries).toEqual(index.manifests);
  });

  it('leaves cosign-tagged referrers out (no subject a convention could record)', async () => {
    const { layout } = await cosignLayout();
    const index = layout.readIndex();
    const r = await withPlanned(layout, index, [index.manifests[0]!]);
    expect(r.entries).toEqual([index.manifests[0]]);
    expect(r.memoryBlobs.size).toBe(0);
  });

  it('records a referrer the layout lists only inside another index as a per-manifest entry', async () => {
    const layout = tmpLayout();
    const a = putImage(layout, 'a');
    const sig = putArtifact(layout, a, SIG);
    const bundle = putIndex(layout, [sig]);
    await setEntries(layout, [tagEntry(a, 'v1'), tagEntry(bundle, 'bundle')]);
    const before = layoutSnapshot(layout.root);
    const index = layout.readIndex();
    const r = await withPlanned(layout, index, [index.manifests[0]!]);
    expect(digests(r.entries)).toEqual([a.digest, sig.digest]);
    expect(r.entries[1]!.annotations?.[Annotation.RefName]).toBeUndefined();
    expect(r.memoryBlobs.size).toBe(0);
    expect(layoutSnapshot(layout.root)).toEqual(before);
  });

  it("records it in the layout's own convention, with a new index kept in memory only", async () => {
    const { layout } = await signedImage('fallback-tag'); // image a, fallback-tag bookkeeping
    const z = putImage(layout, 'z');
    const sigOfZ = putArtifact(layout, z, SIG);
    // (Annotated, so that it is not byte for byte the fallback index a convention would make.)
    const bundle = putIndex(layout, [sigOfZ], { annotations: { bundle: 'yes' } });
    const index = layout.readIndex();
    await setEntries(layout, [...index.manifests, tagEntry(z, 'z'), tagEntry(bundle, 'bundle')]);
    const before = layoutSnapshot(layout.root);
    const now = layout.readIndex();
    const zEntry = now.manifests.find((e) => e.digest === z.digest)!;
    const r = await withPlanned(layout, now, [zEntry]);
    expect(r.entries).toHaveLength(2);
    const added = r.entries[1]!;
    expect(added.annotations?.[Annotation.RefName]).toBe(fallbackTagFor(z.digest));
    const digest = parseDigest(added.digest);
    expect(r.memoryBlobs.has(digest)).toBe(true);
    expect(layout.blobs.has(digest)).toBe(false); // the archive gets it, the layout does not
    const listed = r.source.readManifest(added);
    expect(listed.kind === 'index' && digests(listed.doc.manifests)).toEqual([sigOfZ.digest]);
    expect(layoutSnapshot(layout.root)).toEqual(before);
  });
});
