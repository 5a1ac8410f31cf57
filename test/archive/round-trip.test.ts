// layout → export → import: the same index.json entries and the same referrer sets, for every peer
// shape and every referrer convention; and import into a layout that uses another convention
// records the archive's referrers in the target's convention.
import { readdirSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import {
  Annotation,
  CONVENTION_NAMES,
  Layout,
  attach,
  detectConventions,
  exportArchive,
  referrerGraph,
  type ConventionName,
  type Descriptor,
  type ExportOptions,
  MediaType,
} from '../../src/internal.js';
import { tmpDir } from '../helpers/tmp.js';
import { PEERS, copyOfPeer, importBytes, peer, readJson } from './fixtures.js';

const FIXTURES = readdirSync(PEERS).filter((n) => statSync(join(PEERS, n)).isDirectory());
const V1 = 'sha256:759431f268db4566be0168dfa99963818ccf3858ff70891464a79cd926e497f1';

async function exportBytes(dir: string, options: ExportOptions = {}): Promise<Buffer> {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  await exportArchive(dir, sink, options);
  return Buffer.concat(chunks);
}

function entries(dir: string): Descriptor[] {
  return (readJson(join(dir, 'index.json')) as { manifests: Descriptor[] }).manifests;
}

/** subject → sorted referrer digests, over the whole layout. */
function referrerSets(dir: string): Record<string, string[]> {
  const graph = referrerGraph(Layout.open(dir));
  return Object.fromEntries(
    graph.subjects().map((s) => [s, graph.referrersOf(s).map((d) => d.digest)]),
  );
}

describe('round trip of whole layouts', () => {
  it.each(FIXTURES)('%s', async (name) => {
    const src = peer(name);
    const dir = join(tmpDir(), 'copy');
    await importBytes(await exportBytes(src), dir);
    // Every entry comes back; a full name only ref.name or only io.containerd.image.name held is
    // written into both (export completes names for ctr and podman), nothing else changes.
    const unnamed = (d: string): unknown[] =>
      entries(d).map((e) => {
        const {
          [Annotation.RefName]: _r,
          [Annotation.ContainerdImageName]: _c,
          ...rest
        } = e.annotations ?? {};
        return { ...e, annotations: rest };
      });
    expect(unnamed(dir)).toEqual(unnamed(src));
    expect(Layout.open(dir).tags()).toEqual(Layout.open(src).tags());
    expect(referrerSets(dir)).toEqual(referrerSets(src));
    expect(detectConventions(Layout.open(dir))).toEqual(detectConventions(Layout.open(src)));
    // Top-level fields (olareg's convert flags and history...) come along into a new layout.
    const top = (d: string): object => {
      const {
        manifests: _m,
        mediaType: _t,
        ...rest
      } = readJson(join(d, 'index.json')) as Record<string, unknown>;
      return rest;
    };
    expect(top(dir)).toEqual(top(src));
  });
});

describe('round trip of one ref with --referrers, per convention', () => {
  it.each([
    ['regctl-style', 'v1', ['fallback-tag']],
    ['olareg-style', 'v1', ['subject-annotation']],
    ['oras-style', 'v1', ['per-manifest']],
    ['containerd-export-style', 'v1', ['per-manifest']],
    ['cosign-save-style', V1, ['per-manifest']],
  ] as [string, string, ConventionName[]][])('%s', async (name, ref, conventions) => {
    const src = peer(name);
    const dir = join(tmpDir(), 'copy');
    await importBytes(await exportBytes(src, { refs: [ref], referrers: true }), dir);
    const want = referrerGraph(Layout.open(src)).referrersOf(V1);
    expect(want.length).toBeGreaterThan(0);
    expect(referrerGraph(Layout.open(dir)).referrersOf(V1)).toEqual(want);
    expect(detectConventions(Layout.open(dir))).toEqual(conventions);
  });

  it('without --referrers, no referrers travel', async () => {
    const dir = join(tmpDir(), 'copy');
    await importBytes(await exportBytes(peer('regctl-style'), { refs: ['v1'] }), dir);
    expect(referrerGraph(Layout.open(dir)).referrersOf(V1)).toEqual([]);
    expect(entries(dir)).toHaveLength(1);
  });

  it('follows referrers of referrers, recursively', async () => {
    const src = copyOfPeer('oras-style');
    const layout = Layout.open(src);
    const sig = 'sha256:ebe2a4b108f569effe7d040e777bc9abace8c1d35c826801be064adc510c0567';
    const file = join(tmpDir(), 'note.txt');
    writeFileSync(file, 'a signature of the signature');
    const nested = await attach(layout, { digest: sig }, [{ path: file }], {
      artifactType: 'application/vnd.example.countersign',
    });
    const dir = join(tmpDir(), 'copy');
    await importBytes(await exportBytes(src, { refs: ['v1'], referrers: true }), dir);
    const graph = referrerGraph(Layout.open(dir));
    expect(graph.referrersOf(sig).map((d) => d.digest)).toEqual([nested.descriptor.digest]);
  });

  it.each([
    ['umoci-image', ['per-manifest']],
    ['regctl-style', ['fallback-tag']],
  ] as [string, ConventionName[]][])(
    'records a referrer listed only inside an unexported index in the layout’s convention (%s)',
    async (name, conventions) => {
      const src = copyOfPeer(name);
      const layout = Layout.open(src);
      const config = layout.blobs.putBytes(Buffer.from('{}'));
      const referrer = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.ImageManifest,
          artifactType: 'application/vnd.example.nested',
          config: { mediaType: MediaType.Empty, digest: config.digest, size: config.size },
          layers: [{ mediaType: MediaType.Empty, digest: config.digest, size: config.size }],
          subject: { mediaType: MediaType.ImageManifest, digest: V1, size: 499 },
        }),
      );
      const r = layout.blobs.putBytes(referrer);
      const bundle = {
        schemaVersion: 2,
        mediaType: MediaType.ImageIndex,
        manifests: [
          { mediaType: MediaType.ImageManifest, digest: V1, size: 499 },
          { mediaType: MediaType.ImageManifest, digest: r.digest, size: r.size },
        ],
      };
      await layout.putManifest(Buffer.from(JSON.stringify(bundle)), { tag: 'bundle' });
      const want = referrerGraph(layout)
        .referrersOf(V1)
        .map((d) => d.digest);
      expect(want).toContain(r.digest);
      const blobsBefore = layout.blobs.list().blobs;
      const dir = join(tmpDir(), 'copy');
      await importBytes(await exportBytes(src, { refs: [V1], referrers: true }), dir);
      expect(
        referrerGraph(Layout.open(dir))
          .referrersOf(V1)
          .map((d) => d.digest),
      ).toEqual(want);
      expect(detectConventions(Layout.open(dir))).toEqual(conventions);
      // Any new referrers index went into the archive from memory, never into the source layout.
      expect(Layout.open(src).blobs.list().blobs).toEqual(blobsBefore);
    },
  );
});

describe('import merges referrers into the target’s convention', () => {
  it.each([
    ['oras-style', 'regctl-style'],
    ['regctl-style', 'oras-style'],
    ['regctl-style', 'olareg-style'],
    ['olareg-style', 'containerd-export-style'],
  ])('archive from %s into a %s target', async (from, into) => {
    const target = copyOfPeer(into);
    const before = detectConventions(Layout.open(target));
    const union = new Set([
      ...referrerGraph(Layout.open(target))
        .referrersOf(V1)
        .map((d) => d.digest),
      ...referrerGraph(Layout.open(peer(from)))
        .referrersOf(V1)
        .map((d) => d.digest),
    ]);
    const r = await importBytes(
      await exportBytes(peer(from), { refs: ['v1'], referrers: true }),
      target,
    );
    expect(r.merge.conventions.every((c) => (CONVENTION_NAMES as string[]).includes(c))).toBe(true);
    expect(detectConventions(Layout.open(target))).toEqual(before);
    const after = referrerGraph(Layout.open(target))
      .referrersOf(V1)
      .map((d) => d.digest);
    expect(new Set(after)).toEqual(union);
  });
});
