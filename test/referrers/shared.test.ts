// shared.ts: the pieces the conventions share. Subject keys and convert flags, refreshing listed
// descriptors from their manifests, and the entry edits of index-blob conventions.
import { describe, expect, it } from 'vitest';
import { parseDigest } from '../../src/digest.js';
import { Annotation, MediaType } from '../../src/media-types.js';
import { ConventionContext } from '../../src/referrers/context.js';
import { referrerDescriptor } from '../../src/referrers/response.js';
import {
  hasSubjectKey,
  refreshListed,
  removeConvertFlags,
  removeFromIndexes,
  replaceEntries,
  subjectKeyOf,
  writeMergedResponse,
} from '../../src/referrers/shared.js';
import type { Descriptor } from '../../src/schema/descriptor.js';
import type { IndexFile } from '../../src/schema/layout-files.js';
import { tmpLayout } from '../helpers/tmp.js';
import { putArtifact, putImage, SBOM, SIG } from './helpers.js';

const entry = (n: string, annotations?: Record<string, string>): Descriptor => ({
  mediaType: MediaType.ImageIndex,
  digest: `sha256:${n.repeat(64)}`,
  size: 1,
  ...(annotations === undefined ? {} : { annotations }),
});

const idx = (...manifests: Descriptor[]): IndexFile => ({ schemaVersion: 2, manifests });

describe('subject keys', () => {
  it('prefers the image-spec key over olareg’s, and says when there is none', () => {
    const both = entry('a', {
      [Annotation.OlaregReferrerSubject]: 'x',
      [Annotation.ReferrerSubject]: 'y',
    });
    expect(subjectKeyOf(both)).toBe(Annotation.ReferrerSubject);
    expect(subjectKeyOf(entry('b', { [Annotation.OlaregReferrerSubject]: 'x' }))).toBe(
      Annotation.OlaregReferrerSubject,
    );
    expect(subjectKeyOf(entry('c', { other: 'x' }))).toBeUndefined();
    expect(hasSubjectKey(entry('d'))).toBe(false);
    expect(hasSubjectKey(both)).toBe(true);
  });
});

describe('removeConvertFlags', () => {
  it('drops both flags, keeps the annotations object, and says whether it did', () => {
    const index: IndexFile = {
      ...idx(),
      annotations: {
        [Annotation.ReferrerConvert]: 'true',
        [Annotation.OlaregReferrerConvert]: 'true',
        keep: 'me',
      },
    };
    const annotations = index.annotations;
    expect(removeConvertFlags(index)).toBe(true);
    expect(index.annotations).toBe(annotations);
    expect(index.annotations).toEqual({ keep: 'me' });
    expect(removeConvertFlags(index)).toBe(false);
    expect(removeConvertFlags(idx())).toBe(false);
  });
});

describe('replaceEntries', () => {
  it('appends when there is nothing to replace', () => {
    const index = idx(entry('a'));
    replaceEntries(index, [], entry('n'));
    expect(index.manifests).toEqual([entry('a'), entry('n')]);
  });

  it('puts the new entry where the first stood and drops the others', () => {
    const [a, b, c, d] = [entry('a'), entry('b'), entry('c'), entry('d')];
    const index = idx(a, b, c, d);
    replaceEntries(index, [b, d], entry('n'));
    expect(index.manifests).toEqual([a, entry('n'), c]);
  });
});

describe('with stored referrers', () => {
  function setup() {
    const layout = tmpLayout();
    const img = putImage(layout, 'a');
    const sig = putArtifact(layout, img, SIG, { by: 'alice' });
    const sbom = putArtifact(layout, img, SBOM);
    const ctx = new ConventionContext(layout);
    return { layout, img, sig, sbom, ctx };
  }

  it('refreshListed takes artifactType and annotations from the manifests, keeping unreadable ones', () => {
    const { sig, ctx } = setup();
    const stale = { ...sig, artifactType: 'wrong', annotations: { old: '1' } };
    const gone = { ...sig, digest: `sha256:${'9'.repeat(64)}` };
    const [fresh, kept] = refreshListed([stale, gone], ctx);
    expect(fresh).toEqual(referrerDescriptor(ctx.docs.doc(sig.digest)!));
    expect(fresh).toMatchObject({ artifactType: SIG, annotations: { by: 'alice' } });
    expect(kept).toBe(gone);
  });

  it('writeMergedResponse stores the union as one response and lets it replace the entries', () => {
    const { layout, sig, sbom, ctx } = setup();
    const [old1, old2] = [entry('1'), entry('2')];
    const index = idx(entry('a'), old1, old2);
    let firstSeen: Descriptor | undefined;
    writeMergedResponse(index, [old1, old2], [sig], [sbom], ctx, (first, blob) => {
      firstSeen = first;
      return { ...blob, annotations: { mark: 'new' } };
    });
    expect(firstSeen).toBe(old1);
    expect(index.manifests).toHaveLength(2);
    const made = index.manifests[1]!;
    expect(made.annotations).toEqual({ mark: 'new' });
    const stored = layout.readManifest(made);
    expect(stored.kind === 'index' && stored.doc.manifests.map((m) => m.digest)).toEqual(
      [sig.digest, sbom.digest].sort(),
    );
    expect(layout.blobs.has(parseDigest(made.digest))).toBe(true);
  });

  it('removeFromIndexes rewrites an index that keeps others and drops one left empty', () => {
    const { layout, sig, sbom, ctx } = setup();
    const both = {
      ...ctx.putIndexBlob(Buffer.from(JSON.stringify(idx(sig, sbom)))),
      annotations: { k: 'both' },
    };
    const onlySig = {
      ...ctx.putIndexBlob(Buffer.from(JSON.stringify(idx(sig)))),
      annotations: { k: 'sig' },
    };
    const other = entry('o');
    const index = idx(both, other, onlySig);
    const listedOf = (e: Descriptor): Descriptor[] | undefined => {
      if (e === other) return undefined;
      const p = layout.readManifest(e);
      return p.kind === 'index' ? p.doc.manifests : undefined;
    };
    removeFromIndexes(
      index,
      new Set([sig.digest]),
      ctx,
      (e) => {
        const listed = listedOf(e);
        return listed === undefined ? undefined : { entry: e, subject: undefined, listed };
      },
      (e, blob) => ({ ...blob, annotations: e.annotations }),
    );
    expect(index.manifests.map((e) => e.annotations?.['k'])).toEqual(['both', undefined]);
    expect(index.manifests[1]).toBe(other);
    const rewritten = layout.readManifest(index.manifests[0]!);
    expect(rewritten.kind === 'index' && rewritten.doc.manifests.map((m) => m.digest)).toEqual([
      sbom.digest,
    ]);
  });
});
