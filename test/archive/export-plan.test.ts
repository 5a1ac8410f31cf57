// export-plan.ts on its own: resolveRef (tag, full reference, digest), and planOciExport's two
// shapes: the whole layout (index.json bytes as they are) or named refs (a new index.json), each
// with the exact closure, external layers listed, and refusals for missing or resized blobs.
import { unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  layoutClosure,
  newIndex,
  planOciExport,
  resolveRef,
  uniqueEntries,
} from '../../src/archive/export-plan.js';
import { digestOf } from '../../src/digest.js';
import { Annotation, MediaType } from '../../src/media-types.js';
import {
  imageBlobs,
  imageIndex,
  imageManifest,
  makeLayout,
  tagged,
  type MadeLayout,
} from '../helpers/make-layout.js';
import { cosignFixture, signedImage } from '../referrers/helpers.js';

/** image a tagged v1 (full reference name) and rc, image b untagged-listed, c only in blobs/. */
function layout(indexText?: string): MadeLayout {
  return makeLayout({
    blobs: { ...imageBlobs('a'), ...imageBlobs('b'), ...imageBlobs('c') },
    index:
      indexText ??
      ((d) =>
        imageIndex([
          tagged(d['amanifest']!, 'example.com/app:v1', { note: 'kept' }),
          tagged(d['amanifest']!, 'rc'),
          d['bmanifest']!,
        ])),
  });
}

const keys = (m: MadeLayout, ...names: string[]): string[] =>
  names.map((n) => m.d[n]!.digest).sort();

describe('resolveRef', () => {
  it('finds a tag by ref.name or by a full name ending in :TAG, named by its full name', () => {
    const m = layout();
    const l = m.open();
    const index = l.readIndex();
    expect(resolveRef(l, index, 'rc')).toEqual({ tag: 'rc', entry: index.manifests[1] });
    const full = { tag: 'example.com/app:v1', entry: index.manifests[0] };
    expect(resolveRef(l, index, 'v1')).toEqual(full);
    expect(resolveRef(l, index, 'example.com/app:v1')).toEqual(full);
  });

  it('resolves a digest, listed or only in blobs/, with no tag', () => {
    const m = layout();
    const l = m.open();
    const index = l.readIndex();
    expect(resolveRef(l, index, m.d['bmanifest']!.digest)).toMatchObject({
      tag: undefined,
      entry: { digest: m.d['bmanifest']!.digest },
    });
    expect(resolveRef(l, index, m.d['cmanifest']!.digest).entry.digest).toBe(
      m.d['cmanifest']!.digest,
    );
  });

  it('refuses an unknown tag and an absent digest (E_NOT_FOUND)', () => {
    const m = layout();
    const l = m.open();
    expect(() => resolveRef(l, l.readIndex(), 'nope')).toThrow(
      expect.objectContaining({ code: 'E_NOT_FOUND' }),
    );
    expect(() => resolveRef(l, l.readIndex(), `sha256:${'0'.repeat(64)}`)).toThrow(
      expect.objectContaining({ code: 'E_NOT_FOUND' }),
    );
  });
});

describe('planOciExport', () => {
  it('exports the whole layout with its index.json bytes as they are', () => {
    const text = (m: MadeLayout): string =>
      `{\n  "schemaVersion": 2,\n  "manifests": [${JSON.stringify(m.d['amanifest'])}]\n}`;
    const probe = layout();
    const m = layout(text(probe));
    const plan = planOciExport(m.open(), []);
    expect(plan.indexBytes.toString()).toBe(text(probe));
    expect(plan.entries).toEqual([m.d['amanifest']]);
    expect([...plan.blobs.keys()].sort()).toEqual(keys(m, 'amanifest', 'aconfig', 'alayer'));
    expect(plan.blobs.get(m.d['alayer']!.digest as never)).toBe(m.d['alayer']!.size);
    expect(plan).toMatchObject({ external: [], extraFiles: new Map(), memoryBlobs: new Map() });
  });

  it('exports named refs in a new index.json, a full name in both annotations, once each', () => {
    const m = layout();
    const full = 'example.com/app:v1';
    const plan = planOciExport(m.open(), ['v1', full, m.d['bmanifest']!.digest]);
    // ctr images import names an image only by io.containerd.image.name; podman's
    // oci-archive:FILE:NAME matches ref.name: the full name goes in both.
    expect(plan.entries).toEqual([
      {
        ...m.d['amanifest'],
        annotations: {
          note: 'kept',
          [Annotation.RefName]: full,
          [Annotation.ContainerdImageName]: full,
        },
      },
      m.d['bmanifest'],
    ]);
    expect(JSON.parse(plan.indexBytes.toString())).toEqual(newIndex(plan.entries));
    expect([...plan.blobs.keys()].sort()).toEqual(
      keys(m, 'amanifest', 'aconfig', 'alayer', 'bmanifest', 'bconfig', 'blayer'),
    );
  });

  it('lists non-distributable layers the layout lacks as external, carrying the rest', () => {
    const foreign = {
      mediaType: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
      digest: digestOf('foreign'),
      size: 7,
      urls: ['https://example.com/l'],
    };
    const m = makeLayout({
      blobs: { ...imageBlobs('a'), win: (d) => imageManifest(d['aconfig']!, [foreign]) },
      index: (d) => imageIndex([tagged(d['win']!, 'win')]),
    });
    const plan = planOciExport(m.open(), ['win']);
    expect(plan.external).toEqual([foreign]);
    expect([...plan.blobs.keys()].sort()).toEqual(keys(m, 'win', 'aconfig'));
  });

  it('refuses a layout missing a reached blob (E_NOT_FOUND) or holding it at another size', () => {
    const m = layout();
    const file = (n: string): string => join(m.root, 'blobs', 'sha256', m.d[n]!.digest.slice(7));
    writeFileSync(file('blayer'), 'resized!');
    expect(() => planOciExport(m.open(), [m.d['bmanifest']!.digest])).toThrow(
      expect.objectContaining({ code: 'E_SIZE_MISMATCH' }),
    );
    unlinkSync(file('alayer'));
    expect(() => planOciExport(m.open(), [])).toThrow(
      expect.objectContaining({
        code: 'E_NOT_FOUND',
        details: expect.objectContaining({ digest: m.d['alayer']!.digest }),
      }),
    );
  });

  it('adds referrers only with the referrers option', async () => {
    const { layout: l, sig } = await signedImage('per-manifest');
    expect(planOciExport(l, ['v1']).entries).toHaveLength(1);
    const plan = planOciExport(l, ['v1'], { referrers: true });
    expect(plan.entries.map((e) => e.digest)).toContain(sig.digest);
    expect(plan.blobs.has(sig.digest as never)).toBe(true);
  });

  describe("cosign's signature tags", () => {
    const tagNames = (entries: { annotations?: Record<string, string> }[]): string[] =>
      entries.map((e) => e.annotations?.[Annotation.RefName] ?? '').sort();

    it('carries the tags of every manifest exported, with their images, unless told not to', () => {
      const { layout, fx } = cosignFixture();
      const plan = planOciExport(layout, ['v1']);
      expect(tagNames(plan.entries)).toEqual([...Object.keys(fx.tags), 'v1'].sort());
      for (const { referrer } of Object.values(fx.tags))
        expect(plan.blobs.has(referrer as never)).toBe(true);
      const off = planOciExport(layout, ['v1'], { cosignTags: false });
      expect(tagNames(off.entries)).toEqual(['v1']);
      for (const { referrer } of Object.values(fx.tags))
        expect(off.blobs.has(referrer as never)).toBe(false);
    });

    it("with --platform, carries the platform manifest's signature and not the index's", () => {
      const { layout, fx } = cosignFixture();
      const amd = fx.platforms['linux/amd64']!;
      const plan = planOciExport(layout, ['v1'], { platform: 'linux/amd64' });
      const ofAmd = Object.keys(fx.tags).filter((t) => fx.tags[t]!.subject === amd);
      expect(tagNames(plan.entries)).toEqual([...ofAmd, 'v1'].sort());
      for (const { subject, referrer } of Object.values(fx.tags))
        expect(plan.blobs.has(referrer as never)).toBe(subject === amd);
    });

    it('lists each tag once alongside --referrers', () => {
      const { layout, fx } = cosignFixture();
      const plan = planOciExport(layout, ['v1'], { referrers: true });
      expect(tagNames(plan.entries)).toEqual([...Object.keys(fx.tags), 'v1'].sort());
    });
  });
});

describe('layoutClosure', () => {
  it('counts blobs held in memory as present', () => {
    const m = layout();
    const extra = Buffer.from(JSON.stringify(imageIndex([m.d['amanifest']!])));
    const desc = { mediaType: MediaType.ImageIndex, digest: digestOf(extra), size: extra.length };
    const l = m.open();
    const source = {
      readManifest: (d: typeof desc) =>
        d.digest === desc.digest
          ? {
              kind: 'index' as const,
              mediaType: MediaType.ImageIndex,
              doc: JSON.parse(extra.toString()),
            }
          : l.readManifest(d),
    };
    const closure = layoutClosure(l, [desc], source, new Map([[desc.digest, extra]]));
    expect([...closure.blobs.keys()].sort()).toEqual(
      [desc.digest, ...keys(m, 'amanifest', 'aconfig', 'alayer')].sort(),
    );
    expect(() => layoutClosure(l, [desc])).toThrow(
      expect.objectContaining({ code: 'E_NOT_FOUND' }),
    );
  });
});

describe('uniqueEntries', () => {
  it('drops exact duplicates only, keeping the first', () => {
    const a = { mediaType: 'x', digest: digestOf('a'), size: 1 };
    const named = { ...a, annotations: { n: '1' } };
    expect(uniqueEntries([a, named, { ...a }, named])).toEqual([a, named]);
  });
});
