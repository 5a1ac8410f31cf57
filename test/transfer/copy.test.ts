import fs, { readFileSync, statSync, writeFileSync } from 'node:fs';
import { syncBuiltinESMExports } from 'node:module';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it, vi } from 'vitest';
import {
  Layout,
  MediaType,
  attach,
  copyLayout,
  copyRefs,
  detectConventions,
  discoverReferrers,
  fallbackTagFor,
  digestOf,
  parseCopyEndpoint,
  parseDigest,
  planCopy,
  LayoutSource,
  walk,
  type BlobOutcome,
  type ConventionName,
  type CopyEvent,
  type Descriptor,
} from '../../src/internal.js';
import { layoutSnapshot } from '../helpers/snapshot.js';
import { tmpDir, tmpLayout } from '../helpers/tmp.js';
import { cosignLayout } from '../referrers/helpers.js';

/** Over place-blobs.ts's 1 MiB small-blob limit, so the streamed/hashed big-blob path runs. */
const BIG = 1024 * 1024 + 4096;

function putBlob(layout: Layout, bytes: Buffer, mediaType: string): Descriptor {
  const r = layout.blobs.putBytes(bytes);
  return { mediaType, digest: r.digest, size: r.size };
}

/** An image: config + layers (one big, one small by default), stored unlisted. */
function putImage(
  layout: Layout,
  layers: Buffer[] = [randomBytes(BIG), randomBytes(100)],
  extra: Record<string, unknown> = {},
): Descriptor {
  const config = putBlob(
    layout,
    Buffer.from(
      JSON.stringify({ architecture: 'amd64', os: 'linux', n: randomBytes(4).toString('hex') }),
    ),
    MediaType.ImageConfig,
  );
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ImageManifest,
    config,
    layers: layers.map((l) => putBlob(layout, l, MediaType.LayerGzip)),
    ...extra,
  };
  return putBlob(layout, Buffer.from(JSON.stringify(manifest)), MediaType.ImageManifest);
}

function putIndex(
  layout: Layout,
  children: Descriptor[],
  extra: Record<string, unknown> = {},
): Descriptor {
  const index = {
    schemaVersion: 2,
    mediaType: MediaType.ImageIndex,
    manifests: children,
    ...extra,
  };
  return putBlob(layout, Buffer.from(JSON.stringify(index)), MediaType.ImageIndex);
}

async function tagged(layout: Layout, desc: Descriptor, tag: string): Promise<void> {
  await layout.tag({ digest: desc.digest }, [tag]);
}

function newDestination(): Layout {
  return Layout.init(join(tmpDir(), 'dst')).layout;
}

/** Every blob the graph of `root` reaches, with its bytes in `dst` equal to those in `src`. */
function expectSameGraph(src: Layout, dst: Layout, root: Descriptor): number {
  const { nodes } = walk(src, [root]);
  for (const digest of nodes.keys()) {
    expect(
      dst.blobs.readBytes(digest, 64 << 20).equals(src.blobs.readBytes(digest, 64 << 20)),
    ).toBe(true);
  }
  return nodes.size;
}

const ino = (layout: Layout, digest: string): number =>
  statSync(layout.blobs.path(parseDigest(digest))).ino;

afterEach(() => {
  vi.restoreAllMocks();
  syncBuiltinESMExports();
});

describe('copyLayout', () => {
  it('copies a tagged image with its config and layers, and tags it in the destination', async () => {
    const src = tmpLayout();
    const image = putImage(src);
    await tagged(src, image, 'v1');
    const dst = newDestination();

    const r = await copyLayout(src, { tag: 'v1' }, dst);

    expect(r.descriptor.digest).toBe(image.digest);
    expect(r.tag).toBe('v1');
    expect(dst.resolve({ tag: 'v1' })).toMatchObject({ digest: image.digest, size: image.size });
    const n = expectSameGraph(src, dst, image);
    expect(r.blobs.linked + r.blobs.copied).toBe(n);
    expect(r.bytes.linked + r.bytes.copied).toBe(
      [...walk(src, [image]).nodes.values()].reduce((s, d) => s + d.size, 0),
    );
  });

  it('is idempotent: a second copy places nothing and leaves the destination byte-identical', async () => {
    const src = tmpLayout();
    await tagged(src, putImage(src), 'v1');
    const dst = newDestination();
    await copyLayout(src, { tag: 'v1' }, dst);
    const before = layoutSnapshot(dst.root);

    const again = await copyLayout(src, { tag: 'v1' }, dst);

    expect(again.blobs).toEqual({ copied: 0, linked: 0, mounted: 0, skipped: 4 });
    expect(layoutSnapshot(dst.root)).toEqual(before);
  });

  it('hard-links blobs on the same filesystem (same inode as the source)', async () => {
    const src = tmpLayout();
    const image = putImage(src);
    await tagged(src, image, 'v1');
    const dst = newDestination();

    const r = await copyLayout(src, { tag: 'v1' }, dst);

    expect(r.blobs.linked).toBe(4);
    for (const digest of walk(src, [image]).nodes.keys())
      expect(ino(dst, digest)).toBe(ino(src, digest));
  });

  it('with link: false writes new verified files (different inodes)', async () => {
    const src = tmpLayout();
    const image = putImage(src);
    await tagged(src, image, 'v1');
    const dst = newDestination();

    const r = await copyLayout(src, { tag: 'v1' }, dst, { link: false });

    expect(r.blobs).toEqual({ copied: 4, linked: 0, mounted: 0, skipped: 0 });
    expectSameGraph(src, dst, image);
    for (const digest of walk(src, [image]).nodes.keys())
      expect(ino(dst, digest)).not.toBe(ino(src, digest));
  });

  it('falls back to streamed copies when the filesystem refuses hard links', async () => {
    const src = tmpLayout();
    const image = putImage(src);
    await tagged(src, image, 'v1');
    const dst = newDestination();
    const realLink = fs.linkSync;
    // Refuse links out of the source's blobs/ (cross-device); ingest → blobs links still work.
    vi.spyOn(fs, 'linkSync').mockImplementation((from, to) => {
      if (String(from).startsWith(src.root)) {
        throw Object.assign(new Error('EXDEV: cross-device link not permitted'), { code: 'EXDEV' });
      }
      realLink(from, to);
    });
    syncBuiltinESMExports();

    const r = await copyLayout(src, { tag: 'v1' }, dst);

    expect(r.blobs).toEqual({ copied: 4, linked: 0, mounted: 0, skipped: 0 });
    expectSameGraph(src, dst, image);
    expect(dst.resolve({ tag: 'v1' }).digest).toBe(image.digest);
  });

  describe('when a source blob is corrupt', () => {
    it.each<[string, { link?: boolean; verify?: boolean }, 'big' | 'small' | 'config']>([
      ['big layer, hard links + verify (default)', {}, 'big'],
      ['big layer, streamed', { link: false }, 'big'],
      ['small layer, hard links + verify', {}, 'small'],
      ['small layer, streamed', { link: false }, 'small'],
      ['config, hard links without verify', { verify: false }, 'config'],
    ])(
      '%s: fails with E_DIGEST_MISMATCH, index.json unchanged, no bad blob',
      async (_n, options, which) => {
        const src = tmpLayout();
        const image = putImage(src);
        await tagged(src, image, 'v1');
        const m = src.readManifest(image);
        if (m.kind !== 'manifest') throw new Error('fixture');
        const victim =
          which === 'config' ? m.doc.config : which === 'big' ? m.doc.layers[0]! : m.doc.layers[1]!;
        const path = src.blobs.path(parseDigest(victim.digest));
        const bytes = readFileSync(path);
        bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 0xff; // same size, other content
        writeFileSync(path, bytes);
        const dst = newDestination();
        await tagged(dst, putImage(dst, [randomBytes(10)]), 'other');
        const indexBefore = readFileSync(join(dst.root, 'index.json'));

        await expect(copyLayout(src, { tag: 'v1' }, dst, options)).rejects.toMatchObject({
          code: 'E_DIGEST_MISMATCH',
        });

        expect(readFileSync(join(dst.root, 'index.json')).equals(indexBefore)).toBe(true);
        expect(dst.blobs.has(parseDigest(victim.digest))).toBe(false);
        expect(dst.blobs.has(parseDigest(image.digest))).toBe(false);
      },
    );

    it('a corrupt manifest is refused before anything is written', async () => {
      const src = tmpLayout();
      const image = putImage(src);
      await tagged(src, image, 'v1');
      const path = src.blobs.path(parseDigest(image.digest));
      // Valid JSON of the same size, one character changed: only the digest can tell.
      const text = readFileSync(path, 'utf8');
      writeFileSync(path, text.replace('"schemaVersion":2', '"schemaVersion":3'));
      expect(readFileSync(path, 'utf8')).not.toBe(text);
      const dst = newDestination();
      const before = layoutSnapshot(dst.root);

      await expect(copyLayout(src, { tag: 'v1' }, dst)).rejects.toMatchObject({
        code: 'E_DIGEST_MISMATCH',
      });
      expect(layoutSnapshot(dst.root)).toEqual(before);
    });
  });

  it('a blob missing from the source (sparse layout) is a clear E_NOT_FOUND naming its parent; nothing written', async () => {
    const src = tmpLayout();
    const image = putImage(src);
    await tagged(src, image, 'v1');
    const m = src.readManifest(image);
    if (m.kind !== 'manifest') throw new Error('fixture');
    const missing = m.doc.layers[1]!;
    src.blobs.delete(parseDigest(missing.digest));
    const dst = newDestination();
    const before = layoutSnapshot(dst.root);

    const err = await copyLayout(src, { tag: 'v1' }, dst).catch((e: unknown) => e);

    expect(err).toMatchObject({
      code: 'E_NOT_FOUND',
      details: { digest: missing.digest, parent: image.digest },
    });
    expect((err as Error).message).toContain(missing.digest);
    expect(layoutSnapshot(dst.root)).toEqual(before);
  });

  it('a source blob whose size differs from its descriptor is E_SIZE_MISMATCH', async () => {
    const src = tmpLayout();
    const image = putImage(src);
    await tagged(src, image, 'v1');
    const m = src.readManifest(image);
    if (m.kind !== 'manifest') throw new Error('fixture');
    const path = src.blobs.path(parseDigest(m.doc.layers[1]!.digest));
    writeFileSync(path, Buffer.concat([readFileSync(path), Buffer.from('x')]));
    const dst = newDestination();
    const before = layoutSnapshot(dst.root);

    await expect(copyLayout(src, { tag: 'v1' }, dst)).rejects.toMatchObject({
      code: 'E_SIZE_MISMATCH',
    });
    expect(layoutSnapshot(dst.root)).toEqual(before);
  });

  it('copies nested indexes completely, every child placed before its parent', async () => {
    const src = tmpLayout();
    const shared = putImage(src, [randomBytes(50)]);
    const amd = putImage(src, [randomBytes(BIG), randomBytes(60)]);
    const inner = putIndex(src, [shared, amd]);
    const outer = putIndex(src, [inner, shared]);
    await tagged(src, outer, 'multi');
    const dst = newDestination();
    const order: string[] = [];

    const r = await copyLayout(src, { tag: 'multi' }, dst, {
      onEvent: (e) => {
        if (e.type === 'blob-done') order.push(e.descriptor.digest);
      },
    });

    const n = expectSameGraph(src, dst, outer);
    expect(r.blobs.linked).toBe(n);
    expect(new Set(order).size).toBe(n);
    const { manifests } = walk(src, [outer]);
    for (const [digest, parsed] of manifests) {
      const children =
        parsed.kind === 'manifest'
          ? [parsed.doc.config, ...parsed.doc.layers]
          : parsed.doc.manifests;
      for (const c of children) expect(order.indexOf(c.digest)).toBeLessThan(order.indexOf(digest));
    }
    expect(order.at(-1)).toBe(outer.digest);
  });

  it('copies an index that has a subject without following the subject (a weak link)', async () => {
    const src = tmpLayout();
    const subject = putImage(src);
    const referrer = putImage(src, [randomBytes(30)]);
    const index = putIndex(src, [referrer], {
      subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      artifactType: 'application/vnd.example.bundle',
    });
    const dst = newDestination();

    const r = await copyLayout(src, { digest: index.digest }, dst);

    expect(r.tag).toBeUndefined();
    expectSameGraph(src, dst, index);
    expect(dst.blobs.has(parseDigest(subject.digest))).toBe(false);
    expect(dst.readIndex().manifests).toEqual([
      {
        mediaType: MediaType.ImageIndex,
        digest: index.digest,
        size: index.size,
        artifactType: 'application/vnd.example.bundle',
      },
    ]);
  });

  describe('destination entry', () => {
    it('a digest source is listed untagged, once, even when copied twice', async () => {
      const src = tmpLayout();
      const image = putImage(src);
      await tagged(src, image, 'v1');
      const dst = newDestination();
      await copyLayout(src, { digest: image.digest }, dst);
      await copyLayout(src, { digest: image.digest }, dst);
      expect(dst.readIndex().manifests).toEqual([
        { mediaType: MediaType.ImageManifest, digest: image.digest, size: image.size },
      ]);
    });

    it('the given tag wins over the source tag and moves an existing tag', async () => {
      const src = tmpLayout();
      const image = putImage(src);
      await tagged(src, image, 'v1');
      const dst = newDestination();
      const old = putImage(dst, [randomBytes(5)]);
      await tagged(dst, old, 'release');

      const r = await copyLayout(src, { tag: 'v1' }, dst, { tag: 'release' });

      expect(r.tag).toBe('release');
      expect(dst.tags()).toEqual(['release']);
      expect(dst.resolve({ tag: 'release' }).digest).toBe(image.digest);
    });

    it('a bare source with one entry keeps that entry tag', async () => {
      const src = tmpLayout();
      const image = putImage(src);
      await tagged(src, image, 'only');
      const dst = newDestination();
      const r = await copyLayout(src, {}, dst);
      expect(r.tag).toBe('only');
      expect(dst.resolve({ tag: 'only' }).digest).toBe(image.digest);
    });

    it('a copy within one layout only adds the tag (every blob already there)', async () => {
      const src = tmpLayout();
      const image = putImage(src);
      await tagged(src, image, 'v1');
      const same = Layout.open(src.root);

      const r = await copyLayout(src, { tag: 'v1' }, same, { tag: 'v2' });

      expect(r.blobs).toEqual({ copied: 0, linked: 0, mounted: 0, skipped: 4 });
      expect(same.tags()).toEqual(['v1', 'v2']);
      expect(same.resolve({ tag: 'v2' }).digest).toBe(image.digest);
    });

    it('an invalid destination tag is E_INVALID_TAG and nothing is written', async () => {
      const src = tmpLayout();
      await tagged(src, putImage(src), 'v1');
      const dst = newDestination();
      const before = layoutSnapshot(dst.root);
      await expect(copyLayout(src, { tag: 'v1' }, dst, { tag: '-bad' })).rejects.toMatchObject({
        code: 'E_INVALID_TAG',
      });
      expect(layoutSnapshot(dst.root)).toEqual(before);
    });

    it('an unknown source tag is E_NOT_FOUND', async () => {
      const src = tmpLayout();
      await expect(copyLayout(src, { tag: 'nope' }, newDestination())).rejects.toMatchObject({
        code: 'E_NOT_FOUND',
      });
    });
  });

  it('reports each outcome once per blob, the blobs already present as skipped', async () => {
    const src = tmpLayout();
    const image = putImage(src);
    await tagged(src, image, 'v1');
    const dst = newDestination();
    const m = src.readManifest(image);
    if (m.kind !== 'manifest') throw new Error('fixture');
    dst.blobs.putBytes(src.blobs.readBytes(parseDigest(m.doc.layers[1]!.digest), 1 << 20));
    const seen: BlobOutcome[] = [];

    const r = await copyLayout(src, { tag: 'v1' }, dst, {
      link: false,
      onEvent: (e) => {
        if (e.type === 'blob-done') seen.push(e.outcome);
      },
    });

    expect(r.blobs).toEqual({ copied: 3, linked: 0, mounted: 0, skipped: 1 });
    expect(seen.sort()).toEqual(['copied', 'copied', 'copied', 'skipped']);
    expect(r.bytes.skipped).toBe(100);
  });
});

describe('copyLayout with referrers', () => {
  /** A file to attach (its content makes each artifact distinct). */
  function file(text: string): { path: string } {
    const path = join(tmpDir(), `${text}.txt`);
    writeFileSync(path, text);
    return { path };
  }

  /**
   * Source: index `multi` → image `amd` (+ `shared`). Referrers: a signature of the index (in
   * `convention`), a signature of that signature, an SBOM of the child image `amd` (fallback tag).
   */
  async function referrerSource(convention: ConventionName): Promise<{
    src: Layout;
    root: Descriptor;
    amd: Descriptor;
    sig: Descriptor;
    sigOfSig: Descriptor;
    sbom: Descriptor;
  }> {
    const src = tmpLayout();
    const amd = putImage(src, [randomBytes(40)]);
    const root = putIndex(src, [amd]);
    await tagged(src, root, 'multi');
    const at = 'application/vnd.example.signature';
    const sig = (
      await attach(src, { digest: root.digest }, [file('sig')], { artifactType: at, convention })
    ).descriptor;
    const sigOfSig = (
      await attach(src, { digest: sig.digest }, [file('countersig')], {
        artifactType: at,
        convention,
      })
    ).descriptor;
    const sbom = (
      await attach(src, { digest: amd.digest }, [file('sbom')], {
        artifactType: 'application/spdx+json',
        convention: 'fallback-tag',
      })
    ).descriptor;
    return { src, root, amd, sig, sigOfSig, sbom };
  }

  const digests = (ds: { digest: string }[]): string[] => ds.map((d) => d.digest).sort();

  it.each<ConventionName>(['per-manifest', 'subject-annotation', 'fallback-tag'])(
    'copies every referrer recursively from a %s source, recorded in the destination convention',
    async (convention) => {
      const { src, root, amd, sig, sigOfSig, sbom } = await referrerSource(convention);
      const dst = newDestination();

      const r = await copyLayout(src, { tag: 'multi' }, dst, { referrers: true });

      expect(digests(r.referrers)).toEqual(digests([sig, sigOfSig, sbom]));
      expect(r.conventions).toEqual(['per-manifest']); // auto in a layout without any convention
      expect(digests(discoverReferrers(dst, root.digest))).toEqual([sig.digest]);
      expect(digests(discoverReferrers(dst, sig.digest))).toEqual([sigOfSig.digest]);
      expect(digests(discoverReferrers(dst, amd.digest))).toEqual([sbom.digest]);
      for (const d of [sig, sigOfSig, sbom]) expectSameGraph(src, dst, d);
      expect(discoverReferrers(dst, root.digest)).toEqual(discoverReferrers(src, root.digest));
    },
  );

  it('--convention writes the chosen convention, in ONE index.json commit with the tag', async () => {
    const { src, root, sig } = await referrerSource('per-manifest');
    const dst = newDestination();
    const realRename = fs.renameSync;
    const indexCommits: string[] = [];
    vi.spyOn(fs, 'renameSync').mockImplementation((from, to) => {
      if (String(to) === join(dst.root, 'index.json')) indexCommits.push(String(from));
      realRename(from, to);
    });
    syncBuiltinESMExports();

    const r = await copyLayout(src, { tag: 'multi' }, dst, {
      referrers: true,
      convention: 'fallback-tag',
    });

    expect(indexCommits).toHaveLength(1);
    expect(r.conventions).toEqual(['fallback-tag']);
    expect(detectConventions(dst)).toEqual(['fallback-tag']);
    expect(dst.tags()).toContain(fallbackTagFor(root.digest));
    expect(dst.resolve({ tag: 'multi' }).digest).toBe(root.digest);
    expect(digests(discoverReferrers(dst, root.digest))).toEqual([sig.digest]);
  });

  it('auto keeps the convention the destination already uses', async () => {
    const { src, root } = await referrerSource('per-manifest');
    const dst = newDestination();
    const other = putImage(dst, [randomBytes(8)]);
    await tagged(dst, other, 'other');
    await attach(dst, { digest: other.digest }, [file('x')], {
      artifactType: 'application/vnd.example.note',
      convention: 'subject-annotation',
    });

    const r = await copyLayout(src, { tag: 'multi' }, dst, { referrers: true });

    expect(r.conventions).toEqual(['subject-annotation']);
    expect(detectConventions(dst)).toEqual(['subject-annotation']);
    expect(discoverReferrers(dst, root.digest)).toHaveLength(1);
  });

  it('without referrers: true, no referrer is copied; a second copy with them changes nothing more', async () => {
    const { src, root } = await referrerSource('per-manifest');
    const dst = newDestination();

    const plain = await copyLayout(src, { tag: 'multi' }, dst);
    expect(plain.referrers).toEqual([]);
    expect(discoverReferrers(dst, root.digest)).toEqual([]);

    await copyLayout(src, { tag: 'multi' }, dst, { referrers: true });
    const before = layoutSnapshot(dst.root);
    const again = await copyLayout(src, { tag: 'multi' }, dst, { referrers: true });
    expect(again.blobs.copied + again.blobs.linked).toBe(0);
    expect(layoutSnapshot(dst.root)).toEqual(before);
  });
});

describe('copyLayout with referrers from peer-written layouts (testdata/peers)', () => {
  const peers = fileURLToPath(new URL('../../testdata/peers/', import.meta.url));
  const expected = JSON.parse(readFileSync(join(peers, 'expected.json'), 'utf8')) as Record<
    string,
    { writer: string; referrers: Record<string, string[]> }
  >;
  const withReferrers = Object.keys(expected).filter(
    (k) => Object.keys(expected[k]!.referrers).length > 0,
  );

  it.each(withReferrers)(
    '%s: every subject copied keeps exactly the referrers its writer recorded',
    async (name) => {
      const src = Layout.open(join(peers, name));
      const dst = newDestination();
      const subjects = Object.keys(expected[name]!.referrers);
      for (const subject of subjects) {
        // link: false: never share inodes with files under version control.
        await copyLayout(src, { digest: subject }, dst, { referrers: true, link: false });
      }
      for (const subject of subjects) {
        expect(
          discoverReferrers(dst, subject)
            .map((d) => d.digest)
            .sort(),
        ).toEqual([...expected[name]!.referrers[subject]!].sort());
      }
    },
  );
});

describe('planCopy', () => {
  it('lists every blob once: configs and layers, then manifests bottom-up, the root last', async () => {
    const src = tmpLayout();
    const a = putImage(src, [randomBytes(20)]);
    const b = putImage(src, [randomBytes(30)]);
    const root = putIndex(src, [a, b, a]);
    const plan = await planCopy(new LayoutSource(src, { digest: root.digest }));
    const digests = [...plan.blobs, ...plan.docs.map((d) => d.descriptor)].map((d) => d.digest);
    expect(new Set(digests).size).toBe(digests.length);
    expect(digests).toHaveLength(walk(src, [root]).nodes.size);
    expect(digests.slice(-3).sort()).toEqual([a.digest, b.digest, root.digest].sort());
    expect(digests.at(-1)).toBe(root.digest);
  });
});

describe('parseCopyEndpoint', () => {
  it.each([
    ['./out:v1', { kind: 'layout', layout: './out', tag: 'v1' }],
    ['out', { kind: 'layout', layout: 'out' }],
    [`dir@${digestOf('x')}`, { kind: 'layout', layout: 'dir', digest: digestOf('x') }],
  ])('%s is a layout endpoint', (input, expected) => {
    expect(parseCopyEndpoint(input)).toEqual(expected);
  });

  it('docker://… is a registry endpoint', () => {
    expect(parseCopyEndpoint('docker://registry.example/repo:v1')).toMatchObject({
      kind: 'registry',
      ref: { registry: 'registry.example', repository: 'repo', tag: 'v1' },
    });
  });

  it.each(['s3://bucket/x.tar', 'oci-archive://x.tar'])('%s is refused with E_USAGE', (input) => {
    expect(() => parseCopyEndpoint(input)).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
  });
});

describe('copy of a layout whose signatures are cosign tags', () => {
  it('carries them as tags with --cosign-tags, and --referrers warns of nothing', async () => {
    const { layout, img, sig, att } = await cosignLayout();
    await layout.tag({ digest: img.digest }, ['v1']);
    const dst = join(tmpDir(), 'dst');
    const events: CopyEvent[] = [];
    await copyRefs(`${layout.root}:v1`, `${dst}:v1`, {
      referrers: true,
      cosignTags: true,
      onEvent: (e) => events.push(e),
    });
    expect(events.filter((e) => e.type === 'warning')).toEqual([]);
    const copied = Layout.open(dst);
    const hex = img.digest.slice('sha256:'.length);
    expect(copied.resolve({ tag: `sha256-${hex}.sig` }).digest).toBe(sig.digest);
    expect(copied.resolve({ tag: `sha256-${hex}.att` }).digest).toBe(att.digest);
  });
});
