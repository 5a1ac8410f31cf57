import { cpSync, existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { digestOf, parseDigest } from '../../src/digest.js';
import { Layout } from '../../src/layout/layout.js';
import { Annotation, MediaType } from '../../src/media-types.js';
import { serializeIndex } from '../../src/store/index-store.js';
import { liveLeasedDigests } from '../../src/store/ingest.js';
import { parseManifest } from '../../src/schema/manifest.js';
import { listTags } from '../../src/layout/tags.js';
import {
  freshDir,
  imageBlobs,
  imageIndex,
  imageManifest,
  makeLayout,
  tagged,
  type Descs,
} from '../helpers/make-layout.js';
import { layoutSnapshot } from '../helpers/snapshot.js';

const PEERS = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'testdata', 'peers');
const refNames = (layout: Layout): (string | undefined)[] =>
  layout.readIndex().manifests.map((e) => e.annotations?.[Annotation.RefName]);

describe('opening peer layouts (testdata/peers: real umoci/skopeo, crafted oras/regctl/olareg/crane/containerd/cosign/buildkit)', () => {
  const expected = JSON.parse(readFileSync(join(PEERS, 'expected.json'), 'utf8')) as Record<
    string,
    { writer: string; tags: Record<string, string> }
  >;
  it.each(Object.keys(expected))('%s opens, resolves every tag and walks', (name) => {
    const layout = Layout.open(join(PEERS, name));
    const tags = expected[name]!.tags;
    for (const [tag, digest] of Object.entries(tags)) {
      const desc = layout.resolve({ tag });
      expect(desc.digest, `${name}:${tag}`).toBe(digest);
      const parsed = layout.readManifest(desc);
      expect(['manifest', 'index']).toContain(parsed.kind);
    }
    // Names are listed as written (a full name in full); each resolves, and together they reach
    // every tagged digest.
    const listed = listTags(layout.readIndex());
    const reached = listed.map((n) => layout.resolve({ tag: n }).digest);
    expect(reached).toEqual(expect.arrayContaining(Object.values(tags)));
  });

  it.each(Object.keys(expected))(
    '%s survives a tag and an untag with every other byte of index.json kept',
    async (name) => {
      const root = join(freshDir(), name);
      cpSync(join(PEERS, name), root, { recursive: true });
      const layout = Layout.open(root);
      const before = layout.readIndex();
      const first = before.manifests[0]!;
      await layout.tag({ digest: first.digest }, ['ocilayout-probe']);
      await layout.untag('ocilayout-probe');
      // Same document (unknown fields, annotations, key order, entry order), in our serialisation.
      expect(readFileSync(join(root, 'index.json'), 'utf8')).toBe(serializeIndex(before));
    },
  );
});

describe('Layout.resolve', () => {
  const fixture = (): ReturnType<typeof makeLayout> =>
    makeLayout({
      blobs: {
        ...imageBlobs('a'),
        ...imageBlobs('b'),
        child: (d: Descs) => imageManifest(d['aconfig']!, [d['blayer']!]),
        index: (d: Descs) => imageIndex([d['child']!]),
      },
      index: (d) => ({
        schemaVersion: 2,
        manifests: [tagged(d['amanifest']!, 'v1'), tagged(d['index']!, 'multi'), d['bmanifest']!],
      }),
    });

  it('resolves a tag to its index.json entry', () => {
    const fx = fixture();
    expect(fx.open().resolve({ tag: 'v1' })).toEqual(tagged(fx.d['amanifest']!, 'v1'));
  });

  it('resolves a listed digest to its entry, annotations included', () => {
    const fx = fixture();
    expect(fx.open().resolve({ digest: fx.d['index']!.digest })).toEqual(
      tagged(fx.d['index']!, 'multi'),
    );
  });

  it('resolves an unlisted child manifest by digest from its blob', () => {
    const fx = fixture();
    expect(fx.open().resolve({ digest: fx.d['child']!.digest })).toEqual(fx.d['child']);
  });

  it.each([
    ['an unknown tag', { tag: 'nope' }, 'E_NOT_FOUND'],
    ['an absent digest', { digest: digestOf('absent') }, 'E_NOT_FOUND'],
    ['an invalid digest', { digest: 'sha256:xyz' }, 'E_INVALID_DIGEST'],
    ['no tag or digest in a multi-entry layout', {}, 'E_INVALID_REFERENCE'],
  ])('fails for %s', (_name, target, code) => {
    expect(() => fixture().open().resolve(target)).toThrow(expect.objectContaining({ code }));
  });

  describe('when a digest names a blob that is not a manifest or index', () => {
    it.each([
      ['a layer (not JSON)', 'alayer'],
      ['a config (JSON without manifest fields)', 'aconfig'],
      ['a layer over 4 MiB', 'big'],
    ])('says so for %s (E_UNSUPPORTED_MEDIA_TYPE), unchanged', (_name, blob) => {
      const fx = makeLayout({
        blobs: { ...imageBlobs('a'), big: Buffer.alloc(4 * 1024 * 1024 + 1, 1) },
        index: (d) => ({ schemaVersion: 2, manifests: [tagged(d['amanifest']!, 'v1')] }),
      });
      const before = layoutSnapshot(fx.root);
      expect(() => fx.open().resolve({ digest: fx.d[blob]!.digest })).toThrow(
        expect.objectContaining({ code: 'E_UNSUPPORTED_MEDIA_TYPE' }),
      );
      expect(layoutSnapshot(fx.root)).toEqual(before);
    });

    it('still reports a manifest-shaped document that fails validation as E_SCHEMA', () => {
      const fx = makeLayout({ blobs: { old: { schemaVersion: 1, layers: [], config: {} } } });
      expect(() => fx.open().resolve({ digest: fx.d['old']!.digest })).toThrow(
        expect.objectContaining({ code: 'E_SCHEMA' }),
      );
    });
  });

  it('resolves no tag to the single entry of a one-entry layout (skopeo oci:dir)', () => {
    const fx = makeLayout({
      blobs: imageBlobs(),
      index: (d) => ({ schemaVersion: 2, manifests: [d['manifest']!] }),
    });
    expect(fx.open().resolve({}).digest).toBe(fx.d['manifest']!.digest);
  });
});

describe('Layout.readManifest / getManifest', () => {
  it('reads a manifest whose blob lacks mediaType, typed by its descriptor (umoci 0.4.7)', () => {
    const fx = makeLayout({
      blobs: {
        config: { os: 'linux' },
        m: (d) => ({ schemaVersion: 2, config: d['config'], layers: [] }),
      },
    });
    const parsed = fx.open().readManifest({ ...fx.d['m']!, mediaType: MediaType.ImageManifest });
    expect(parsed).toMatchObject({ kind: 'manifest', mediaType: MediaType.ImageManifest });
  });

  it('refuses a descriptor whose size disagrees with the blob (E_SIZE_MISMATCH)', () => {
    const fx = makeLayout({ blobs: imageBlobs() });
    const layout = fx.open();
    const d = fx.d['manifest']!;
    expect(() => layout.readManifest({ ...d, size: d.size + 1 })).toThrow(
      expect.objectContaining({ code: 'E_SIZE_MISMATCH' }),
    );
    expect(() => layout.readManifest({ ...d, size: d.size - 1 })).toThrow(
      expect.objectContaining({ code: 'E_SIZE_MISMATCH' }),
    );
  });

  it('checks the size before hashing: a truncated blob is a size mismatch', () => {
    const fx = makeLayout({ blobs: imageBlobs() });
    const d = fx.d['manifest']!;
    const path = join(fx.root, 'blobs', 'sha256', d.digest.slice(7));
    writeFileSync(path, readFileSync(path).subarray(0, 10));
    expect(() => fx.open().readManifest(d)).toThrow(
      expect.objectContaining({ code: 'E_SIZE_MISMATCH' }),
    );
  });

  it('refuses a corrupted blob of the right size (E_DIGEST_MISMATCH)', () => {
    const fx = makeLayout({ blobs: imageBlobs() });
    const d = fx.d['manifest']!;
    const path = join(fx.root, 'blobs', 'sha256', d.digest.slice(7));
    const bytes = readFileSync(path);
    bytes[bytes.length - 2] = 0x20;
    writeFileSync(path, bytes);
    expect(() => fx.open().readManifest(d)).toThrow(
      expect.objectContaining({ code: 'E_DIGEST_MISMATCH' }),
    );
  });

  it('refuses a descriptor claiming more than 4 MiB before reading (E_TOO_LARGE)', () => {
    const fx = makeLayout({ blobs: imageBlobs() });
    expect(() => fx.open().readManifest({ ...fx.d['manifest']!, size: 5 * 1024 * 1024 })).toThrow(
      expect.objectContaining({ code: 'E_TOO_LARGE' }),
    );
  });

  it('getManifest returns the exact bytes, and checks them against the index.json size', () => {
    const fx = makeLayout({
      blobs: imageBlobs(),
      index: (d) => ({
        schemaVersion: 2,
        manifests: [tagged(d['manifest']!, 'ok'), tagged({ ...d['manifest']!, size: 1 }, 'lying')],
      }),
    });
    const layout = fx.open();
    const got = layout.getManifest({ tag: 'ok' });
    expect(digestOf(got.bytes)).toBe(fx.d['manifest']!.digest);
    expect(got.parsed.kind).toBe('manifest');
    expect(() => layout.getManifest({ tag: 'lying' })).toThrow(
      expect.objectContaining({ code: 'E_SIZE_MISMATCH' }),
    );
  });
});

describe('Layout.putManifest', () => {
  const blobsOnly = (): ReturnType<typeof makeLayout> =>
    makeLayout({ blobs: { config: { os: 'linux' }, layer: 'layer bytes' } });
  const manifestBytes = (d: Descs): Buffer =>
    Buffer.from(JSON.stringify(imageManifest(d['config']!, [d['layer']!])));

  it('stores, tags, and returns the descriptor', async () => {
    const fx = blobsOnly();
    const layout = fx.open();
    const bytes = manifestBytes(fx.d);
    const desc = await layout.putManifest(bytes, { tag: 'v1' });
    expect(desc).toEqual({
      mediaType: MediaType.ImageManifest,
      digest: digestOf(bytes),
      size: bytes.length,
    });
    expect(layout.resolve({ tag: 'v1' })).toEqual(tagged(desc, 'v1'));
    expect(readFileSync(layout.blobs.path(parseDigest(desc.digest)))).toEqual(bytes);
  });

  it('lists an untagged manifest once, however often it is put', async () => {
    const fx = blobsOnly();
    const layout = fx.open();
    const bytes = manifestBytes(fx.d);
    await layout.putManifest(bytes);
    await layout.putManifest(bytes);
    expect(layout.readIndex().manifests).toEqual([
      { mediaType: MediaType.ImageManifest, digest: digestOf(bytes), size: bytes.length },
    ]);
  });

  it('moves a tag in place and keeps the other entries in order', async () => {
    const fx = blobsOnly();
    const layout = fx.open();
    const one = Buffer.from(
      JSON.stringify(imageManifest(fx.d['config']!, [fx.d['layer']!], { annotations: { n: '1' } })),
    );
    const two = Buffer.from(
      JSON.stringify(imageManifest(fx.d['config']!, [fx.d['layer']!], { annotations: { n: '2' } })),
    );
    await layout.putManifest(one, { tag: 'a' });
    await layout.putManifest(one, { tag: 'b' });
    await layout.putManifest(one, { tag: 'c' });
    await layout.putManifest(two, { tag: 'b' });
    expect(refNames(layout)).toEqual(['a', 'b', 'c']);
    expect(layout.resolve({ tag: 'b' }).digest).toBe(digestOf(two));
  });

  it('records artifactType on the entry', async () => {
    const fx = blobsOnly();
    const layout = fx.open();
    const bytes = Buffer.from(
      JSON.stringify(
        imageManifest(fx.d['config']!, [fx.d['layer']!], {
          artifactType: 'application/vnd.example',
        }),
      ),
    );
    expect((await layout.putManifest(bytes, { tag: 'art' })).artifactType).toBe(
      'application/vnd.example',
    );
    expect(layout.resolve({ tag: 'art' }).artifactType).toBe('application/vnd.example');
  });

  it('refuses a manifest whose config or layer is missing (E_NOT_FOUND), unless allowMissing', async () => {
    const fx = makeLayout({ blobs: { config: { os: 'linux' } } });
    const layout = fx.open();
    const layer = { mediaType: MediaType.Layer, digest: digestOf('absent'), size: 6 };
    const bytes = Buffer.from(JSON.stringify(imageManifest(fx.d['config']!, [layer])));
    const before = layoutSnapshot(fx.root);
    await expect(layout.putManifest(bytes, { tag: 'v1' })).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
      details: { digest: layer.digest },
    });
    expect(layoutSnapshot(fx.root)).toEqual(before);
    await layout.putManifest(bytes, { tag: 'v1', allowMissing: true });
    expect(layout.tags()).toEqual(['v1']);
  });

  it('leases the blobs it checks, so gc keeps them until the commit', () => {
    const fx = blobsOnly();
    const layout = fx.open();
    const parsed = parseManifest(manifestBytes(fx.d), 'm');
    layout.assertSuccessorsPresent(parsed);
    expect(liveLeasedDigests(fx.root)).toEqual(
      new Set([fx.d['config']!.digest, fx.d['layer']!.digest]),
    );
    layout.close();
  });

  it('trusts a missing blob only once confirmed under the lock (gc may have parked it)', async () => {
    const fx = makeLayout({ blobs: { config: { os: 'linux' } } });
    const layout = fx.open();
    const layerBytes = Buffer.from('parked by gc');
    const layer = {
      mediaType: MediaType.Layer,
      digest: digestOf(layerBytes),
      size: layerBytes.length,
    };
    const bytes = Buffer.from(JSON.stringify(imageManifest(fx.d['config']!, [layer])));
    let put: Promise<unknown> | undefined;
    await layout.updateIndex(async () => {
      // While "gc" holds the lock the layer is absent; it is back before the lock is released.
      put = layout.putManifest(bytes, { tag: 'v1' });
      await new Promise((r) => setTimeout(r, 50));
      layout.blobs.putBytes(layerBytes);
      return { index: undefined, result: undefined };
    });
    await put;
    expect(layout.resolve({ tag: 'v1' }).digest).toBe(digestOf(bytes));
  });

  it('refuses an index whose child manifest is missing (E_NOT_FOUND)', async () => {
    const layout = blobsOnly().open();
    const child = { mediaType: MediaType.ImageManifest, digest: digestOf('nope'), size: 4 };
    await expect(
      layout.putManifest(Buffer.from(JSON.stringify(imageIndex([child]))), { tag: 'multi' }),
    ).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });

  it.each([
    ['invalid JSON', Buffer.from('{"schemaVersion":2,'), 'E_INVALID_JSON'],
    ['a manifest without layers', Buffer.from('{"schemaVersion":2,"config":{}}'), 'E_SCHEMA'],
    ['schemaVersion 1', Buffer.from('{"schemaVersion":1,"layers":[],"config":{}}'), 'E_SCHEMA'],
    ['over 4 MiB', Buffer.alloc(4 * 1024 * 1024 + 1, 0x20), 'E_TOO_LARGE'],
  ])('refuses %s, leaving the layout unchanged', async (_name, bytes, code) => {
    const fx = blobsOnly();
    const before = layoutSnapshot(fx.root);
    await expect(fx.open().putManifest(bytes, { tag: 'v1' })).rejects.toMatchObject({ code });
    expect(layoutSnapshot(fx.root)).toEqual(before);
  });

  it('refuses an invalid tag before storing anything (E_INVALID_TAG)', async () => {
    const fx = blobsOnly();
    const before = layoutSnapshot(fx.root);
    await expect(
      fx.open().putManifest(manifestBytes(fx.d), { tag: 'bad tag' }),
    ).rejects.toMatchObject({
      code: 'E_INVALID_TAG',
    });
    expect(layoutSnapshot(fx.root)).toEqual(before);
  });

  it('stores an unlisted manifest without touching index.json', async () => {
    const fx = blobsOnly();
    const layout = fx.open();
    const before = fx.indexText();
    const desc = await layout.putManifest(manifestBytes(fx.d), { unlisted: true });
    expect(fx.indexText()).toBe(before);
    expect(layout.resolve({ digest: desc.digest }).digest).toBe(desc.digest);
  });
});

describe('Layout tags', () => {
  const fixture = (): ReturnType<typeof makeLayout> =>
    makeLayout({
      blobs: imageBlobs(),
      index: (d) => ({ schemaVersion: 2, manifests: [tagged(d['manifest']!, 'v1')] }),
    });

  it('tags what a tag or digest resolves to, with several tags at once', async () => {
    const fx = fixture();
    const layout = fx.open();
    await layout.tag({ tag: 'v1' }, ['latest', 'stable']);
    expect(layout.tags()).toEqual(['latest', 'stable', 'v1']);
    expect(layout.resolve({ tag: 'stable' }).digest).toBe(fx.d['manifest']!.digest);
  });

  it('refuses an invalid tag and changes nothing', async () => {
    const fx = fixture();
    const before = layoutSnapshot(fx.root);
    await expect(fx.open().tag({ tag: 'v1' }, ['ok', '-bad'])).rejects.toMatchObject({
      code: 'E_INVALID_TAG',
    });
    expect(layoutSnapshot(fx.root)).toEqual(before);
  });

  it('untags, and fails with E_NOT_FOUND for an absent tag', async () => {
    const fx = fixture();
    const layout = fx.open();
    const removed = await layout.untag('v1');
    expect(removed.map((e) => e.digest)).toEqual([fx.d['manifest']!.digest]);
    expect(layout.tags()).toEqual([]);
    expect(layout.blobs.has(parseDigest(fx.d['manifest']!.digest))).toBe(true); // gc's job
    const before = layoutSnapshot(fx.root);
    await expect(layout.untag('v1')).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    expect(layoutSnapshot(fx.root)).toEqual(before);
  });
});

it('Layout.close releases the gc lease taken outside operations; operations release their own', async () => {
  const fx = makeLayout({ blobs: { config: { os: 'linux' }, layer: 'x' } });
  const layout = fx.open();
  const leases = (): string[] => readdirSync(layout.ingestPath).filter((n) => n.endsWith('.lease'));
  await layout.putManifest(
    Buffer.from(JSON.stringify(imageManifest(fx.d['config']!, [fx.d['layer']!]))),
  );
  expect(leases()).toEqual([]); // putManifest is an operation: its lease went with it
  const bytes = Buffer.from('loose blob');
  layout.blobs.putBytes(bytes, { digest: digestOf(bytes), size: bytes.length });
  expect(leases()).toHaveLength(1);
  layout.close();
  expect(leases()).toEqual([]);
  expect(existsSync(layout.ingestPath)).toBe(true);
});
