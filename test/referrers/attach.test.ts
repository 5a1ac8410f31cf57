import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  Annotation,
  MediaType,
  attach,
  detach,
  detectConventions,
  discoverReferrers,
  fallbackTagFor,
  recordReferrers,
  type ConventionName,
  type Layout,
} from '../../src/internal.js';
import { layoutSnapshot } from '../helpers/snapshot.js';
import { tmpDir, tmpLayout } from '../helpers/tmp.js';
import {
  SBOM,
  SIG,
  cosignFixture,
  cosignTagsIn,
  putArtifact,
  putImage,
  putIndex,
  setEntries,
  tagEntry,
} from './helpers.js';

async function withImage(): Promise<{ layout: Layout; file: string }> {
  const layout = tmpLayout();
  const img = putImage(layout, 'a');
  await setEntries(layout, [tagEntry(img, 'v1')]);
  const file = join(tmpDir(), 'sig.json');
  writeFileSync(file, '{"sig":true}');
  return { layout, file };
}

describe('attach', () => {
  it.each<ConventionName>(['fallback-tag', 'subject-annotation', 'per-manifest'])(
    'stores an OCI 1.1 artifact with subject and records it in %s',
    async (convention) => {
      const { layout, file } = await withImage();
      const subject = layout.resolve({ tag: 'v1' });
      const r = await attach(
        layout,
        { tag: 'v1' },
        [{ path: file, mediaType: 'application/json' }],
        {
          artifactType: SIG,
          annotations: { 'org.example.k': 'v' },
          convention,
        },
      );
      expect(r).toMatchObject({ conventions: [convention], changed: true });
      expect(r.descriptor).toMatchObject({
        artifactType: SIG,
        annotations: { 'org.example.k': 'v' },
      });
      expect(detectConventions(layout)).toEqual([convention]);
      expect(discoverReferrers(layout, subject.digest)).toEqual([r.descriptor]);
      const m = layout.readManifest(r.descriptor);
      expect(m.kind).toBe('manifest');
      expect(m.doc.subject).toEqual({
        mediaType: subject.mediaType,
        digest: subject.digest,
        size: subject.size,
      });
      expect(m.kind === 'manifest' && m.doc.config.mediaType).toBe(MediaType.Empty);
      expect(m.kind === 'manifest' && m.doc.layers[0]).toMatchObject({
        mediaType: 'application/json',
        size: 12,
        annotations: { [Annotation.Title]: 'sig.json' },
      });
    },
  );

  it('is a no-op when the same artifact is attached again', async () => {
    const { layout, file } = await withImage();
    const first = await attach(layout, { tag: 'v1' }, [{ path: file }], { artifactType: SIG });
    const before = layoutSnapshot(layout.root);
    const again = await attach(layout, { tag: 'v1' }, [{ path: file }], { artifactType: SIG });
    expect(again.descriptor).toEqual(first.descriptor);
    expect(again.changed).toBe(false);
    expect(layoutSnapshot(layout.root)).toEqual(before);
  });

  describe('auto', () => {
    it('uses per-manifest in a layout without referrers', async () => {
      const { layout, file } = await withImage();
      const r = await attach(layout, { tag: 'v1' }, [{ path: file }], { artifactType: SIG });
      expect(r.conventions).toEqual(['per-manifest']);
    });

    it('keeps the convention the layout uses', async () => {
      const { layout, file } = await withImage();
      await attach(layout, { tag: 'v1' }, [{ path: file }], {
        artifactType: SIG,
        convention: 'fallback-tag',
      });
      const r = await attach(layout, { tag: 'v1' }, [{ path: file }], { artifactType: SBOM });
      expect(r.conventions).toEqual(['fallback-tag']);
      expect(detectConventions(layout)).toEqual(['fallback-tag']);
    });

    it('in a mixed layout, follows the subject’s own conventions, else every one in use', async () => {
      const layout = tmpLayout();
      const a = putImage(layout, 'a');
      const b = putImage(layout, 'b');
      const c = putImage(layout, 'c');
      await setEntries(layout, [tagEntry(a, 'a'), tagEntry(b, 'b'), tagEntry(c, 'c')]);
      await recordReferrers(layout, [{ subject: a, referrer: putArtifact(layout, a, SIG) }], {
        convention: 'fallback-tag',
      });
      await recordReferrers(layout, [{ subject: b, referrer: putArtifact(layout, b, SIG) }], {
        convention: 'per-manifest',
      });
      const file = join(tmpDir(), 'f');
      writeFileSync(file, 'x');
      const ra = await attach(layout, { tag: 'a' }, [{ path: file }], { artifactType: SBOM });
      expect(ra.conventions).toEqual(['fallback-tag']);
      const rc = await attach(layout, { tag: 'c' }, [{ path: file }], { artifactType: SBOM });
      expect(rc.conventions).toEqual(['fallback-tag', 'per-manifest']);
      expect(discoverReferrers(layout, c.digest)).toEqual([rc.descriptor]);
    });
  });

  it('attaches to an index and to another referrer (a signature on an SBOM)', async () => {
    const layout = tmpLayout();
    const amd = putImage(layout, 'amd64');
    const multi = putIndex(layout, [amd]);
    await setEntries(layout, [tagEntry(multi, 'multi')]);
    const file = join(tmpDir(), 'sbom.json');
    writeFileSync(file, '{}');
    const sbom = await attach(layout, { tag: 'multi' }, [{ path: file }], {
      artifactType: SBOM,
      convention: 'fallback-tag',
    });
    const sig = await attach(layout, { digest: sbom.descriptor.digest }, [{ path: file }], {
      artifactType: SIG,
      convention: 'fallback-tag',
    });
    expect(sig.subject.digest).toBe(sbom.descriptor.digest);
    expect(discoverReferrers(layout, multi.digest)).toEqual([sbom.descriptor]);
    expect(discoverReferrers(layout, sbom.descriptor.digest)).toEqual([sig.descriptor]);
    const tags = layout.readIndex().manifests.map((e) => e.annotations?.[Annotation.RefName]);
    expect(tags).toEqual([
      'multi',
      fallbackTagFor(multi.digest),
      fallbackTagFor(sbom.descriptor.digest),
    ]);
  });

  it('fails with E_NOT_FOUND for a missing file or subject, leaving the layout unchanged', async () => {
    const { layout, file } = await withImage();
    const before = layoutSnapshot(layout.root);
    await expect(
      attach(layout, { tag: 'v1' }, [{ path: join(tmpDir(), 'nope') }], { artifactType: SIG }),
    ).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    await expect(
      attach(layout, { tag: 'v2' }, [{ path: file }], { artifactType: SIG }),
    ).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
    });
    expect(layoutSnapshot(layout.root)).toEqual(before);
  });
});

describe('detach', () => {
  it('removes a referrer from every convention that lists it and its own entries', async () => {
    const layout = tmpLayout();
    const img = putImage(layout, 'a');
    const sig = putArtifact(layout, img, SIG);
    const keep = putArtifact(layout, img, SBOM);
    await setEntries(layout, [tagEntry(img, 'v1'), tagEntry(sig, 'sig')]);
    for (const convention of ['fallback-tag', 'subject-annotation', 'per-manifest'] as const) {
      await recordReferrers(
        layout,
        [
          { subject: img, referrer: sig },
          { subject: img, referrer: keep },
        ],
        {
          convention,
        },
      );
    }
    const r = await detach(layout, sig.digest);
    expect(r).toMatchObject({
      conventions: ['fallback-tag', 'subject-annotation'],
      entriesRemoved: 1,
      stillFoundVia: [],
      changed: true,
    });
    expect(discoverReferrers(layout, img.digest).map((d) => d.digest)).toEqual([keep.digest]);
    expect(layout.blobs.has(sig.digest as never)).toBe(true);
    const last = await detach(layout, keep.digest);
    expect(last.conventions).toEqual(['fallback-tag', 'subject-annotation', 'per-manifest']);
    // Emptied fallback index and response are gone: only the image is left.
    expect(layout.readIndex().manifests.map((e) => e.digest)).toEqual([img.digest]);
  });

  it('reports a referrer still nested in a user index and never rewrites that index', async () => {
    const layout = tmpLayout();
    const img = putImage(layout, 'a');
    const att = putArtifact(layout, img, SIG);
    const idx = putIndex(layout, [img, att]);
    await setEntries(layout, [tagEntry(idx, 'v1')]);
    const r = await detach(layout, att.digest);
    expect(r).toMatchObject({ changed: false, stillFoundVia: ['nested'] });
  });

  describe('cosign signatures', () => {
    it('by digest: removes its cosign tag, leaves the blobs and the other signatures', async () => {
      const { layout, fx } = cosignFixture();
      const [tag, { subject, referrer }] = Object.entries(fx.tags).find(([t]) =>
        t.startsWith(fx.index.replace(':', '-')),
      )!;
      const r = await detach(layout, referrer);
      expect(r).toMatchObject({
        digest: referrer,
        conventions: [],
        entriesRemoved: 1,
        cosignTags: [tag],
        stillFoundVia: [],
        changed: true,
      });
      expect(cosignTagsIn(layout)).toEqual(
        Object.keys(fx.tags)
          .filter((t) => t !== tag)
          .sort(),
      );
      expect(discoverReferrers(layout, subject).map((d) => d.digest)).not.toContain(referrer);
      expect(layout.blobs.has(referrer as never)).toBe(true); // gc's job
    });

    it('by tag: removes that tag only', async () => {
      const { layout, fx } = cosignFixture();
      const [tag, { subject, referrer }] = Object.entries(fx.tags)[1]!;
      // The same signature also tagged by a user: detaching the cosign tag keeps the user's tag.
      const entry = layout.readIndex().manifests.find((e) => e.digest === referrer)!;
      await setEntries(layout, [...layout.readIndex().manifests, tagEntry(entry, 'keep-me')]);
      const r = await detach(layout, tag);
      expect(r).toMatchObject({ digest: referrer, entriesRemoved: 1, cosignTags: [tag] });
      expect(cosignTagsIn(layout)).not.toContain(tag);
      expect(layout.readIndex().manifests.filter((e) => e.digest === referrer)).toHaveLength(1);
      // the subject keeps its other cosign referrers (an attestation and an SBOM)
      const left = discoverReferrers(layout, subject).map((d) => d.digest);
      expect(left).not.toContain(referrer);
      expect(left.length).toBe(
        Object.values(fx.tags).filter((t) => t.subject === subject).length - 1,
      );
    });

    it('refuses a cosign-shaped tag that is absent (E_NOT_FOUND) or on a manifest with a subject (E_USAGE)', async () => {
      const layout = tmpLayout();
      const img = putImage(layout, 'a');
      const sig = putArtifact(layout, img, SIG);
      const shaped = `${img.digest.replace(':', '-')}.sig`;
      await setEntries(layout, [tagEntry(img, 'v1'), tagEntry(sig, shaped)]);
      const before = layoutSnapshot(layout.root);
      await expect(detach(layout, `sha256-${'1'.repeat(64)}.sig`)).rejects.toMatchObject({
        code: 'E_NOT_FOUND',
      });
      await expect(detach(layout, shaped)).rejects.toMatchObject({ code: 'E_USAGE' });
      expect(layoutSnapshot(layout.root)).toEqual(before);
    });
  });

  it('refuses a non-referrer (E_USAGE) and an unknown digest (E_NOT_FOUND), layout unchanged', async () => {
    const layout = tmpLayout();
    const img = putImage(layout, 'a');
    await setEntries(layout, [tagEntry(img, 'v1')]);
    const before = layoutSnapshot(layout.root);
    await expect(detach(layout, img.digest)).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(detach(layout, `sha256:${'1'.repeat(64)}`)).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
    });
    await expect(detach(layout, 'sha256:zz')).rejects.toMatchObject({ code: 'E_INVALID_DIGEST' });
    expect(layoutSnapshot(layout.root)).toEqual(before);
  });
});
