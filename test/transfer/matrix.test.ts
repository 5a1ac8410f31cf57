// The copy contract, the same for every source × destination pair (layouts, a loopback CNCF
// distribution registry, and oci-archive files, in every combination):
// --platform (kept, refused when the index lacks it, E_USAGE when malformed), --referrers,
// cosign tags (carried by default, alone and with --referrers; --no-cosign-tags), one result shape, and a failure injected mid-transfer
// (no tag added, a layout left as it was, no archive at the destination path). An archive
// destination is read back with import; the archive source is written by export, not by copy.
// spec-notes/copy.md.
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  copyRefs,
  digestOf,
  exportArchive,
  importArchive,
  isOcilayoutError,
  Layout,
  MediaType,
  referrerGraph,
  RegistryClient,
  type CopyRefsOptions,
  type CopyResult,
  type Digest,
} from '../../src/internal.js';
import { listRemoteReferrers } from '../../src/registry/remote-referrers.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { layoutSnapshot } from '../helpers/snapshot.js';
import { requireTools } from '../helpers/tools.js';
import { makeFixture, type Fixture } from '../registry/fixture.js';
import { fastRetry } from '../registry/helpers.js';

const HAVE = requireTools('docker-registry');
const NO_CONFIG = { path: '/nonexistent', credentials: new Map(), helpers: new Map() };
const opts: CopyRefsOptions = { retry: fastRetry(2), dockerConfig: NO_CONFIG };

/** Every key `copy --json` prints, whatever the pair (filteredFrom only with --platform). */
const RESULT_KEYS = [
  'blobs',
  'bytes',
  'conventions',
  'cosignTags',
  'descriptor',
  'destination',
  'fallbackTags',
  'filteredFrom',
  'manifests',
  'referrers',
  'referrersApi',
  'referrersFrom',
  'source',
  'tag',
  'warnings',
];
const OUTCOMES = ['copied', 'linked', 'mounted', 'skipped'];

type Kind = 'layout' | 'registry' | 'archive';
const PAIRS: [Kind, Kind][] = [
  ['layout', 'layout'],
  ['layout', 'registry'],
  ['registry', 'layout'],
  ['registry', 'registry'],
  ['layout', 'archive'],
  ['archive', 'layout'],
  ['registry', 'archive'],
  ['archive', 'registry'],
  ['archive', 'archive'],
];

interface Dest {
  kind: Kind;
  /** The endpoint as copy takes it. */
  ref: string;
  /** A registry repository; a layout directory or an archive file's name. */
  name: string;
  /** An archive destination's file. */
  file: string;
}

describe.runIf(HAVE)('copy: one contract for every source × destination pair', () => {
  let registry: RunningRegistry;
  let client: RegistryClient;
  let work: string;
  let f: Fixture;
  /** cosign's signature tag of the index, and the manifest it names. */
  let cosignTag: string;
  let cosignDigest: string;
  let serial = 0;
  /** The archive source: `export --ref v1 --ref <cosign tag> --referrers` of the fixture. */
  let sourceArchive: string;

  beforeAll(async () => {
    registry = await startRegistry();
    client = new RegistryClient(registry.host, { retry: fastRetry(2) });
    // Shared by every test of this file (tmpDir() would vanish after the first test).
    work = mkdtempSync(join(tmpdir(), 'ocilayout-matrix-'));
    f = await makeFixture(work, 'per-manifest', 300_000);
    cosignTag = `sha256-${f.index.digest.slice('sha256:'.length)}.sig`;
    const empty = f.layout.blobs.putBytes(Buffer.from('{}'));
    const payload = f.layout.blobs.putBytes(Buffer.from('cosign signature payload'));
    const sig = await f.layout.putManifest(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.ImageManifest,
          config: { mediaType: MediaType.Empty, digest: empty.digest, size: empty.size },
          layers: [
            {
              mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
              digest: payload.digest,
              size: payload.size,
            },
          ],
        }),
      ),
      { tag: cosignTag },
    );
    cosignDigest = sig.digest;
    // The registry source: the same image, referrers and cosign tag, pushed once.
    await copyRefs(`${f.layout.root}:v1`, `docker://${registry.host}/source`, {
      ...opts,
      referrers: true,
      cosignTags: true,
    });
    sourceArchive = join(work, 'source.tar');
    await exportArchive(f.layout.root, sourceArchive, { refs: ['v1', cosignTag], referrers: true });
  }, 60_000);
  afterAll(async () => {
    await registry?.stop();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  const source = (kind: Kind): string =>
    kind === 'layout'
      ? `${f.layout.root}:v1`
      : kind === 'archive'
        ? `oci-archive:${sourceArchive}:v1`
        : `docker://${registry.host}/source:v1`;

  /** A fresh destination (a layout dir or archive file that does not exist yet, or an empty repository). */
  const destination = (kind: Kind): Dest => {
    const name = `dest${++serial}`;
    const file = join(work, `${name}.tar`);
    switch (kind) {
      case 'layout':
        return { kind, name, file, ref: join(work, name) };
      case 'archive':
        return { kind, name, file, ref: `oci-archive:${file}` };
      case 'registry':
        return { kind, name, file, ref: `docker://${registry.host}/${name}` };
    }
  };

  /** An archive destination read back: imported into a new layout (entries kept as they come). */
  const imported = new Map<string, Layout>();
  const readBack = async (d: Dest): Promise<Layout> => {
    let layout = imported.get(d.file);
    if (layout === undefined) {
      const dir = join(work, `${d.name}-imported`);
      await importArchive(d.file, dir);
      layout = Layout.open(dir);
      imported.set(d.file, layout);
    }
    return layout;
  };

  /** The tags the destination has now. */
  const tagsOf = async (d: Dest): Promise<string[]> => {
    if (d.kind === 'layout') return Layout.open(d.ref).tags();
    if (d.kind === 'archive') return existsSync(d.file) ? (await readBack(d)).tags() : [];
    try {
      return (await client.listTags(d.name)).sort();
    } catch (err) {
      if (isOcilayoutError(err, 'E_NOT_FOUND')) return []; // the repository was never created
      throw err;
    }
  };

  /** The digest `tag` names at the destination. */
  const resolveAt = async (d: Dest, tag: string): Promise<string> =>
    d.kind === 'registry'
      ? digestOf((await client.getManifest(d.name, tag)).bytes)
      : (await layoutOf(d)).resolve({ tag }).digest;

  /** A layout destination, or an archive destination read back. */
  const layoutOf = async (d: Dest): Promise<Layout> =>
    d.kind === 'archive' ? readBack(d) : Layout.open(d.ref);

  /** Referrers of `subject` as the destination lists them. */
  const referrersAt = async (d: Dest, subject: string): Promise<string[]> =>
    d.kind === 'registry'
      ? (await listRemoteReferrers(client, d.name, subject as Digest)).descriptors.map(
          (r) => r.digest,
        )
      : referrerGraph(await layoutOf(d))
          .referrersOf(subject)
          .map((r) => r.digest);

  /** Nothing of ours left beside an archive destination (its temp layout, its temp file). */
  const leftovers = (): string[] => readdirSync(work).filter((n) => n.startsWith('.ocilayout-'));

  const expectShape = (r: CopyResult): void => {
    expect(Object.keys(r).sort()).toEqual(RESULT_KEYS);
    expect(Object.keys(r.blobs).sort()).toEqual(OUTCOMES);
    expect(Object.keys(r.bytes).sort()).toEqual(OUTCOMES);
  };

  describe.each(PAIRS)('%s → %s', (from, to) => {
    it('copies the whole index under the source tag, in the one result shape', async () => {
      const d = destination(to);
      const r = await copyRefs(source(from), d.ref, {
        ...opts,
        concurrency: 2,
        cosignTags: false,
      });
      expectShape(r);
      expect(r).toMatchObject({ tag: 'v1', descriptor: { digest: f.index.digest } });
      expect(r.filteredFrom).toBeUndefined();
      expect(r.manifests).toBe(3);
      expect(Object.values(r.blobs).reduce((a, b) => a + b, 0)).toBe(f.imageBlobs.length);
      expect(await tagsOf(d)).toEqual(['v1']);
      expect(await resolveAt(d, 'v1')).toBe(f.index.digest);
    });

    it('--platform keeps one platform of the index (and only its blobs)', async () => {
      const d = destination(to);
      const r = await copyRefs(source(from), d.ref, { ...opts, platforms: ['linux/arm64'] });
      expectShape(r);
      expect(r.filteredFrom).toEqual({ digest: f.index.digest, platforms: ['linux/arm64'] });
      // The index's signature signs the unfiltered index, which is not copied.
      expect(r.cosignTags).toEqual([]);
      expect(r.descriptor.digest).not.toBe(f.index.digest);
      expect(await resolveAt(d, 'v1')).toBe(r.descriptor.digest);
      const index = JSON.parse(
        (d.kind === 'registry'
          ? (await client.getManifest(d.name, 'v1')).bytes
          : (await layoutOf(d)).blobs.readBytes(r.descriptor.digest as Digest, 1 << 20)
        ).toString(),
      ) as { manifests: { digest: string }[]; annotations: Record<string, string> };
      expect(index.manifests.map((m) => m.digest)).toEqual([f.arm64.digest]);
      expect(index.annotations).toEqual({ 'org.example.note': 'fixture' });
      // 1 filtered index + arm64's manifest, config and layer.
      expect(Object.values(r.blobs).reduce((a, b) => a + b, 0)).toBe(4);
    });

    it('--platform the index lacks fails (E_NOT_FOUND) and creates nothing', async () => {
      const d = destination(to);
      await expect(
        copyRefs(source(from), d.ref, { ...opts, platforms: ['linux/s390x'] }),
      ).rejects.toMatchObject({
        code: 'E_NOT_FOUND',
        details: { available: ['linux/amd64', 'linux/arm64'] },
      });
      if (to === 'layout') expect(() => Layout.open(d.ref)).toThrow();
      else if (to === 'archive') expect(existsSync(d.file)).toBe(false);
      else expect(await tagsOf(d)).toEqual([]);
      expect(leftovers()).toEqual([]);
    });

    it('a malformed --platform is E_USAGE', async () => {
      const d = destination(to);
      for (const bad of ['linux', 'linux/arm64/v8/x', 'linux//arm64']) {
        await expect(
          copyRefs(source(from), d.ref, { ...opts, platforms: [bad] }),
        ).rejects.toMatchObject({ code: 'E_USAGE' });
      }
    });

    it('--referrers copies every referrer, recursively, findable at the destination', async () => {
      const d = destination(to);
      const r = await copyRefs(source(from), d.ref, {
        ...opts,
        referrers: true,
        cosignTags: false,
      });
      expectShape(r);
      expect(r.referrers.map((e) => e.digest).sort()).toEqual([f.sig, f.sbom, f.sbomSig].sort());
      expect(await referrersAt(d, f.index.digest)).toEqual([f.sig]);
      expect(await referrersAt(d, f.amd64.digest)).toEqual([f.sbom]);
      expect(await referrersAt(d, f.sbom)).toEqual([f.sbomSig]);
      expect(r.cosignTags).toEqual([]);
    });

    it('carries the sha256-<hex>.sig tag by default', async () => {
      const d = destination(to);
      const r = await copyRefs(source(from), d.ref, opts);
      expectShape(r);
      expect(r.cosignTags).toEqual([cosignTag]);
      expect(r.referrers).toEqual([]);
      expect(await resolveAt(d, cosignTag)).toBe(cosignDigest);
      expect((await tagsOf(d)).filter((t) => !t.startsWith('sha256-') || t === cosignTag)).toEqual(
        [cosignTag, 'v1'].sort(),
      );
    });

    it('--cosign-tags with --referrers carries both', async () => {
      const d = destination(to);
      const r = await copyRefs(source(from), d.ref, {
        ...opts,
        referrers: true,
        cosignTags: true,
      });
      expect(r.cosignTags).toEqual([cosignTag]);
      expect(r.referrers.map((e) => e.digest).sort()).toEqual([f.sig, f.sbom, f.sbomSig].sort());
      expect(await resolveAt(d, cosignTag)).toBe(cosignDigest);
      expect(await referrersAt(d, f.sbom)).toEqual([f.sbomSig]);
    });

    it('a failure mid-transfer adds no tag and leaves a layout as it was', async () => {
      const d = destination(to);
      let before: Record<string, string> | undefined;
      if (to === 'layout') {
        const dst = Layout.init(d.ref).layout;
        await dst.putManifest(
          Buffer.from(
            JSON.stringify({
              schemaVersion: 2,
              mediaType: MediaType.ImageIndex,
              manifests: [],
            }),
          ),
          { tag: 'existing' },
        );
        before = layoutSnapshot(d.ref);
      }
      // An archive already at the destination path stays as it was.
      if (to === 'archive') writeFileSync(d.file, 'the previous archive');
      const placed: string[] = [];
      const boom = new Error('injected failure');
      await expect(
        copyRefs(source(from), d.ref, {
          ...opts,
          referrers: true,
          cosignTags: true,
          concurrency: 1,
          onEvent: (e) => {
            if (e.type !== 'blob-done') return;
            if (e.outcome !== 'skipped') placed.push(e.descriptor.digest);
            if (e.done === 3) throw boom;
          },
        }),
      ).rejects.toBe(boom);
      expect(placed.length).toBeGreaterThan(0); // the failure came after something was placed
      if (to === 'layout') {
        expect(layoutSnapshot(d.ref)).toEqual(before);
      } else if (to === 'archive') {
        expect(readFileSync(d.file, 'utf8')).toBe('the previous archive');
      } else {
        expect(await tagsOf(d)).toEqual([]);
      }
      expect(leftovers()).toEqual([]);
    });
  });

  describe('archive endpoints', () => {
    it('an oci-archive named without REF gives its only image, tag and all', async () => {
      const d = destination('layout');
      const r = await copyRefs(`oci-archive:${sourceArchive}`, d.ref, opts);
      expectShape(r);
      expect(r).toMatchObject({
        source: `oci-archive:${sourceArchive}`,
        tag: 'v1',
        descriptor: { digest: f.index.digest },
      });
      // The image's cosign signature comes along, as it does by default for every pair.
      expect(await tagsOf(d)).toEqual([cosignTag, 'v1'].sort());
    });

    it('an archive of several images needs a REF; the error lists them', async () => {
      const two = destination('layout');
      await copyRefs(source('layout'), two.ref, opts);
      await Layout.open(two.ref).tag({ digest: f.arm64.digest }, ['other']);
      const file = join(work, `${two.name}.tar`);
      await exportArchive(two.ref, file);
      const d = destination('layout');
      await expect(copyRefs(`oci-archive:${file}`, d.ref, opts)).rejects.toMatchObject({
        code: 'E_INVALID_REFERENCE',
        details: { refs: ['v1', 'other'] },
      });
      await expect(copyRefs(`oci-archive:${file}:v9`, d.ref, opts)).rejects.toMatchObject({
        code: 'E_NOT_FOUND',
      });
      expect(existsSync(d.ref)).toBe(false);
      const r = await copyRefs(`oci-archive:${file}:other`, d.ref, opts);
      expect(r).toMatchObject({ tag: 'other', descriptor: { digest: f.arm64.digest } });
    });

    it('layout → docker-archive: one platform, under NAME:TAG, as docker load reads it', async () => {
      const d = destination('archive');
      const ref = `docker-archive:${d.file}:example.com/app:v2`;
      const r = await copyRefs(source('layout'), ref, { ...opts, platforms: ['linux/arm64'] });
      expectShape(r);
      expect(r).toMatchObject({ destination: `docker-archive:${d.file}`, tag: 'v2' });
      const back = await readBack(d);
      // Read back, the image keeps the full name docker load gives it (spec-notes/names.md).
      expect(back.tags()).toEqual(['example.com/app:v2']);
      // The arm64 manifest itself: a docker archive holds one platform's image, not the index.
      const entry = back.resolve({ tag: 'v2' });
      expect(entry.digest).toBe(f.arm64.digest);
      expect(entry.annotations?.['io.containerd.image.name']).toBe('example.com/app:v2');
    });

    it('docker-archive names: NAME keeps the source tag; no REF takes the source name', async () => {
      const named = destination('archive');
      const r = await copyRefs(source('layout'), `docker-archive:${named.file}:example.com/app`, {
        ...opts,
        platforms: ['linux/amd64'],
      });
      expect(r.tag).toBe('v1');
      const entry = (await readBack(named)).resolve({ tag: 'v1' });
      expect(entry.annotations?.['io.containerd.image.name']).toBe('example.com/app:v1');
      const bare = destination('archive');
      await copyRefs(source('registry'), `docker-archive:${bare.file}`, {
        ...opts,
        platforms: ['linux/amd64'],
      });
      expect(
        (await readBack(bare)).resolve({ tag: 'v1' }).annotations?.['io.containerd.image.name'],
      ).toBe(`${registry.host}/source:v1`);
    });

    it('docker-archive refuses, before writing anything, what it cannot hold', async () => {
      const d = destination('archive');
      const ref = `docker-archive:${d.file}:example.com/app:v1`;
      // A whole multi-platform index (refused from the plan, before any blob moved), and
      // referrers or cosign tags.
      let placed = 0;
      const onEvent = (e: { type: string }): void => void (e.type === 'blob-done' && placed++);
      await expect(copyRefs(source('registry'), ref, { ...opts, onEvent })).rejects.toMatchObject({
        code: 'E_USAGE',
        details: { platforms: ['linux/amd64', 'linux/arm64'] },
      });
      for (const extra of [{ referrers: true }, { cosignTags: true }]) {
        await expect(
          copyRefs(source('layout'), ref, { ...opts, ...extra, platforms: ['linux/amd64'] }),
        ).rejects.toMatchObject({ code: 'E_USAGE' });
      }
      expect(placed).toBe(0);
      expect(existsSync(d.file)).toBe(false);
      expect(leftovers()).toEqual([]);
    });

    it('a docker-archive source is named by NAME:TAG or by its bare tag', async () => {
      const file = join(work, 'docker-source.tar');
      await exportArchive(f.layout.root, file, {
        format: 'docker',
        refs: ['v1'],
        name: 'example.com/app',
        platform: 'linux/amd64',
      });
      for (const ref of ['example.com/app:v1', 'v1']) {
        const d = destination('layout');
        const r = await copyRefs(`docker-archive:${file}:${ref}`, d.ref, opts);
        // Either way the image arrives under its full name, as import stores it.
        expect(r).toMatchObject({
          tag: 'example.com/app:v1',
          descriptor: { digest: f.amd64.digest },
        });
        expect(await tagsOf(d)).toEqual(['example.com/app:v1']);
      }
    });

    it('- is stdin for a source and stdout for a destination', async () => {
      const chunks: Buffer[] = [];
      const stdout = new Writable({
        write(chunk: Buffer, _enc, done) {
          chunks.push(chunk);
          done();
        },
      });
      const out = await copyRefs(source('layout'), 'oci-archive:-', { ...opts, stdout });
      expect(out.destination).toBe('oci-archive:-');
      const d = destination('layout');
      const r = await copyRefs('oci-archive:-:v1', d.ref, {
        ...opts,
        stdin: Readable.from([Buffer.concat(chunks)]),
      });
      expect(r).toMatchObject({ tag: 'v1', descriptor: { digest: f.index.digest } });
      await expect(copyRefs(source('layout'), 'oci-archive:-', opts)).rejects.toMatchObject({
        code: 'E_USAGE',
      });
      expect(leftovers()).toEqual([]);
    });
  });
});
