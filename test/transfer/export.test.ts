import { randomBytes } from 'node:crypto';
import {
  existsSync,
  readdirSync,
  readFileSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Writable } from 'node:stream';
import { gunzipSync } from 'node:zlib';
import * as tar from 'tar-stream';
import { describe, expect, it } from 'vitest';
import {
  Annotation,
  Layout,
  MediaType,
  digestOf,
  exportArchive,
  pushFiles,
  type Descriptor,
  type IndexFile,
} from '../../src/internal.js';
import { zstdAvailable } from '../../src/archive/compression.js';
import { newIndex } from '../../src/archive/export-entries.js';
import { planExport } from '../../src/transfer/export.js';
import { unzst } from '../helpers/make-tar.js';
import { externalLayerLayout, type MadeLayout } from '../helpers/make-layout.js';
import { tmpDir } from '../helpers/tmp.js';
import {
  cosignFixture,
  putArtifact,
  putImage,
  putIndex,
  setEntries,
  signedImage,
  SIG,
  tagEntry,
} from '../referrers/helpers.js';
import type { Digest } from '../../src/digest.js';
import { copyOfPeer, peer, readJson, refsLayout as layout } from '../archive/fixtures.js';

interface TarItem {
  name: string;
  type: string;
  mode: number;
  uid: number;
  gid: number;
  mtime: number;
  uname: string;
  gname: string;
  body: Buffer;
}

async function listTar(bytes: Buffer): Promise<TarItem[]> {
  const extract = tar.extract();
  const items: TarItem[] = [];
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      const h = entry.header;
      items.push({
        name: h.name,
        type: h.type,
        mode: h.mode,
        uid: h.uid,
        gid: h.gid,
        mtime: h.mtime.getTime(),
        uname: h.uname,
        gname: h.gname,
        body: Buffer.concat(chunks),
      });
    }
  })();
  extract.end(bytes);
  await done;
  return items;
}

async function exportToBuffer(layout: string, options = {}): Promise<Buffer> {
  const sink = new PassThrough();
  const chunks: Buffer[] = [];
  sink.on('data', (c: Buffer) => chunks.push(c));
  await exportArchive(layout, sink, options);
  return Buffer.concat(chunks);
}

function entriesOf(items: TarItem[]): Descriptor[] {
  const index = items.find((i) => i.name === 'index.json')!.body.toString();
  return (JSON.parse(index) as { manifests: Descriptor[] }).manifests;
}

describe('exportArchive (oci)', () => {
  it('is deterministic: same layout, same bytes, whatever the files’ mtimes', async () => {
    const src = copyOfPeer('umoci-multitag');
    const a = await exportToBuffer(src);
    for (const name of readdirSync(join(src, 'blobs/sha256'))) {
      utimesSync(join(src, 'blobs/sha256', name), new Date(), new Date());
    }
    const b = await exportToBuffer(src);
    expect(b.equals(a)).toBe(true);
  });

  it('writes sorted names, fixed metadata, no ./ prefix, and the index.json bytes as they are', async () => {
    const src = peer('umoci-multitag'); // bare tags only: nothing to complete
    const items = await listTar(await exportToBuffer(src));
    const names = items.map((i) => i.name);
    expect(names).toEqual([...names].sort());
    expect(names[0]).toBe('blobs/');
    expect(names.slice(-2)).toEqual(['index.json', 'oci-layout']);
    for (const i of items) {
      expect(i).toMatchObject({ uid: 0, gid: 0, mtime: 0, uname: '', gname: '' });
      expect(i.mode).toBe(i.type === 'directory' ? 0o755 : 0o644);
      expect(i.name.startsWith('./')).toBe(false);
    }
    const index = items.find((i) => i.name === 'index.json')!.body;
    expect(index.equals(readFileSync(join(src, 'index.json')))).toBe(true);
    for (const i of items.filter((x) => x.name.startsWith('blobs/sha256/') && x.type === 'file')) {
      expect(digestOf(i.body)).toBe(`sha256:${i.name.slice('blobs/sha256/'.length)}`);
    }
  });

  it('carries the blobs reachable from index.json, not strays', async () => {
    const src = copyOfPeer('umoci-image');
    const stray = Buffer.from('garbage nobody references');
    Layout.open(src).blobs.putBytes(stray);
    const items = await listTar(await exportToBuffer(src));
    expect(items.some((i) => i.name.endsWith(digestOf(stray).slice(7)))).toBe(false);
    const blobs = items.filter((i) => i.type === 'file' && i.name.startsWith('blobs/'));
    expect(blobs).toHaveLength(4);
  });

  it('with --ref: only those manifests, a full name kept in full, with their other annotations', async () => {
    const src = peer('skopeo-layout'); // ref.name "example.com/peer/app:2.0" among others
    const items = await listTar(await exportToBuffer(src, { refs: ['2.0', 'v1'] }));
    const entries = entriesOf(items);
    expect(entries.map((e) => e.annotations?.[Annotation.RefName])).toEqual([
      'example.com/peer/app:2.0',
      'v1',
    ]);
    expect(entries[0]!.annotations?.[Annotation.ContainerdImageName]).toBe(
      'example.com/peer/app:2.0',
    );
    expect(entries[1]!.annotations?.[Annotation.ContainerdImageName]).toBeUndefined();
  });

  it('whole layout: completes a full name into both annotations, every other field as it was', async () => {
    const src = peer('skopeo-layout');
    const stored = (JSON.parse(readFileSync(join(src, 'index.json'), 'utf8')) as IndexFile)
      .manifests;
    const entries = entriesOf(await listTar(await exportToBuffer(src)));
    expect(entries).toHaveLength(stored.length);
    entries.forEach((e, i) => {
      const before = stored[i]!;
      const name = before.annotations?.[Annotation.RefName];
      const full = name !== undefined && /[:/@]/.test(name);
      expect(e).toEqual(
        full
          ? {
              ...before,
              annotations: { ...before.annotations, [Annotation.ContainerdImageName]: name },
            }
          : before,
      );
    });
    expect(entries.some((e) => e.annotations?.[Annotation.ContainerdImageName] !== undefined)).toBe(
      true,
    );
  });

  it('whole layout: an appender’s duplicate name goes as it is; --name folding two images is E_USAGE', async () => {
    const src = copyOfPeer('umoci-multitag');
    const stored = (JSON.parse(readFileSync(join(src, 'index.json'), 'utf8')) as IndexFile)
      .manifests;
    const digests = [...new Set(stored.map((e) => e.digest))];
    // Two different images under one bare name (crane appends), then export the whole layout.
    const dup = stored.filter((e) => e.annotations?.[Annotation.RefName] !== undefined);
    const twice = [
      { ...dup[0]!, annotations: { [Annotation.RefName]: 'same' } },
      {
        ...stored.find((e) => e.digest !== dup[0]!.digest)!,
        annotations: { [Annotation.RefName]: 'same' },
      },
    ];
    writeFileSync(join(src, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests: twice }));
    expect(entriesOf(await listTar(await exportToBuffer(src)))).toEqual(twice);
    expect(digests.length).toBeGreaterThan(1);
    await expect(exportToBuffer(src, { name: 'example.com/app' })).rejects.toMatchObject({
      code: 'E_USAGE',
    });
  });

  it('--name: bare tags as NAME:TAG in both annotations (oci)', async () => {
    const src = peer('umoci-multitag');
    const entries = entriesOf(
      await listTar(await exportToBuffer(src, { name: 'example.com/app' })),
    );
    for (const e of entries) {
      const n = e.annotations?.[Annotation.RefName];
      if (n === undefined) continue;
      expect(n).toMatch(/^example\.com\/app:/);
      expect(e.annotations?.[Annotation.ContainerdImageName]).toBe(n);
    }
  });

  it('with a digest ref: the listed entry as it is', async () => {
    const src = peer('umoci-multitag');
    const d = 'sha256:54fed2f1b01e08e681520b650bbb365a8bf75f8c5dabb1cb95a4e7f5b6f56085';
    const items = await listTar(await exportToBuffer(src, { refs: [d] }));
    expect(entriesOf(items).map((e) => e.digest)).toEqual([d]);
    expect(items.filter((i) => i.type === 'file' && i.name.startsWith('blobs/'))).toHaveLength(3);
  });

  it('refuses an unknown ref (E_NOT_FOUND) and writes nothing', async () => {
    const dir = tmpDir();
    await expect(
      exportArchive(peer('umoci-image'), join(dir, 'x.tar'), { refs: ['nope'] }),
    ).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
    });
    expect(readdirSync(dir)).toEqual([]);
  });

  it('fails with E_IO, and does not hang, when the stream destination fails midway', async () => {
    // The tar writer used to wait for a 'close' the destroyed entry had already emitted: the
    // export never settled and a CLI `export - > /dev/full` exited 0 with nothing written.
    // A blob over the in-memory limit, so it is streamed into the tar (where the wait was).
    const dir = tmpDir();
    writeFileSync(join(dir, 'big.bin'), randomBytes(3 * 1024 * 1024));
    const src = join(dir, 'layout');
    await pushFiles(Layout.init(src).layout, [{ path: join(dir, 'big.bin') }], { tag: 'v1' });
    const sink = new Writable({
      write: (_chunk, _enc, cb) => cb(Object.assign(new Error('ENOSPC: full'), { code: 'ENOSPC' })),
    });
    sink.on('error', () => undefined);
    await expect(exportArchive(src, sink)).rejects.toMatchObject({
      code: 'E_IO',
      details: { errno: 'ENOSPC' },
    });
  }, 10_000);

  it('refuses a layout missing a blob, and a corrupt blob, leaving the destination as it was', async () => {
    const src = copyOfPeer('umoci-image');
    const dir = tmpDir();
    const out = join(dir, 'out.tar');
    writeFileSync(out, 'previous archive');
    const layer = join(
      src,
      'blobs/sha256/0866fe05a325655cfcf589bebd35ebe79ec59456d9bab004ccaf01af114bf59a',
    );
    const bytes = readFileSync(layer);
    bytes[bytes.length - 1] = bytes[bytes.length - 1]! ^ 1;
    writeFileSync(layer, bytes);
    await expect(exportArchive(src, out)).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH' });
    expect(readFileSync(out, 'utf8')).toBe('previous archive');
    expect(readdirSync(dir)).toEqual(['out.tar']);
    writeFileSync(layer, ''); // wrong size now
    await expect(exportArchive(src, out)).rejects.toMatchObject({ code: 'E_SIZE_MISMATCH' });
    Layout.open(src).blobs.delete(
      'sha256:0866fe05a325655cfcf589bebd35ebe79ec59456d9bab004ccaf01af114bf59a' as never,
    );
    await expect(exportArchive(src, out)).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    expect(readFileSync(out, 'utf8')).toBe('previous archive');
  });

  it('streams big blobs (several MiB) intact', async () => {
    const dir = tmpDir();
    const { layout } = Layout.init(join(dir, 'big'));
    const big = Buffer.alloc(5 * 1024 * 1024 + 123, 7);
    const layer = layout.blobs.putBytes(big);
    const config = layout.blobs.putBytes(Buffer.from('{"rootfs":{"type":"layers","diff_ids":[]}}'));
    const manifest = {
      schemaVersion: 2,
      mediaType: MediaType.ImageManifest,
      config: { mediaType: MediaType.ImageConfig, digest: config.digest, size: config.size },
      layers: [{ mediaType: MediaType.Layer, digest: layer.digest, size: layer.size }],
    };
    await layout.putManifest(Buffer.from(JSON.stringify(manifest)), { tag: 'big' });
    const items = await listTar(await exportToBuffer(layout.root));
    const got = items.find((i) => i.name === `blobs/sha256/${layer.digest.slice(7)}`)!;
    expect(got.body.equals(big)).toBe(true);
    // A corrupt big blob fails while streaming: no archive appears.
    const corrupt = Buffer.from(big);
    corrupt[3 * 1024 * 1024] = 8;
    writeFileSync(layout.blobs.path(layer.digest), corrupt);
    const out = join(dir, 'big.tar');
    await expect(exportArchive(layout.root, out)).rejects.toMatchObject({
      code: 'E_DIGEST_MISMATCH',
    });
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir)).toEqual(['big']);
  });

  it('checks a blob past 32 MiB (hashed on a worker) before the archive is renamed into place', async () => {
    const dir = tmpDir();
    const { layout } = Layout.init(join(dir, 'big'));
    // Random bytes: a chunk read into a buffer still being written out would show in the output.
    const big = randomBytes(33 * 1024 * 1024 + 5);
    const mid = randomBytes(3 * 1024 * 1024 + 7);
    const layers = [layout.blobs.putBytes(big), layout.blobs.putBytes(mid)];
    const config = layout.blobs.putBytes(Buffer.from('{"rootfs":{"type":"layers","diff_ids":[]}}'));
    const manifest = {
      schemaVersion: 2,
      mediaType: MediaType.ImageManifest,
      config: { mediaType: MediaType.ImageConfig, digest: config.digest, size: config.size },
      layers: layers.map((l) => ({ mediaType: MediaType.Layer, digest: l.digest, size: l.size })),
    };
    await layout.putManifest(Buffer.from(JSON.stringify(manifest)), { tag: 'big' });
    const out = join(dir, 'big.tar');
    await exportArchive(layout.root, out);
    // The file (buffers reused) holds the same bytes as the stream (fresh buffers), and both the blobs.
    const archive = readFileSync(out);
    expect(archive.equals(await exportToBuffer(layout.root))).toBe(true);
    const items = await listTar(archive);
    const body = (l: { digest: string }): Buffer =>
      items.find((i) => i.name === `blobs/sha256/${l.digest.slice(7)}`)!.body;
    // .equals, not toEqual: a deep comparison of 33 MiB runs the test process out of memory.
    expect(body(layers[0]!).equals(big)).toBe(true);
    expect(body(layers[1]!).equals(mid)).toBe(true);

    const path = layout.blobs.path(layers[0]!.digest);
    const corrupt = Buffer.from(big);
    corrupt[20 * 1024 * 1024] = corrupt[20 * 1024 * 1024]! ^ 1;
    writeFileSync(path, corrupt);
    await expect(exportArchive(layout.root, out)).rejects.toMatchObject({
      code: 'E_DIGEST_MISMATCH',
    });
    expect(readFileSync(out).equals(archive)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['big', 'big.tar']);
    // Onto a stream, the tar stops after the bad blob: index.json (named after blobs/) never comes.
    const sink = new PassThrough();
    const sent: Buffer[] = [];
    sink.on('data', (c: Buffer) => sent.push(c));
    await expect(exportArchive(layout.root, sink)).rejects.toMatchObject({
      code: 'E_DIGEST_MISMATCH',
    });
    expect(Buffer.concat(sent).includes('index.json')).toBe(false);
    // One byte more: refused before a byte past the declared size reaches the tar.
    writeFileSync(path, Buffer.concat([big, Buffer.from([0])]));
    await expect(exportArchive(layout.root, out)).rejects.toMatchObject({
      code: 'E_SIZE_MISMATCH',
    });
    expect(readFileSync(out).equals(archive)).toBe(true);
    expect(readdirSync(dir).sort()).toEqual(['big', 'big.tar']);
  }, 30_000);

  it('gzips deterministically, and the gzip holds the same tar', async () => {
    const src = peer('umoci-image');
    const plain = await exportToBuffer(src);
    const a = await exportToBuffer(src, { gzip: true });
    const b = await exportToBuffer(src, { gzip: true });
    expect(a.equals(b)).toBe(true);
    expect(gunzipSync(a).equals(plain)).toBe(true);
  });

  it('gzips at level 1 unless told otherwise, and refuses a level outside 1 to 9', async () => {
    const src = peer('umoci-image');
    const dflt = await exportToBuffer(src, { gzip: true });
    expect(dflt.equals(await exportToBuffer(src, { gzip: true, gzipLevel: 1 }))).toBe(true);
    const nine = await exportToBuffer(src, { gzip: true, gzipLevel: 9 });
    expect(gunzipSync(nine).equals(gunzipSync(dflt))).toBe(true);
    expect(nine.equals(dflt)).toBe(false);
    for (const gzipLevel of [0, 10, 1.5]) {
      await expect(exportToBuffer(src, { gzip: true, gzipLevel })).rejects.toMatchObject({
        code: 'E_USAGE',
      });
    }
    await expect(exportToBuffer(src, { gzipLevel: 6 })).rejects.toMatchObject({
      code: 'E_USAGE',
      message: '--gzip-level needs --gzip',
    });
  });

  // The layer starts like a gzip stream but is zeros after that: deflate would shrink it to
  // almost nothing, so finding its bytes in the archive as they are proves it was stored, not
  // deflated again. (A real gzip layer is random-looking, and deflate stores much of that anyway.)
  it.each([
    ['streamed', 3 * 1024 * 1024 + 100],
    ['read whole', 200 * 1024],
  ])(
    'stores a blob compressed already (%s) in the gzip as it is, and counts it',
    async (_how, size) => {
      const dir = tmpDir();
      const layer = Buffer.alloc(size);
      layer.set([0x1f, 0x8b, 0x08, 0x00]);
      writeFileSync(join(dir, 'layer.tar.gz'), layer);
      writeFileSync(join(dir, 'notes.txt'), 'plain text '.repeat(1000));
      const src = join(dir, 'layout');
      await pushFiles(
        Layout.init(src).layout,
        [
          { path: join(dir, 'layer.tar.gz'), mediaType: MediaType.LayerGzip },
          { path: join(dir, 'notes.txt') },
        ],
        { tag: 'v1' },
      );
      const out = join(dir, 'x.tar.gz');
      const r = await exportArchive(src, out, { gzip: true });
      expect(r.precompressed).toEqual({ blobs: 1, bytes: size });
      const archive = readFileSync(out);
      expect(archive.includes(layer.subarray(0, 32 * 1024))).toBe(true);
      expect(archive.length).toBeGreaterThan(size);
      expect(archive.includes(Buffer.from('plain text plain text'))).toBe(false); // deflated
      const tarBytes = gunzipSync(archive);
      expect(tarBytes.equals(await exportToBuffer(src))).toBe(true);
      const body = (await listTar(tarBytes)).find((i) => i.name.endsWith(digestOf(layer).slice(7)));
      expect(body?.body.equals(layer)).toBe(true);
      // Deterministic with its members too; and nothing is counted without --gzip.
      expect((await exportToBuffer(src, { gzip: true })).equals(archive)).toBe(true);
      expect((await exportArchive(src, join(dir, 'x.tar'))).precompressed).toBeUndefined();
    },
    20_000,
  );

  it.runIf(zstdAvailable())(
    'zstds deterministically, and the zstd holds the same tar',
    async () => {
      const src = peer('umoci-image');
      const plain = await exportToBuffer(src);
      const a = await exportToBuffer(src, { zstd: true });
      const b = await exportToBuffer(src, { zstd: true });
      expect(a.equals(b)).toBe(true);
      expect(a.subarray(0, 4)).toEqual(Buffer.from([0x28, 0xb5, 0x2f, 0xfd]));
      expect(unzst(a).equals(plain)).toBe(true);
    },
  );

  it.runIf(!zstdAvailable())(
    'refuses zstd on a runtime without it (E_USAGE), before writing anything',
    async () => {
      const out = join(tmpDir(), 'x.tar.zst');
      await expect(exportArchive(peer('umoci-image'), out, { zstd: true })).rejects.toMatchObject({
        code: 'E_USAGE',
        message: expect.stringContaining('needs Node.js 22.15 or later'),
      });
      // The runtime is judged before the layout: the same refusal for a path that is no layout.
      await expect(
        exportArchive(join(tmpDir(), 'none'), out, { zstd: true }),
      ).rejects.toMatchObject({ code: 'E_USAGE' });
      expect(existsSync(out)).toBe(false);
    },
  );

  it('refuses --gzip with --zstd', async () => {
    const out = join(tmpDir(), 'x.tar');
    await expect(
      exportArchive(peer('umoci-image'), out, { gzip: true, zstd: true }),
    ).rejects.toMatchObject({ code: 'E_USAGE' });
    expect(existsSync(out)).toBe(false);
  });

  it('writes the same bytes to a file as to a stream', async () => {
    const src = peer('umoci-multitag');
    const out = join(tmpDir(), 'x.tar');
    const r = await exportArchive(src, out);
    expect(readFileSync(out).equals(await exportToBuffer(src))).toBe(true);
    expect(r.archiveBytes).toBe(readFileSync(out).length);
    expect(existsSync(out)).toBe(true);
  });
});

describe('exportArchive (docker)', () => {
  it('writes manifest.json, repositories and an OCI index for every tagged image', async () => {
    const src = peer('umoci-multitag');
    const items = await listTar(
      await exportToBuffer(src, { format: 'docker', name: 'example.com/app' }),
    );
    const manifest = JSON.parse(items.find((i) => i.name === 'manifest.json')!.body.toString()) as {
      Config: string;
      RepoTags: string[];
      Layers: string[];
    }[];
    expect(manifest.flatMap((m) => m.RepoTags).sort()).toEqual(
      ['arm', 'latest', 'stable', 'v1', 'v2'].map((t) => `example.com/app:${t}`),
    );
    for (const m of manifest) {
      for (const p of [m.Config, ...m.Layers]) expect(items.some((i) => i.name === p)).toBe(true);
    }
    const repos = JSON.parse(
      items.find((i) => i.name === 'repositories')!.body.toString(),
    ) as Record<string, object>;
    expect(Object.keys(repos)).toEqual(['example.com/app']);
    const entries = entriesOf(items);
    expect(
      entries.every((e) =>
        e.annotations?.[Annotation.ContainerdImageName]?.startsWith('example.com/app:'),
      ),
    ).toBe(true);
  });

  it('names images after the layout directory by default', async () => {
    const src = copyOfPeer('umoci-image', join(tmpDir(), 'My Layout_Dir'));
    const items = await listTar(await exportToBuffer(src, { format: 'docker', refs: ['v1'] }));
    const manifest = JSON.parse(items.find((i) => i.name === 'manifest.json')!.body.toString()) as {
      RepoTags: string[];
    }[];
    expect(manifest[0]?.RepoTags).toEqual(['umoci-image:v1']);
  });

  it('refuses an artifact by name, and skips artifacts (with a warning) when exporting every tag', async () => {
    const src = copyOfPeer('oras-style');
    const layout = Layout.open(src);
    await layout.tag(
      { digest: 'sha256:ebe2a4b108f569effe7d040e777bc9abace8c1d35c826801be064adc510c0567' },
      ['sig'],
    );
    await expect(exportToBuffer(src, { format: 'docker', refs: ['sig'] })).rejects.toMatchObject({
      code: 'E_UNSUPPORTED_MEDIA_TYPE',
    });
    const r = await exportArchive(src, join(tmpDir(), 'd.tar'), { format: 'docker' });
    expect(r.repoTags).toEqual(['oras-style:v1']);
    expect(r.warnings.join('\n')).toContain('sig');
  });

  it('refuses an image with a non-distributable layer the layout lacks, and writes nothing', async () => {
    const m = externalLayerLayout();
    const out = join(tmpDir(), 'd.tar');
    await expect(
      exportArchive(m.root, out, { format: 'docker', refs: ['win'] }),
    ).rejects.toMatchObject({ code: 'E_UNSUPPORTED_MEDIA_TYPE' });
    expect(existsSync(out)).toBe(false);
  });

  it('picks one platform from a multi-platform index, or refuses clearly', async () => {
    const src = copyOfPeer('umoci-multitag');
    const layout = Layout.open(src);
    const amd = {
      ...layout.resolve({ tag: 'v2' }),
      platform: { architecture: 'amd64', os: 'linux' },
    };
    const arm = {
      ...layout.resolve({ tag: 'arm' }),
      platform: { architecture: 'arm64', os: 'linux' },
    };
    for (const d of [amd, arm]) delete d.annotations;
    const index = { schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: [amd, arm] };
    await layout.putManifest(Buffer.from(JSON.stringify(index)), { tag: 'multi' });
    await expect(exportToBuffer(src, { format: 'docker', refs: ['multi'] })).rejects.toMatchObject({
      code: 'E_USAGE',
    });
    await expect(
      exportToBuffer(src, { format: 'docker', refs: ['multi'], platform: 'linux/s390x' }),
    ).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    const items = await listTar(
      await exportToBuffer(src, { format: 'docker', refs: ['multi'], platform: 'linux/arm64' }),
    );
    const entries = entriesOf(items);
    expect(entries.map((e) => e.digest)).toEqual([arm.digest]);
    expect(readJson(join(src, 'index.json'))).toBeDefined();
  });

  it('oci --platform writes the platform manifest under the tag and warns that the digest changed', async () => {
    const src = copyOfPeer('umoci-multitag');
    const layout = Layout.open(src);
    const arm = {
      ...layout.resolve({ tag: 'arm' }),
      platform: { architecture: 'arm64', os: 'linux' },
    };
    const amd = {
      ...layout.resolve({ tag: 'v2' }),
      platform: { architecture: 'amd64', os: 'linux' },
    };
    for (const d of [amd, arm]) delete d.annotations;
    const index = { schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: [amd, arm] };
    const multi = await layout.putManifest(Buffer.from(JSON.stringify(index)), { tag: 'multi' });
    const file = join(tmpDir(), 'arm.tar');
    const r = await exportArchive(src, file, { refs: ['multi'], platform: 'linux/arm64' });
    expect(r.entries).toEqual([
      {
        mediaType: arm.mediaType,
        digest: arm.digest,
        size: arm.size,
        platform: arm.platform,
        annotations: { [Annotation.RefName]: 'multi' },
      },
    ]);
    expect(r.warnings.join('\n')).toContain(`index ${multi.digest}`);
    expect(r.warnings.join('\n')).toContain('signatures on the index no longer apply');
    const items = await listTar(readFileSync(file));
    expect(entriesOf(items).map((e) => e.digest)).toEqual([arm.digest]);
    expect(items.map((i) => i.name)).not.toContain(`blobs/sha256/${multi.digest.slice(7)}`);
    expect(items.map((i) => i.name)).not.toContain(`blobs/sha256/${amd.digest.slice(7)}`);
    // A manifest ref is kept as it is; a platform the index lacks, or no --ref, is refused.
    const plain = await exportArchive(src, join(tmpDir(), 'v2.tar'), {
      refs: ['v2'],
      platform: 'linux/arm64',
    });
    expect(plain.entries.map((e) => e.digest)).toEqual([amd.digest]);
    await expect(
      exportToBuffer(src, { refs: ['multi'], platform: 'linux/s390x' }),
    ).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    await expect(exportToBuffer(src, { platform: 'linux/arm64' })).rejects.toMatchObject({
      code: 'E_USAGE',
    });
  });

  it('refuses --referrers and a bad --name', async () => {
    await expect(
      exportToBuffer(peer('umoci-image'), { format: 'docker', referrers: true }),
    ).rejects.toMatchObject({
      code: 'E_USAGE',
    });
    await expect(
      exportToBuffer(peer('umoci-image'), { format: 'docker', name: 'Bad:Name' }),
    ).rejects.toMatchObject({
      code: 'E_INVALID_REFERENCE',
    });
  });
});

const keys = (m: MadeLayout, ...names: string[]): string[] =>
  names.map((n) => m.d[n]!.digest).sort();

describe('planExport', () => {
  it('exports the whole layout with its index.json bytes as they are', async () => {
    const text = (m: MadeLayout): string =>
      `{\n  "schemaVersion": 2,\n  "manifests": [${JSON.stringify(m.d['amanifest'])}]\n}`;
    const probe = layout();
    const m = layout(text(probe));
    const plan = (await planExport(m.open(), { refs: [] })).contents;
    expect(plan.indexBytes.toString()).toBe(text(probe));
    expect(plan.entries).toEqual([m.d['amanifest']]);
    expect([...plan.blobs.keys()].sort()).toEqual(keys(m, 'amanifest', 'aconfig', 'alayer'));
    expect(plan.blobs.get(m.d['alayer']!.digest as never)).toBe(m.d['alayer']!.size);
    expect(plan).toMatchObject({ external: [], extraFiles: new Map(), memoryBlobs: new Map() });
  });

  it('exports named refs in a new index.json, a full name in both annotations, once each', async () => {
    const m = layout();
    const full = 'example.com/app:v1';
    const plan = (await planExport(m.open(), { refs: ['v1', full, m.d['bmanifest']!.digest] }))
      .contents;
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

  it('lists non-distributable layers the layout lacks as external, carrying the rest', async () => {
    const m = externalLayerLayout();
    const plan = (await planExport(m.open(), { refs: ['win'] })).contents;
    expect(plan.external).toEqual([m.foreign]);
    expect(plan.warnings).toEqual([]);
    expect([...plan.blobs.keys()].sort()).toEqual(keys(m, 'win', 'aconfig', 'alayer'));
    const r = await exportArchive(m.root, join(tmpDir(), 'w.tar'), { refs: ['win'] });
    expect(r.warnings).toEqual([`external layer ${m.foreign.digest} (urls) is not carried`]);
  });

  it('refuses a layout missing a reached blob (E_NOT_FOUND) or holding it at another size', async () => {
    const m = layout();
    const file = (n: string): string => join(m.root, 'blobs', 'sha256', m.d[n]!.digest.slice(7));
    writeFileSync(file('blayer'), 'resized!');
    await expect(planExport(m.open(), { refs: [m.d['bmanifest']!.digest] })).rejects.toMatchObject({
      code: 'E_SIZE_MISMATCH',
    });
    unlinkSync(file('alayer'));
    await expect(planExport(m.open())).rejects.toThrow(
      expect.objectContaining({
        code: 'E_NOT_FOUND',
        details: expect.objectContaining({ digest: m.d['alayer']!.digest }),
      }),
    );
  });

  it('adds referrers only with the referrers option', async () => {
    const { layout: l, sig } = await signedImage('per-manifest');
    expect((await planExport(l, { refs: ['v1'] })).contents.entries).toHaveLength(1);
    const plan = (await planExport(l, { refs: ['v1'], referrers: true })).contents;
    expect(plan.entries.map((e) => e.digest)).toContain(sig.digest);
    expect(plan.blobs.has(sig.digest as never)).toBe(true);
  });

  it('carries a referrers index made for the archive only, with what it lists', async () => {
    const { layout: l } = await signedImage('fallback-tag');
    const z = putImage(l, 'z');
    const sigOfZ = putArtifact(l, z, SIG);
    // Listed only inside another index: the archive records it anew, in the layout's convention.
    const bundle = putIndex(l, [sigOfZ], { annotations: { bundle: 'yes' } });
    await setEntries(l, [...l.readIndex().manifests, tagEntry(z, 'z'), tagEntry(bundle, 'bundle')]);
    const { contents: plan } = await planExport(l, { refs: ['z'], referrers: true });
    const made = plan.entries[1]!;
    const digest = made.digest as Digest;
    expect(l.blobs.has(digest)).toBe(false);
    expect(plan.memoryBlobs.get(digest)?.byteLength).toBe(made.size);
    expect(plan.blobs.get(digest)).toBe(made.size);
    expect(plan.blobs.has(sigOfZ.digest as Digest)).toBe(true);
    expect(plan.blobs.has(bundle.digest as Digest)).toBe(false);
  });

  describe("cosign's signature tags", () => {
    const tagNames = (entries: { annotations?: Record<string, string> }[]): string[] =>
      entries.map((e) => e.annotations?.[Annotation.RefName] ?? '').sort();

    it('carries the tags of every manifest exported, with their images, unless told not to', async () => {
      const { layout, fx } = cosignFixture();
      const plan = (await planExport(layout, { refs: ['v1'] })).contents;
      expect(tagNames(plan.entries)).toEqual([...Object.keys(fx.tags), 'v1'].sort());
      for (const { referrer } of Object.values(fx.tags))
        expect(plan.blobs.has(referrer as never)).toBe(true);
      const off = (await planExport(layout, { refs: ['v1'], cosignTags: false })).contents;
      expect(tagNames(off.entries)).toEqual(['v1']);
      for (const { referrer } of Object.values(fx.tags))
        expect(off.blobs.has(referrer as never)).toBe(false);
    });

    it("with --platform, carries the platform manifest's signature and not the index's", async () => {
      const { layout, fx } = cosignFixture();
      const amd = fx.platforms['linux/amd64']!;
      const plan = (await planExport(layout, { refs: ['v1'], platform: 'linux/amd64' })).contents;
      const ofAmd = Object.keys(fx.tags).filter((t) => fx.tags[t]!.subject === amd);
      expect(tagNames(plan.entries)).toEqual([...ofAmd, 'v1'].sort());
      for (const { subject, referrer } of Object.values(fx.tags))
        expect(plan.blobs.has(referrer as never)).toBe(subject === amd);
    });

    it('lists each tag once alongside --referrers', async () => {
      const { layout, fx } = cosignFixture();
      const plan = (await planExport(layout, { refs: ['v1'], referrers: true })).contents;
      expect(tagNames(plan.entries)).toEqual([...Object.keys(fx.tags), 'v1'].sort());
    });
  });
});
