// Writing into a hauler store in hauler's shape: names become hauler image entries, cosign tags of
// a named image its sigs/atts/sboms entries, OCI referrers its referrers/<hex> entries, each keyed
// as hauler keys them (name and kind).
import { describe, expect, it } from 'vitest';
import type { Digest } from '../../src/digest.js';
import { Annotation, MediaType } from '../../src/media-types.js';
import type { Descriptor } from '../../src/schema/descriptor.js';
import type { IndexFile } from '../../src/schema/layout-files.js';
import { addHaulerReferrer, haulerKindPrefix } from '../../src/layout/hauler-write.js';
import { findExact, findTagged, listTags, moveTag, setTag } from '../../src/layout/tags.js';

const hex = (c: string): string => c.repeat(64);
const desc = (c: string, extra: Partial<Descriptor> = {}): Descriptor => ({
  mediaType: MediaType.ImageManifest,
  digest: `sha256:${hex(c)}`,
  size: 100 + c.charCodeAt(0),
  ...extra,
});
const REF = Annotation.RefName;
const CTRD = Annotation.ContainerdImageName;
/** An entry as hauler writes it. */
const hauler = (c: string, kind: string, ref: string, full?: string): Descriptor =>
  desc(c, {
    annotations: { kind, [REF]: ref, ...(full === undefined ? {} : { [CTRD]: full }) },
  });
const indexOf = (...manifests: Descriptor[]): IndexFile => ({ schemaVersion: 2, manifests });
const sigTag = (c: string, kind = 'sig'): string => `sha256-${hex(c)}.${kind}`;

const ALPINE = 'index.docker.io/library/alpine:3.20';
const A = `sha256:${hex('a')}` as Digest;
/** A hauler 2.x store: alpine (a) with its signature (s). */
const v2 = (): IndexFile =>
  indexOf(
    hauler('a', 'dev.hauler/image', 'library/alpine:3.20', ALPINE),
    hauler('s', 'dev.hauler/sigs', 'library/alpine:3.20', ALPINE),
  );

describe('haulerKindPrefix', () => {
  it("is 2.x's prefix when any entry has it, 1.x's when only that one, else none", () => {
    expect(haulerKindPrefix(v2())).toBe('dev.hauler/');
    expect(
      haulerKindPrefix(indexOf(hauler('a', 'dev.cosignproject.cosign/image', 'library/a:1'))),
    ).toBe('dev.cosignproject.cosign/');
    expect(
      haulerKindPrefix(
        indexOf(
          hauler('a', 'dev.cosignproject.cosign/image', 'library/a:1'),
          hauler('b', 'dev.hauler/image', 'library/b:1'),
        ),
      ),
    ).toBe('dev.hauler/');
    expect(haulerKindPrefix(indexOf(desc('a', { annotations: { [REF]: 'v1' } })))).toBeUndefined();
    // Another tool's `kind` is not hauler's.
    expect(haulerKindPrefix(indexOf(hauler('a', 'example.com/image', 'v1')))).toBeUndefined();
  });
});

describe('setTag in a hauler store', () => {
  it('writes a new name as a hauler image entry: ref.name without the registry, the full name beside', () => {
    const index = v2();
    expect(setTag(index, 'example.com/team/app:1.0', desc('b'))).toBe(true);
    expect(index.manifests.at(-1)).toEqual(
      hauler('b', 'dev.hauler/image', 'team/app:1.0', 'example.com/team/app:1.0'),
    );
    setTag(index, 'localhost:5000/app:2', desc('c', { mediaType: MediaType.ImageIndex }));
    expect(index.manifests.at(-1)).toEqual({
      ...desc('c', { mediaType: MediaType.ImageIndex }),
      annotations: {
        kind: 'dev.hauler/imageIndex',
        [REF]: 'app:2',
        [CTRD]: 'localhost:5000/app:2',
      },
    });
    // No registry: docker's, as hauler's parser reads it; the name written still resolves.
    setTag(index, 'library/app:3', desc('d'));
    expect(index.manifests.at(-1)).toEqual(
      hauler('d', 'dev.hauler/image', 'library/app:3', 'index.docker.io/library/app:3'),
    );
    expect(findTagged(index, 'library/app:3')?.digest).toBe(desc('d').digest);
    // A bare tag stays a bare ref.name (as hauler's files and charts).
    setTag(index, 'v1', desc('e'));
    expect(index.manifests.at(-1)).toEqual(hauler('e', 'dev.hauler/image', 'v1'));
    expect(listTags(index)).toEqual([
      'example.com/team/app:1.0',
      ALPINE,
      'index.docker.io/library/app:3',
      'localhost:5000/app:2',
      'v1',
    ]);
  });

  it("writes 1.x's kinds and docker.io in a store that has only those", () => {
    const index = indexOf(
      hauler('a', 'dev.cosignproject.cosign/image', 'library/a:1', 'docker.io/library/a:1'),
    );
    setTag(index, 'library/b:1', desc('b'));
    expect(index.manifests.at(-1)).toEqual(
      hauler('b', 'dev.cosignproject.cosign/image', 'library/b:1', 'docker.io/library/b:1'),
    );
  });

  it('replaces the image in place under its own names, dropping the old signature', () => {
    const index = v2();
    index.manifests.push(hauler('t', 'dev.hauler/sigs', 'library/other:1', 'x.io/library/other:1'));
    // Named as the user knows it (hauler's ref.name): the entry keeps both of hauler's names.
    expect(setTag(index, 'library/alpine:3.20', desc('b'))).toBe(true);
    expect(index.manifests).toEqual([
      hauler('b', 'dev.hauler/image', 'library/alpine:3.20', ALPINE),
      hauler('t', 'dev.hauler/sigs', 'library/other:1', 'x.io/library/other:1'),
    ]);
  });

  it('keeps the entry and its signature byte for byte when the content is the same', () => {
    const index = v2();
    const before = structuredClone(index);
    expect(setTag(index, ALPINE, desc('a'))).toBe(false);
    expect(index).toEqual(before);
  });

  it("collapses hauler 1.x's stale duplicate of the name into the one entry", () => {
    const full = 'docker.io/library/alpine:3.19';
    const index = indexOf(
      hauler('a', 'dev.cosignproject.cosign/image', 'library/alpine:3.19', full),
      hauler('b', 'dev.cosignproject.cosign/image', 'library/alpine:3.19', full),
      hauler('s', 'dev.cosignproject.cosign/sigs', 'library/alpine:3.19', full),
    );
    // The name resolves to the later entry (b): writing that content again keeps its signature.
    expect(setTag(index, full, desc('b'))).toBe(true);
    expect(index.manifests).toEqual([
      hauler('b', 'dev.cosignproject.cosign/image', 'library/alpine:3.19', full),
      hauler('s', 'dev.cosignproject.cosign/sigs', 'library/alpine:3.19', full),
    ]);
  });

  it('replaces a hauler image of the same ref.name under another registry (hauler keys by ref.name)', () => {
    const index = v2();
    setTag(index, 'docker.io/library/alpine:3.20', desc('b'));
    expect(index.manifests).toEqual([
      hauler('b', 'dev.hauler/image', 'library/alpine:3.20', 'docker.io/library/alpine:3.20'),
    ]);
  });

  it('--no-clobber sees the image hauler keys the same, and refuses to replace it', () => {
    const index = v2();
    const before = structuredClone(index);
    expect(() =>
      moveTag(index, 'docker.io/library/alpine:3.20', desc('b'), { noClobber: true }),
    ).toThrow(expect.objectContaining({ code: 'E_CONFLICT' }));
    expect(index).toEqual(before);
    expect(findExact(index, 'docker.io/library/alpine:3.20')).toBe(index.manifests[0]);
    expect(moveTag(index, 'docker.io/library/alpine:3.20', desc('b'))).toEqual({
      tag: 'docker.io/library/alpine:3.20',
      from: before.manifests[0],
      to: desc('b'),
    });
  });

  it("files a cosign tag of a named image as that image's sigs/atts/sboms entry", () => {
    const index = v2();
    setTag(index, 'example.com/team/app:1.0', desc('a'));
    // The same image under two names: one entry per name, as hauler keys them.
    expect(setTag(index, sigTag('a'), desc('n'))).toBe(true);
    setTag(index, sigTag('a', 'sbom'), desc('m'));
    expect(index.manifests).toEqual([
      hauler('a', 'dev.hauler/image', 'library/alpine:3.20', ALPINE),
      hauler('n', 'dev.hauler/sigs', 'library/alpine:3.20', ALPINE),
      hauler('a', 'dev.hauler/image', 'team/app:1.0', 'example.com/team/app:1.0'),
      hauler('n', 'dev.hauler/sigs', 'team/app:1.0', 'example.com/team/app:1.0'),
      hauler('m', 'dev.hauler/sboms', 'library/alpine:3.20', ALPINE),
      hauler('m', 'dev.hauler/sboms', 'team/app:1.0', 'example.com/team/app:1.0'),
    ]);
    expect(findTagged(index, sigTag('a'))?.digest).toBe(desc('n').digest);
    // Again: nothing changes.
    expect(setTag(index, sigTag('a'), desc('n'))).toBe(false);
  });

  it('leaves a cosign tag of an image no entry names a plain cosign tag', () => {
    const index = v2();
    setTag(index, sigTag('9'), desc('n'));
    expect(index.manifests.at(-1)).toEqual(desc('n', { annotations: { [REF]: sigTag('9') } }));
  });

  it('changes nothing in a layout without hauler kinds', () => {
    const index = indexOf(desc('a', { annotations: { [REF]: 'v1' } }));
    setTag(index, 'example.com/team/app:1.0', desc('b'));
    expect(index.manifests.at(-1)).toEqual(
      desc('b', {
        annotations: { [CTRD]: 'example.com/team/app:1.0', [REF]: 'example.com/team/app:1.0' },
      }),
    );
  });
});

describe('addHaulerReferrer', () => {
  const referrer = desc('r', { artifactType: 'application/example' });

  it("files an OCI referrer under the subject image's names, kind referrers/<hex>", () => {
    const index = v2();
    expect(addHaulerReferrer(index, A, referrer)).toBe(true);
    expect(index.manifests.at(-1)).toEqual(
      hauler('r', `dev.hauler/referrers/${hex('r')}`, 'library/alpine:3.20', ALPINE),
    );
    expect(addHaulerReferrer(index, A, referrer)).toBe(false);
  });

  it('declines without a hauler kind in the layout or an image entry of the subject', () => {
    expect(addHaulerReferrer(v2(), `sha256:${hex('9')}` as Digest, referrer)).toBeUndefined();
    const plain = indexOf(desc('a', { annotations: { [REF]: 'v1' } }));
    expect(addHaulerReferrer(plain, A, referrer)).toBeUndefined();
  });
});
