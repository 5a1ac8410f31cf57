import { describe, expect, it } from 'vitest';
import { Annotation, MediaType } from '../../src/media-types.js';
import type { Descriptor } from '../../src/schema/descriptor.js';
import type { IndexFile } from '../../src/schema/layout-files.js';
import {
  findTagged,
  listNames,
  listTags,
  moveTag,
  removeTag,
  setTag,
  taggedEntry,
} from '../../src/layout/tags.js';
import { nameMatch, tagOfName } from '../../src/layout/names.js';

const hex = (c: string): string => c.repeat(64);
const desc = (c: string, extra: Partial<Descriptor> = {}): Descriptor => ({
  mediaType: MediaType.ImageManifest,
  digest: `sha256:${hex(c)}`,
  size: 100 + c.charCodeAt(0),
  ...extra,
});
const named = (c: string, refName: string, more: Record<string, string> = {}): Descriptor =>
  desc(c, { annotations: { ...more, [Annotation.RefName]: refName } });
const containerd = (c: string, imageName: string, refName?: string): Descriptor =>
  desc(c, {
    annotations: {
      [Annotation.ContainerdImageName]: imageName,
      ...(refName === undefined ? {} : { [Annotation.RefName]: refName }),
    },
  });
const indexOf = (...manifests: Descriptor[]): IndexFile => ({ schemaVersion: 2, manifests });

describe('tagOfName', () => {
  it.each([
    ['bare tag', 'v1', 'v1'],
    ['full reference', 'docker.io/library/alpine:3.19', '3.19'],
    ['registry with port and tag', 'localhost:5000/app:v2', 'v2'],
    ['registry with port, no tag', 'host:5000/repo', undefined],
    ['name with slash, no tag', 'library/alpine', 'library/alpine'],
    [
      'digest reference (containerd, no tag)',
      `docker.io/library/app@sha256:${hex('a')}`,
      undefined,
    ],
    ['tag and digest', `docker.io/library/app:v1@sha256:${hex('a')}`, 'v1'],
    ['port, tag and digest', `reg:5000/app:v1@sha256:${hex('a')}`, 'v1'],
    ['port and digest', `reg:5000/app@sha256:${hex('a')}`, undefined],
    ['empty tag after colon', 'docker.io/app:', undefined],
  ])('%s: %s → %s', (_name, input, expected) => {
    expect(tagOfName(input)).toBe(expected);
  });
});

describe('nameMatch / findTagged', () => {
  it('matches an exact ref.name (oras, regctl, umoci, skopeo oci:dir:tag)', () => {
    expect(nameMatch(named('a', 'v1'), 'v1')).toBe('exact');
    expect(nameMatch(named('a', 'v1'), 'v2')).toBeUndefined();
  });

  it('matches a full reference by its tag (skopeo with a full name, crane --annotate-ref)', () => {
    expect(nameMatch(named('a', 'example.com/peer/app:2.0'), '2.0')).toBe('tag');
    expect(nameMatch(named('a', 'index.docker.io/library/alpine:latest'), 'latest')).toBe('tag');
  });

  it('matches io.containerd.image.name (containerd export, BuildKit) by its tag, and in full', () => {
    // The containerd name is the entry's name; the bare ref.name beside it is only its tag.
    expect(nameMatch(containerd('a', 'docker.io/library/app:v1'), 'v1')).toBe('tag');
    expect(nameMatch(containerd('a', 'docker.io/library/app:v1', 'v1'), 'v1')).toBe('tag');
    const full = 'docker.io/library/app:v1';
    expect(nameMatch(containerd('a', full, 'v1'), full)).toBe('exact');
    expect(nameMatch(named('a', full), full)).toBe('exact');
    expect(nameMatch(named('a', full), 'docker.io/library/other:v1')).toBeUndefined();
  });

  it('never takes the port of a registry or the hex of a digest reference for a tag', () => {
    expect(nameMatch(named('a', 'host:5000/repo'), '5000/repo')).toBeUndefined();
    expect(nameMatch(named('a', `reg/app@sha256:${hex('b')}`), hex('b'))).toBeUndefined();
    expect(nameMatch(containerd('a', `reg/app@sha256:${hex('b')}`), hex('b'))).toBeUndefined();
  });

  it('ignores entries without names', () => {
    expect(nameMatch(desc('a'), 'v1')).toBeUndefined();
    expect(findTagged(indexOf(desc('a')), 'v1')).toBeUndefined();
  });

  it('prefers an exact ref.name over a full-reference match wherever they sit', () => {
    const exact = named('b', 'v1');
    expect(findTagged(indexOf(exact, named('a', 'reg/app:v1')), 'v1')).toBe(exact);
    expect(findTagged(indexOf(named('a', 'reg/app:v1'), exact), 'v1')).toBe(exact);
  });

  it('resolves a duplicated tag to the LAST entry (appending writers put the newest last)', () => {
    const older = named('a', 'v1');
    const newer = named('b', 'v1');
    expect(findTagged(indexOf(older, desc('c'), newer), 'v1')).toBe(newer);
    // Same rule among entries of one full name, asked for in full or by its tag.
    const f1 = named('a', 'reg/x:v2');
    const f2 = containerd('b', 'reg/x:v2', 'v2');
    expect(findTagged(indexOf(f1, f2), 'reg/x:v2')).toBe(f2);
    expect(findTagged(indexOf(f1, f2), 'v2')).toBe(f2);
  });

  it('refuses (E_INVALID_REFERENCE, listing them) a bare tag that several full names share', () => {
    // `ctr images export` of alpha:latest and beta:latest: two images, one bare tag.
    const a = containerd('a', 'docker.io/library/alpha:latest', 'latest');
    const b = containerd('b', 'docker.io/library/beta:latest', 'latest');
    const index = indexOf(a, b);
    expect(() => findTagged(index, 'latest')).toThrow(
      expect.objectContaining({
        code: 'E_INVALID_REFERENCE',
        details: expect.objectContaining({
          names: ['docker.io/library/alpha:latest', 'docker.io/library/beta:latest'],
        }),
      }),
    );
    expect(findTagged(index, 'docker.io/library/beta:latest')).toBe(b);
    // A bare `latest` entry is not ambiguous: it is the name itself.
    const bare = named('c', 'latest');
    expect(findTagged(indexOf(a, bare, b), 'latest')).toBe(bare);
  });
});

describe('listTags', () => {
  it('lists bare tags bare and full names in full, sorted and unique', () => {
    const index = indexOf(
      named('a', 'v1'),
      named('a', 'latest'),
      named('b', 'example.com/peer/app:2.0'), // skopeo with a full name
      named('b', 'index.docker.io/library/alpine:latest'), // crane --annotate-ref
      named('c', 'v1'), // duplicate
      desc('d'), // untagged (oras referrer)
    );
    expect(listTags(index)).toEqual([
      'example.com/peer/app:2.0',
      'index.docker.io/library/alpine:latest',
      'latest',
      'v1',
    ]);
  });

  it('lists containerd/BuildKit names in full, and digest-only names not at all', () => {
    const index = indexOf(
      containerd('a', 'docker.io/library/app:v1', 'v1'),
      containerd('b', 'docker.io/library/app:edge'),
      containerd(
        'c',
        `docker.io/library/app@sha256:${hex('c')}`,
        `docker.io/library/app@sha256:${hex('c')}`,
      ),
      named('d', 'host:5000/repo'),
      named('e', 'docker.io/app:'),
    );
    expect(listTags(index)).toEqual([
      'docker.io/app:',
      'docker.io/library/app:edge',
      'docker.io/library/app:v1',
      'host:5000/repo',
    ]);
  });

  it('lists umoci-style names that are not distribution tags verbatim', () => {
    expect(listTags(indexOf(named('a', 'library/alpine')))).toEqual(['library/alpine']);
  });
});

describe('taggedEntry', () => {
  it('writes the identity, ref.name, platform and artifactType in Go struct key order', () => {
    const target = desc('a', {
      artifactType: 'application/vnd.example',
      platform: { architecture: 'arm64', os: 'linux' },
      annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
      urls: ['https://example.com/x'],
    });
    const entry = taggedEntry(target, 'v1');
    expect(Object.keys(entry)).toEqual([
      'mediaType',
      'digest',
      'size',
      'annotations',
      'platform',
      'artifactType',
    ]);
    expect(entry.annotations).toEqual({ [Annotation.RefName]: 'v1' });
  });
});

describe('moveTag', () => {
  it('reports a move off other content, and none for a new tag or the same content', () => {
    const index = indexOf(named('a', 'v1'));
    expect(moveTag(index, 'v1', desc('a'))).toBeUndefined();
    expect(moveTag(index, 'v2', desc('a'))).toBeUndefined();
    expect(moveTag(index, 'v1', desc('b'))).toMatchObject({
      tag: 'v1',
      from: { digest: desc('a').digest },
      to: { digest: desc('b').digest },
    });
    expect(findTagged(index, 'v1')!.digest).toBe(desc('b').digest);
  });

  it('under noClobber refuses (E_CONFLICT) a name naming other content, index untouched', () => {
    const full = 'docker.io/library/app:v2';
    const index = indexOf(named('a', 'v1'), named('c', full));
    const before = structuredClone(index);
    for (const tag of ['v1', full]) {
      expect(() => moveTag(index, tag, desc('b'), { noClobber: true })).toThrow(
        expect.objectContaining({ code: 'E_CONFLICT', details: expect.objectContaining({ tag }) }),
      );
    }
    expect(index).toEqual(before);
    expect(moveTag(index, 'v1', desc('a'), { noClobber: true })).toBeUndefined();
    expect(moveTag(index, 'v3', desc('b'), { noClobber: true })).toBeUndefined();
    expect(findTagged(index, 'v3')!.digest).toBe(desc('b').digest);
    // A bare v2 is another name than docker.io/library/app:v2: no clobber, both stay.
    expect(moveTag(index, 'v2', desc('b'), { noClobber: true })).toBeUndefined();
    expect(findTagged(index, full)!.digest).toBe(desc('c').digest);
    expect(findTagged(index, 'v2')!.digest).toBe(desc('b').digest);
  });
});

describe('setTag', () => {
  it('appends a new tag at the end', () => {
    const index = indexOf(named('a', 'v1'));
    expect(setTag(index, 'v2', desc('b'))).toBe(true);
    expect(index.manifests.map((e) => e.annotations?.[Annotation.RefName])).toEqual(['v1', 'v2']);
    expect(index.manifests[1]!.digest).toBe(desc('b').digest);
  });

  it('moves a tag in place, keeping the order of the other entries', () => {
    const index = indexOf(named('a', 'v0'), named('a', 'v1'), named('a', 'v2'));
    expect(setTag(index, 'v1', desc('b'))).toBe(true);
    expect(index.manifests.map((e) => e.annotations?.[Annotation.RefName])).toEqual([
      'v0',
      'v1',
      'v2',
    ]);
    expect(index.manifests.map((e) => e.digest[7])).toEqual(['a', 'b', 'a']);
  });

  it('removes later duplicates of the tag (one name, one entry after a write)', () => {
    const index = indexOf(named('a', 'v1'), named('c', 'keep'), named('b', 'v1'));
    setTag(index, 'v1', desc('d'));
    expect(index.manifests).toHaveLength(2);
    expect(findTagged(index, 'v1')!.digest).toBe(desc('d').digest);
    expect(index.manifests[0]!.digest).toBe(desc('d').digest);
  });

  it('is a no-op (entry kept byte for byte) when the tag already names the same content', () => {
    // olareg adds `created`, BuildKit `io.containerd.image.name`: re-tagging must not drop them.
    const entry = named('a', 'v1', {
      'org.opencontainers.image.created': '2024-01-01T00:00:00Z',
      [Annotation.ContainerdImageName]: 'docker.io/library/app:v1',
    });
    const withPlatform = { ...entry, platform: { architecture: 'amd64', os: 'linux' } };
    const index = indexOf(withPlatform, named('b', 'other'));
    const before = JSON.stringify(index);
    expect(setTag(index, 'v1', desc('a'))).toBe(false);
    expect(JSON.stringify(index)).toBe(before);
  });

  it('never touches other tools’ full-reference entries that merely share the tag', () => {
    // Two repositories saved by podman/skopeo into one layout; tagging `3` must not delete them.
    const a = named('a', 'docker.io/library/alpine:3');
    const b = named('b', 'quay.io/other/tool:3');
    const index = indexOf(a, b);
    setTag(index, '3', desc('c'));
    expect(index.manifests).toEqual([a, b, taggedEntry(desc('c'), '3')]);
    // …and the exact name we wrote shadows them on read.
    expect(findTagged(index, '3')!.digest).toBe(desc('c').digest);
  });

  it('writes a full name in both annotations and replaces only entries carrying it', () => {
    const full = 'docker.io/library/alpha:latest';
    const other = containerd('b', 'docker.io/library/beta:latest', 'latest');
    const index = indexOf(containerd('a', full, 'latest'), other);
    expect(setTag(index, full, desc('c'))).toBe(true);
    expect(index.manifests).toEqual([taggedEntry(desc('c'), full), other]);
    expect(index.manifests[0]!.annotations).toEqual({
      [Annotation.ContainerdImageName]: full,
      [Annotation.RefName]: full,
    });
  });

  it('keeps unknown fields of untouched entries', () => {
    const odd = { ...named('a', 'x'), 'vnd.example.extra': { keep: true } } as Descriptor;
    const index = indexOf(odd);
    setTag(index, 'y', desc('b'));
    expect(index.manifests[0]).toBe(odd);
  });
});

describe('removeTag', () => {
  it('removes the name the tag resolves through, every entry of it, and returns them', () => {
    const e1 = named('a', 'v1');
    const e2 = named('b', 'reg/app:v1');
    const e3 = containerd('c', 'reg/app:v1');
    const keep = named('d', 'v2');
    const index = indexOf(e1, keep, e2, e3);
    // The bare name first (it is what `v1` resolves to); the full name stays, and then goes.
    expect(removeTag(index, 'v1')).toEqual([e1]);
    expect(removeTag(index, 'v1')).toEqual([e2, e3]);
    expect(index.manifests).toEqual([keep]);
    // Invariant: after untag, the tag neither resolves nor lists.
    expect(findTagged(index, 'v1')).toBeUndefined();
    expect(listTags(index)).toEqual(['v2']);
  });

  it('removes a full name only, never another repository sharing its tag', () => {
    const a = containerd('a', 'docker.io/library/alpha:latest', 'latest');
    const b = containerd('b', 'docker.io/library/beta:latest', 'latest');
    const index = indexOf(a, b);
    expect(() => removeTag(index, 'latest')).toThrow(
      expect.objectContaining({ code: 'E_INVALID_REFERENCE' }),
    );
    expect(index.manifests).toEqual([a, b]);
    expect(removeTag(index, 'docker.io/library/alpha:latest')).toEqual([a]);
    expect(index.manifests).toEqual([b]);
  });

  it('returns [] and leaves the index alone when the tag is absent', () => {
    const index = indexOf(named('a', 'v1'), desc('b'));
    const before = JSON.stringify(index);
    expect(removeTag(index, 'nope')).toEqual([]);
    expect(JSON.stringify(index)).toBe(before);
  });
});

describe("containerd's digest-only name in the index", () => {
  const name = `registry.example/team/app@sha256:${hex('a')}`;

  it('setTag records it once (idempotent), beside a tag of the same content', () => {
    const index = indexOf(containerd('a', 'registry.example/team/app:v1'));
    expect(setTag(index, name, desc('a'))).toBe(true);
    expect(setTag(index, name, desc('a'))).toBe(false);
    expect(index.manifests).toHaveLength(2);
    expect(index.manifests[1]!.annotations).toEqual({ [Annotation.ContainerdImageName]: name });
    expect(findTagged(index, name)?.digest).toBe(desc('a').digest);
    // Listed as a tag it is not; the tag beside it is.
    expect(listTags(index)).toEqual(['registry.example/team/app:v1']);
    expect(listNames(index)).toEqual(['registry.example/team/app:v1', name]);
  });
});
