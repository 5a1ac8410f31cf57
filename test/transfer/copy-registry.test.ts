import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import {
  copyRefs,
  digestOf,
  fallbackTagFor,
  Layout,
  MediaType,
  openBlobLocations,
  referrerGraph,
  type CopyResult,
} from '../../src/internal.js';
import { RegistryClient } from '../../src/registry/client.js';
import { startReferrersServer, type ReferrersServer } from '../helpers/referrers-server.js';
import { layoutSnapshot } from '../helpers/snapshot.js';
import { tmpDir } from '../helpers/tmp.js';
import { makeFixture } from '../registry/fixture.js';
import { fastRetry } from '../registry/helpers.js';

const FAST = fastRetry(2);
const NO_CONFIG = { path: '/nonexistent', credentials: new Map(), helpers: new Map() };
const opts = { retry: FAST, dockerConfig: NO_CONFIG };

describe('copy across the registry boundary (referrers API test server)', () => {
  const servers: ReferrersServer[] = [];
  const serve = async (
    o: Parameters<typeof startReferrersServer>[0] = {},
  ): Promise<ReferrersServer> => {
    const s = await startReferrersServer(o);
    servers.push(s);
    return s;
  };
  afterEach(async () => {
    await Promise.all(servers.splice(0).map((s) => s.close()));
  });

  it('noClobber refuses (E_CONFLICT) a registry tag naming other content, pushing nothing', async () => {
    const f = await makeFixture(tmpDir());
    const server = await serve();
    await copyRefs(`${f.layout.root}:v1`, `docker://${server.host}/app:v1`, opts);
    const blobsBefore = server.blobs.size;
    await expect(
      copyRefs(`${f.layout.root}@${f.amd64.digest}`, `docker://${server.host}/app:v1`, {
        ...opts,
        noClobber: true,
      }),
    ).rejects.toMatchObject({ code: 'E_CONFLICT' });
    const client = new RegistryClient(server.host, { retry: FAST });
    expect((await client.headManifest('app', 'v1'))?.digest).toBe(f.index.digest);
    expect(server.blobs.size).toBe(blobsBefore);
    // The same content again is no clobbering.
    const same = await copyRefs(`${f.layout.root}:v1`, `docker://${server.host}/app:v1`, {
      ...opts,
      noClobber: true,
    });
    expect(same.descriptor.digest).toBe(f.index.digest);
  });

  it("by digest into a layout: containerd's digest-only name, for the digest stored", async () => {
    const f = await makeFixture(tmpDir());
    const server = await serve();
    await copyRefs(`${f.layout.root}:v1`, `docker://${server.host}/team/app:v1`, opts);
    const src = `docker://${server.host}/team/app@${f.index.digest}`;
    const name = `${server.host}/team/app@${f.index.digest}`;
    const dir = tmpDir();
    const dst = join(dir, 'dst');
    const r = await copyRefs(src, dst, opts);
    expect(r.tag).toBe(name);
    const entries = Layout.open(dst).readIndex().manifests;
    expect(entries.map((e) => [e.digest, e.annotations])).toEqual([
      [f.index.digest, { 'io.containerd.image.name': name }],
    ]);
    // Filtered to one platform, the index stored is one the registry never had: a digest-only
    // name means "pulled from the repository by this digest", so it goes untagged, and says so.
    const warnings: string[] = [];
    const one = await copyRefs(src, join(dir, 'one'), {
      ...opts,
      platforms: ['linux/amd64'],
      onEvent: (e) => {
        if (e.type === 'warning') warnings.push(e.message);
      },
    });
    expect(one.descriptor.digest).not.toBe(f.index.digest);
    expect(one.tag).toBeUndefined();
    expect(
      Layout.open(join(dir, 'one'))
        .readIndex()
        .manifests.map((e) => [e.digest, e.annotations]),
    ).toEqual([[one.descriptor.digest, undefined]]);
    expect(warnings).toEqual([expect.stringContaining('stored untagged')]);
    expect(warnings[0]).toContain(f.index.digest);
    expect(warnings[0]).toContain(one.descriptor.digest);
    // Named so explicitly, the same.
    const named = await copyRefs(src, `${join(dir, 'named')}:${name}`, {
      ...opts,
      platforms: ['linux/amd64'],
    });
    expect(named.tag).toBeUndefined();
    // Layout to layout by that name keeps it; naming other content so is refused, nothing written.
    const again = await copyRefs(`${dst}:${name}`, join(dir, 'again'), opts);
    expect(again.tag).toBe(name);
    await expect(
      copyRefs(
        `${dst}:${name}`,
        `${join(dir, 'lie')}:${server.host}/team/app@${f.amd64.digest}`,
        opts,
      ),
    ).rejects.toMatchObject({ code: 'E_INVALID_TAG' });
    // Registry to registry by digest: no tag appears.
    await copyRefs(src, `docker://${server.host}/mirror/app`, opts);
    const client = new RegistryClient(server.host, { retry: FAST });
    expect((await client.headManifest('mirror/app', f.index.digest))?.digest).toBe(f.index.digest);
    expect(await client.listTags('mirror/app')).toEqual([]);
  });

  it('layout → registry → fresh layout keeps every referrer and digest (API path, no fallback tag)', async () => {
    const dir = tmpDir();
    const f = await makeFixture(dir);
    const server = await serve();
    const push = await copyRefs(`${f.layout.root}:v1`, `docker://${server.host}/team/app`, {
      ...opts,
      referrers: true,
    });
    expect(push.descriptor.digest).toBe(f.index.digest);
    expect(push.tag).toBe('v1');
    expect(push.referrersApi.sort()).toEqual([f.index.digest, f.amd64.digest, f.sbom].sort());
    expect(push.fallbackTags).toEqual([]);
    expect([...server.tags.keys()]).toEqual(['team/app:v1']); // no fallback tag on an API registry
    const client = new RegistryClient(server.host, { retry: FAST });
    const listed = await client.referrers('team/app', f.index.digest as never);
    expect(listed!.manifests.map((d) => d.digest)).toEqual([f.sig]);
    expect(listed!.manifests[0]!.annotations).toEqual({ 'org.example.signer': 'alice' });

    const pull = await copyRefs(`docker://${server.host}/team/app:v1`, join(dir, 'back'), {
      ...opts,
      referrers: true,
    });
    expect(pull.referrersFrom).toEqual(['api']);
    const back = Layout.open(join(dir, 'back'));
    expect(back.resolve({ tag: 'v1' }).digest).toBe(f.index.digest);
    const graph = referrerGraph(back);
    expect(graph.referrersOf(f.index.digest).map((d) => d.digest)).toEqual([f.sig]);
    expect(graph.referrersOf(f.amd64.digest).map((d) => d.digest)).toEqual([f.sbom]);
    expect(graph.referrersOf(f.sbom).map((d) => d.digest)).toEqual([f.sbomSig]);
    for (const d of [...f.imageBlobs, f.sig, f.sbom, f.sbomSig]) {
      expect(back.blobs.has(d as never), d).toBe(true);
    }
  });

  it('puts a root with nothing after it once, by its tag; with referrers, by digest first', async () => {
    const f = await makeFixture(tmpDir());
    const server = await serve();
    const puts = (repo: string): string[] =>
      server.log
        .filter((l) => l.startsWith(`PUT /v2/${repo}/manifests/`))
        .map((l) => l.slice(`PUT /v2/${repo}/manifests/`.length));
    const plain = await copyRefs(`${f.layout.root}:v1`, `docker://${server.host}/plain:v1`, opts);
    // The two platform manifests by digest, children first; the index only under its tag.
    expect(puts('plain')).toEqual([f.amd64.digest, f.arm64.digest, 'v1']);
    expect(plain.manifests).toBe(3);
    expect(plain.blobs.copied).toBe(plain.manifests + 4); // 2 configs, 2 layers, 3 manifests
    const client = new RegistryClient(server.host, { retry: FAST });
    expect((await client.headManifest('plain', f.index.digest))?.digest).toBe(f.index.digest);
    // Referrers go up after their subjects, and the tag after them: the root by digest first.
    await copyRefs(`${f.layout.root}:v1`, `docker://${server.host}/refs:v1`, {
      ...opts,
      referrers: true,
    });
    const withReferrers = puts('refs');
    expect(withReferrers.at(-1)).toBe('v1');
    expect(withReferrers.indexOf(f.index.digest)).toBeGreaterThanOrEqual(0);
    expect(withReferrers.indexOf(f.index.digest)).toBeLessThan(withReferrers.indexOf(f.sig));
  });

  it.each(['tag', 'both'] as const)(
    '--referrers-mode %s also writes fallback tags on an API registry',
    async (mode) => {
      const f = await makeFixture(tmpDir());
      const server = await serve();
      const r = await copyRefs(`${f.layout.root}:v1`, `docker://${server.host}/app:v1`, {
        ...opts,
        referrers: true,
        referrersMode: mode,
      });
      expect(r.fallbackTags.sort()).toEqual(
        [f.index.digest, f.amd64.digest, f.sbom].map(fallbackTagFor).sort(),
      );
      const client = new RegistryClient(server.host, { retry: FAST });
      const idx = await client.getManifest('app', fallbackTagFor(f.index.digest));
      expect(idx.parsed.kind === 'index' && idx.parsed.doc.manifests.map((d) => d.digest)).toEqual([
        f.sig,
      ]);
    },
  );

  it('--referrers-mode api refuses a registry without the API', async () => {
    const f = await makeFixture(tmpDir());
    const server = await serve({ referrersApi: false });
    await expect(
      copyRefs(`${f.layout.root}:v1`, `docker://${server.host}/app:v1`, {
        ...opts,
        referrers: true,
        referrersMode: 'api',
      }),
    ).rejects.toMatchObject({ code: 'E_REGISTRY' });
    expect(server.tags.has('app:v1')).toBe(false); // the tag goes last: never written
  });

  it("auto on a registry without the API merges into an existing fallback index, keeping others' entries", async () => {
    const f = await makeFixture(tmpDir());
    const server = await serve({ referrersApi: false });
    const client = new RegistryClient(server.host, { retry: FAST });
    // Someone else's referrer of the index, listed in the fallback tag already.
    const other = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ImageManifest,
        artifactType: 'application/x.other',
        config: { mediaType: MediaType.Empty, digest: digestOf('{}'), size: 2 },
        layers: [{ mediaType: MediaType.Empty, digest: digestOf('{}'), size: 2 }],
        subject: { mediaType: MediaType.ImageIndex, digest: f.index.digest, size: f.index.size },
      }),
    );
    await client.putManifest('app', digestOf(other), other, MediaType.ImageManifest);
    const otherEntry = {
      mediaType: MediaType.ImageManifest,
      digest: digestOf(other),
      size: other.length,
      artifactType: 'application/x.other',
    };
    const fallback = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ImageIndex,
        manifests: [otherEntry],
      }),
    );
    await client.putManifest('app', fallbackTagFor(f.index.digest), fallback, MediaType.ImageIndex);

    const r = await copyRefs(`${f.layout.root}:v1`, `docker://${server.host}/app:v1`, {
      ...opts,
      referrers: true,
    });
    expect(r.referrersApi).toEqual([]);
    const idx = await client.getManifest('app', fallbackTagFor(f.index.digest));
    const listed = idx.parsed.kind === 'index' ? idx.parsed.doc.manifests.map((d) => d.digest) : [];
    expect(listed).toEqual([digestOf(other), f.sig]);
    // Again: nothing to add, the tag is not rewritten.
    const puts = server.log.filter((l) => l.startsWith('PUT') && l.includes('sha256-')).length;
    await copyRefs(`${f.layout.root}:v1`, `docker://${server.host}/app:v1`, {
      ...opts,
      referrers: true,
    });
    expect(server.log.filter((l) => l.startsWith('PUT') && l.includes('sha256-')).length).toBe(
      puts,
    );
    // And the pull side reads the fallback tags (API 404) and verifies subjects.
    const back = await copyRefs(`docker://${server.host}/app:v1`, join(tmpDir(), 'back'), {
      ...opts,
      referrers: true,
    });
    expect(back.referrersFrom).toEqual(['fallback-tag']);
    expect(back.referrers.map((e) => e.digest).sort()).toEqual(
      [digestOf(other), f.sig, f.sbom, f.sbomSig].sort(),
    );
  });

  it('refuses to overwrite a fallback tag that holds something other than an index', async () => {
    const f = await makeFixture(tmpDir());
    const server = await serve({ referrersApi: false });
    const client = new RegistryClient(server.host, { retry: FAST });
    const notIndex = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ImageManifest,
        config: { mediaType: MediaType.Empty, digest: digestOf('{}'), size: 2 },
        layers: [],
      }),
    );
    await client.putManifest(
      'app',
      fallbackTagFor(f.index.digest),
      notIndex,
      MediaType.ImageManifest,
    );
    await expect(
      copyRefs(`${f.layout.root}:v1`, `docker://${server.host}/app:v1`, {
        ...opts,
        referrers: true,
      }),
    ).rejects.toMatchObject({ code: 'E_REGISTRY' });
  });

  it('--platform keeps one platform; the index digest changes and only its blobs are copied', async () => {
    const f = await makeFixture(tmpDir());
    const server = await serve();
    await copyRefs(`${f.layout.root}:v1`, `docker://${server.host}/app:v1`, opts);
    const dest = join(tmpDir(), 'arm');
    const r: CopyResult = await copyRefs(`docker://${server.host}/app:v1`, dest, {
      ...opts,
      platforms: ['linux/arm64'],
    });
    expect(r.filteredFrom).toEqual({ digest: f.index.digest, platforms: ['linux/arm64'] });
    expect(r.descriptor.digest).not.toBe(f.index.digest);
    const out = Layout.open(dest);
    const idx = out.readManifest(out.resolve({ tag: 'v1' }));
    expect(idx.kind === 'index' && idx.doc.manifests.map((d) => d.digest)).toEqual([
      f.arm64.digest,
    ]);
    expect(idx.doc.annotations).toEqual({ 'org.example.note': 'fixture' });
    expect(out.blobs.has(f.amd64.digest as never)).toBe(false);
    await expect(
      copyRefs(`docker://${server.host}/app:v1`, join(tmpDir(), 'none'), {
        ...opts,
        platforms: ['linux/s390x'],
      }),
    ).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });

  it('records where blobs were read and placed, saves it, and a later push mounts from there', async () => {
    const f = await makeFixture(tmpDir());
    const a = await serve();
    const b = await serve();
    const path = join(tmpDir(), 'cache', 'blob-locations.json');
    // Pushed to a without a record: the pull below is what teaches it.
    await copyRefs(`${f.layout.root}:v1`, `docker://${a.host}/src:v1`, opts);
    const lay = join(tmpDir(), 'lay');
    const pulled = await copyRefs(`docker://${a.host}/src:v1`, lay, {
      ...opts,
      blobLocations: openBlobLocations(path),
    });
    const blobs = pulled.blobs.copied - pulled.manifests; // configs and layers
    expect(blobs).toBeGreaterThan(0);
    const saved = openBlobLocations(path); // a fresh reader: what the copy saved
    const seen = [...a.blobs.keys()]
      .filter((k) => k.startsWith('src@'))
      .map((k) => k.slice(4))
      .filter((d) => saved.lookup(a.host, d).includes('src'));
    expect(seen).toHaveLength(blobs);
    // A push to another repository of a mounts every one of them; to registry b nothing is tried.
    const before = a.log.length;
    const pushed = await copyRefs(`${lay}:v1`, `docker://${a.host}/other:v1`, {
      ...opts,
      blobLocations: openBlobLocations(path),
    });
    expect(pushed.blobs.mounted).toBe(blobs);
    expect(a.log.slice(before).filter((l) => /^(PATCH|PUT) \/v2\/other\/blobs\//.test(l))).toEqual(
      [],
    );
    const elsewhere = await copyRefs(`${lay}:v1`, `docker://${b.host}/other:v1`, {
      ...opts,
      blobLocations: openBlobLocations(path),
    });
    expect(elsewhere.blobs.mounted).toBe(0);
    expect(b.log.some((l) => l.includes('mount='))).toBe(false);
    // Both pushes were recorded too, newest first.
    expect(openBlobLocations(path).lookup(a.host, seen[0]!)).toEqual(['other', 'src']);
    expect(openBlobLocations(path).lookup(b.host, seen[0]!)).toEqual(['other']);
  });

  it('registry → registry mounts within one registry and streams between two', async () => {
    const f = await makeFixture(tmpDir());
    const a = await serve();
    const b = await serve({ referrersApi: false });
    await copyRefs(`${f.layout.root}:v1`, `docker://${a.host}/src:v1`, {
      ...opts,
      referrers: true,
    });
    const same = await copyRefs(`docker://${a.host}/src:v1`, `docker://${a.host}/dst`, {
      ...opts,
      referrers: true,
    });
    expect(same.blobs.mounted).toBe(8); // 4 image blobs, 3 referrer layers, the empty config
    expect(same.blobs.copied).toBe(same.manifests); // only manifests are sent (PUT, small)
    expect(a.log.some((l) => l.startsWith('PATCH') || l.startsWith('PUT /v2/dst/blobs/'))).toBe(
      false,
    );
    const other = await copyRefs(`docker://${a.host}/src:v1`, `docker://${b.host}/mirror`, {
      ...opts,
      referrers: true,
    });
    expect(other.tag).toBe('v1');
    expect(other.blobs.copied).toBeGreaterThan(0);
    expect(other.fallbackTags.length).toBe(3);
    expect(b.tags.get('mirror:v1')).toBe(f.index.digest);
  });

  it('copies cosign tags with --cosign-tags', async () => {
    const f = await makeFixture(tmpDir());
    const server = await serve();
    await copyRefs(`${f.layout.root}:v1`, `docker://${server.host}/app:v1`, opts);
    const client = new RegistryClient(server.host, { retry: FAST });
    const sigTag = `sha256-${f.index.digest.slice(7)}.sig`;
    const sig = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ImageManifest,
        config: { mediaType: MediaType.Empty, digest: digestOf('{}'), size: 2 },
        layers: [{ mediaType: MediaType.Empty, digest: digestOf('{}'), size: 2 }],
      }),
    );
    const { pushBlob } = await import('../../src/registry/blob-push.js');
    await pushBlob(client, 'app', { digest: digestOf('{}'), size: 2 }, async function* () {
      await Promise.resolve();
      yield Buffer.from('{}');
    });
    await client.putManifest('app', sigTag, sig, MediaType.ImageManifest);
    const dest = join(tmpDir(), 'out');
    const r = await copyRefs(`docker://${server.host}/app:v1`, dest, { ...opts, cosignTags: true });
    expect(r.cosignTags).toEqual([sigTag]);
    expect(Layout.open(dest).resolve({ tag: sigTag }).digest).toBe(digestOf(sig));
  });

  it('a corrupt blob from the registry fails the pull and leaves the destination layout unchanged', async () => {
    const f = await makeFixture(tmpDir());
    const server = await serve();
    await copyRefs(`${f.layout.root}:v1`, `docker://${server.host}/app:v1`, opts);
    // Corrupt one layer in the registry's store.
    const key = [...server.blobs.keys()].find((k) => server.blobs.get(k)!.length === 200_000)!;
    const bad = Buffer.from(server.blobs.get(key)!);
    bad[0] = bad[0]! ^ 1;
    server.blobs.set(key, bad);
    const dest = Layout.init(join(tmpDir(), 'dest')).layout;
    dest.blobs.putBytes(Buffer.from('pre-existing'));
    const before = layoutSnapshot(dest.root);
    await expect(
      copyRefs(`docker://${server.host}/app:v1`, dest.root, { ...opts, concurrency: 1 }),
    ).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH' });
    expect(layoutSnapshot(dest.root)).toEqual(before);
  });

  it('refuses an unknown scheme, a digest destination, and credentials for two registries', async () => {
    await expect(copyRefs('s3://a/b:v1', './b', opts)).rejects.toMatchObject({ code: 'E_USAGE' });
    await expect(
      copyRefs(`docker://127.0.0.1:1/a:v1`, `./x@${digestOf('x')}`, opts),
    ).rejects.toMatchObject({ code: 'E_INVALID_REFERENCE' });
    await expect(
      copyRefs('docker://127.0.0.1:1/a:v1', 'docker://127.0.0.2:1/b', {
        ...opts,
        credentials: { kind: 'basic', username: 'u', password: 'p' },
      }),
    ).rejects.toMatchObject({ code: 'E_USAGE' });
  });
});
