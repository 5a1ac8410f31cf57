import { describe, expect, it } from 'vitest';
import { mergeEntries } from '../../src/archive/merge.js';
import { Annotation, MediaType, type Descriptor, type IndexFile } from '../../src/internal.js';

const d = (digest: string, tag?: string): Descriptor => ({
  mediaType: MediaType.ImageManifest,
  digest: `sha256:${digest.repeat(64)}`,
  size: 1,
  ...(tag === undefined ? {} : { annotations: { [Annotation.RefName]: tag } }),
});
const index = (...manifests: Descriptor[]): IndexFile => ({ schemaVersion: 2, manifests });

describe('mergeEntries', () => {
  it('appends new tags and new untagged content, keeps what is already there', () => {
    const idx = index(d('a', 'v1'), d('b'));
    const r = mergeEntries(idx, [d('a', 'v1'), d('c', 'v2'), d('b'), d('a'), d('e')], 'fail');
    expect(idx.manifests).toEqual([d('a', 'v1'), d('b'), d('c', 'v2'), d('e')]);
    expect(r.added).toEqual([d('c', 'v2'), d('e')]);
    expect(r.unchanged).toEqual([d('a', 'v1'), d('b'), d('a')]);
  });

  it('fails on a tag naming other content, listing every such tag, and changes nothing it returns', () => {
    const idx = index(d('a', 'v1'), d('b', 'v2'));
    expect(() => mergeEntries(idx, [d('c', 'v1'), d('c', 'v2')], 'fail')).toThrow(
      expect.objectContaining({
        code: 'E_CONFLICT',
        details: {
          conflicts: [
            expect.objectContaining({ tag: 'v1' }),
            expect.objectContaining({ tag: 'v2' }),
          ],
        },
      }),
    );
  });

  it('skip keeps the target’s tag and lists the incoming image untagged (never an orphan)', () => {
    const skip = index(d('a', 'v1'));
    // The blobs are stored either way: an image nothing lists would be gc's, signatures and all.
    expect(mergeEntries(skip, [d('c', 'v1')], 'skip').skipped).toEqual([
      { tag: 'v1', existing: [d('a').digest], incoming: d('c').digest, keptUntagged: true },
    ]);
    expect(skip.manifests).toEqual([d('a', 'v1'), d('c')]);
    // Content some entry lists already gets no second, untagged entry.
    const listed = index(d('a', 'v1'), d('c', 'v2'));
    mergeEntries(listed, [d('c', 'v1')], 'skip');
    expect(listed.manifests).toEqual([d('a', 'v1'), d('c', 'v2')]);
  });

  it('compares full names, so images sharing a tag but not a repository never conflict', () => {
    // `ctr images export` writes ref.name `latest` beside each image's own containerd name.
    const ctr = (c: string, name: string): Descriptor => ({
      ...d(c),
      annotations: { [Annotation.ContainerdImageName]: name, [Annotation.RefName]: 'latest' },
    });
    const alpha = ctr('a', 'docker.io/library/alpha:latest');
    const beta = ctr('b', 'docker.io/library/beta:latest');
    const idx = index();
    expect(mergeEntries(idx, [alpha, beta], 'fail').added).toEqual([alpha, beta]);
    // Again: both already present; a new alpha conflicts with alpha only.
    expect(mergeEntries(idx, [alpha, beta], 'fail').unchanged).toEqual([alpha, beta]);
    expect(() => mergeEntries(idx, [ctr('c', 'docker.io/library/alpha:latest')], 'fail')).toThrow(
      expect.objectContaining({
        details: {
          conflicts: [expect.objectContaining({ tag: 'docker.io/library/alpha:latest' })],
        },
      }),
    );
  });

  it('overwrite replaces the tag in place and drops duplicates', () => {
    const over = index(d('a', 'v1'), d('x', 'other'), d('b', 'v1'));
    const r = mergeEntries(over, [d('c', 'v1')], 'overwrite');
    expect(over.manifests).toEqual([d('c', 'v1'), d('x', 'other')]);
    expect(r.replaced).toEqual([
      { tag: 'v1', existing: [d('a').digest, d('b').digest], incoming: d('c').digest },
    ]);
  });

  it("into a hauler store: names in hauler's shape, a cosign tag filed after its image's name", () => {
    const kinded = (c: string, kind: string, ref: string): Descriptor => ({
      ...d(c),
      annotations: { kind, [Annotation.RefName]: ref },
    });
    const idx = index(kinded('a', 'dev.hauler/image', 'v1'));
    const sig = `sha256-${'b'.repeat(64)}.sig`;
    // The archive lists the signature before its image (as an untag and retag leaves it).
    mergeEntries(idx, [d('c', sig), d('b', 'v2'), kinded('e', 'dev.hauler/image', 'v3')], 'fail');
    expect(idx.manifests).toEqual([
      kinded('a', 'dev.hauler/image', 'v1'),
      kinded('b', 'dev.hauler/image', 'v2'),
      kinded('e', 'dev.hauler/image', 'v3'),
      kinded('c', 'dev.hauler/sigs', 'v2'),
    ]);
    // overwrite replaces the image and, its content changing, drops its old signature.
    mergeEntries(idx, [d('f', 'v2')], 'overwrite');
    expect(idx.manifests.map((e) => [e.digest[7], e.annotations?.['kind']])).toEqual([
      ['a', 'dev.hauler/image'],
      ['f', 'dev.hauler/image'],
      ['e', 'dev.hauler/image'],
    ]);
  });
});
