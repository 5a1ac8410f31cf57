// Full image names stored in one served layout are repositories by their path without the
// registry host: tags list, manifests by tag, blobs, referrers, pushes and deletes per repository,
// the layout's own repository beside them, and skopeo against a sync-shaped layout.
import { execFile } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { Layout, fsck } from '../../src/internal.js';
import { Annotation } from '../../src/media-types.js';
import { mapStoredNames } from '../../src/serve/repositories.js';
import { requireTools } from '../helpers/tools.js';
import { tmpDir } from '../helpers/tmp.js';
import {
  OCI_MANIFEST,
  errorCodes,
  pushImage,
  sha256,
  startServe,
  testImage,
  type TestImage,
} from './helpers.js';

/** Store an image in `layout` under `name` (a full name goes in both annotations, as sync writes). */
async function store(layout: Layout, image: TestImage, name?: string): Promise<void> {
  for (const b of [image.config, image.layer]) {
    await layout.blobs.put(Readable.from([b]), { digest: sha256(b), size: b.byteLength });
  }
  await layout.putManifest(image.manifest, { tag: name });
}

/** A layout shaped like `ocilayout sync` leaves it: several registries' images by full name. */
async function syncShaped(): Promise<{ layout: Layout; a: TestImage; b: TestImage; c: TestImage }> {
  const layout = Layout.init(join(tmpDir(), 'mirror')).layout;
  const a = testImage('a');
  const b = testImage('b');
  const c = testImage('c');
  await store(layout, a, 'reg.example/team/app:v1');
  await store(layout, b, 'reg.example/team/app:v2');
  await store(layout, c, 'docker.io/library/alpine:3');
  return { layout, a, b, c };
}

const json = async (res: Response): Promise<unknown> => res.json();

describe('mapStoredNames', () => {
  it('maps a full name to its path without the registry host; skips what cannot be a tag', () => {
    const m = mapStoredNames([
      'v1', // bare: the layout's own repository
      'reg.example/team/app:v1',
      'localhost:5000/team/app:v2',
      'localhost/app:dev', // podman's local names
      'team/tool:1.0', // no host: the whole repository is the path (docker.io by default)
      'docker.io/library/alpine@sha256:' + 'a'.repeat(64), // digest-only: its repository, no tag
      'reg.example/team/app:v1@sha256:' + 'a'.repeat(64), // tag and digest: not mapped
      'reg.example/noTag', // no tag
      'reg.example/UPPER/x:v1', // path outside the grammar
    ]);
    expect([...m.keys()].sort()).toEqual(['app', 'library/alpine', 'team/app', 'team/tool']);
    expect(m.get('library/alpine')).toEqual([
      {
        name: 'docker.io/library/alpine@sha256:' + 'a'.repeat(64),
        prefix: 'docker.io/',
        host: 'docker.io',
        tag: undefined,
      },
    ]);
    expect(m.get('team/app')).toEqual([
      { name: 'reg.example/team/app:v1', prefix: 'reg.example/', host: 'reg.example', tag: 'v1' },
      {
        name: 'localhost:5000/team/app:v2',
        prefix: 'localhost:5000/',
        host: 'localhost:5000',
        tag: 'v2',
      },
    ]);
    expect(m.get('team/tool')).toEqual([
      { name: 'team/tool:1.0', prefix: '', host: 'docker.io', tag: '1.0' },
    ]);
    expect(m.get('app')![0]!.host).toBe('localhost');
  });
});

describe('serve: full names stored in one layout', () => {
  it('each full name is served under its path: catalog, tags, manifests, blobs', async () => {
    const { layout, a, b, c } = await syncShaped();
    await store(layout, testImage('own'), 'latest'); // a bare tag: the layout's own repository
    const reg = await startServe(layout.root);
    const cat = (await json(await fetch(`${reg.url}/v2/_catalog`))) as { repositories: string[] };
    expect(cat.repositories).toEqual(['library/alpine', 'mirror', 'team/app']);
    expect(await json(await fetch(`${reg.url}/v2/team/app/tags/list`))).toEqual({
      name: 'team/app',
      tags: ['v1', 'v2'],
    });
    expect(await json(await fetch(`${reg.url}/v2/mirror/tags/list`))).toEqual({
      name: 'mirror',
      tags: ['latest'],
    });
    for (const [repo, tag, image] of [
      ['team/app', 'v1', a],
      ['team/app', 'v2', b],
      ['library/alpine', '3', c],
    ] as const) {
      const res = await fetch(`${reg.url}/v2/${repo}/manifests/${tag}`);
      expect(res.status).toBe(200);
      expect(res.headers.get('docker-content-digest')).toBe(image.digest);
      expect(Buffer.from(await res.arrayBuffer())).toEqual(image.manifest);
      const blob = await fetch(`${reg.url}/v2/${repo}/blobs/${sha256(image.layer)}`);
      expect(Buffer.from(await blob.arrayBuffer())).toEqual(image.layer);
    }
    // A tag of another repository is not this one's; an unmapped name is no repository.
    expect((await fetch(`${reg.url}/v2/library/alpine/manifests/v1`)).status).toBe(404);
    const unknown = await fetch(`${reg.url}/v2/team/other/tags/list`);
    expect(await errorCodes(unknown)).toEqual(['NAME_UNKNOWN']);
    // The web view shows the same repositories and tags.
    const page = await (await fetch(`${reg.url}/ui/team/app`)).text();
    expect(page).toContain('<a class="tag" href="/ui/team/app/manifests/v2">v2</a>');
    expect((await fetch(`${reg.url}/ui/team/app/manifests/v2`)).status).toBe(200);
    // With the host is no repository: pull clients send the path only.
    expect((await fetch(`${reg.url}/v2/reg.example/team/app/manifests/v1`)).status).toBe(404);
  });

  it("containerd's shape (full name in its annotation, bare tag in ref.name) maps the same", async () => {
    const layout = Layout.init(join(tmpDir(), 'export')).layout;
    const a = testImage('a');
    await store(layout, a);
    await layout.updateIndex((index) => {
      index.manifests[0]!.annotations = {
        [Annotation.ContainerdImageName]: 'docker.io/library/app:latest',
        [Annotation.RefName]: 'latest',
      };
      return { index, result: undefined };
    });
    const reg = await startServe(layout.root);
    const res = await fetch(`${reg.url}/v2/library/app/manifests/latest`);
    expect(res.headers.get('docker-content-digest')).toBe(a.digest);
    // The layout's own repository still resolves the unique tag as it did before the mapping.
    const own = await fetch(`${reg.url}/v2/export/manifests/latest`);
    expect(own.headers.get('docker-content-digest')).toBe(a.digest);
    expect(await json(await fetch(`${reg.url}/v2/export/tags/list`))).toEqual({
      name: 'export',
      tags: [],
    });
  });

  it('the same path from two registries: ns picks one; without it the tag is ambiguous', async () => {
    const layout = Layout.init(join(tmpDir(), 'two')).layout;
    const a = testImage('a');
    const b = testImage('b');
    await store(layout, a, 'one.example/team/app:v1');
    await store(layout, b, 'two.example/team/app:v1');
    const reg = await startServe(layout.root);
    const amb = await fetch(`${reg.url}/v2/team/app/manifests/v1`);
    expect(amb.status).toBe(404);
    const body = (await amb.json()) as { errors: { code: string; detail: { names: string[] } }[] };
    expect(body.errors[0]!.code).toBe('MANIFEST_UNKNOWN');
    expect(body.errors[0]!.detail.names.sort()).toEqual([
      'one.example/team/app:v1',
      'two.example/team/app:v1',
    ]);
    const viaNs = await fetch(`${reg.url}/v2/team/app/manifests/v1?ns=two.example`);
    expect(viaNs.headers.get('docker-content-digest')).toBe(b.digest);
    // A push there must say which registry's name to write.
    const c = testImage('c');
    expect(await errorCodes(await pushImage(reg.url, 'team/app', c, 'v2'))).toEqual(['DENIED']);
    const put = await fetch(`${reg.url}/v2/team/app/manifests/v2?ns=one.example`, {
      method: 'PUT',
      body: c.manifest,
      headers: { 'Content-Type': OCI_MANIFEST },
    });
    expect(put.status).toBe(201);
    expect(layout.resolve({ tag: 'one.example/team/app:v2' }).digest).toBe(c.digest);
  });

  it('a bare tag of the own repository wins over a stored name mapped onto the same path', async () => {
    const layout = Layout.init(join(tmpDir(), 'app')).layout;
    const a = testImage('a');
    const b = testImage('b');
    await store(layout, a, 'reg.example/app:v1');
    await store(layout, b, 'v1');
    await store(layout, testImage('c'), 'reg.example/app:v2');
    const reg = await startServe(layout.root);
    expect(await json(await fetch(`${reg.url}/v2/_catalog`))).toEqual({ repositories: ['app'] });
    expect(await json(await fetch(`${reg.url}/v2/app/tags/list`))).toEqual({
      name: 'app',
      tags: ['v1', 'v2'],
    });
    const v1 = await fetch(`${reg.url}/v2/app/manifests/v1`);
    expect(v1.headers.get('docker-content-digest')).toBe(b.digest);
  });

  it('in a tree the directory is the repository: stored names inside a layout are not mapped', async () => {
    const root = tmpDir();
    const mirror = Layout.init(join(root, 'mirror')).layout;
    const app = Layout.init(join(root, 'team', 'app')).layout;
    const a = testImage('a');
    const b = testImage('b');
    await store(mirror, a, 'reg.example/team/app:v1');
    await store(app, b, 'v1');
    const reg = await startServe(root);
    expect(await json(await fetch(`${reg.url}/v2/_catalog`))).toEqual({
      repositories: ['mirror', 'team/app'],
    });
    const v1 = await fetch(`${reg.url}/v2/team/app/manifests/v1`);
    expect(v1.headers.get('docker-content-digest')).toBe(b.digest);
    // The mirror layout's own repository resolves its stored name's tag, as before.
    const own = await fetch(`${reg.url}/v2/mirror/manifests/v1`);
    expect(own.headers.get('docker-content-digest')).toBe(a.digest);
  });

  it('pushes to a mapped repository write the full name; blobs and referrers are shared', async () => {
    const { layout, a } = await syncShaped();
    const reg = await startServe(layout.root, { allowDelete: true });
    const d = testImage('d');
    expect((await pushImage(reg.url, 'team/app', d, 'v3')).status).toBe(201);
    expect(layout.tags()).toContain('reg.example/team/app:v3');
    expect(layout.readIndex().manifests.at(-1)!.annotations).toEqual({
      [Annotation.ContainerdImageName]: 'reg.example/team/app:v3',
      [Annotation.RefName]: 'reg.example/team/app:v3',
    });
    expect(await json(await fetch(`${reg.url}/v2/team/app/tags/list`))).toEqual({
      name: 'team/app',
      tags: ['v1', 'v2', 'v3'],
    });
    // A referrer pushed under one repository is found under the subject's.
    const sig = testImage('sig', {
      artifactType: 'application/example',
      subject: { mediaType: OCI_MANIFEST, digest: a.digest, size: a.manifest.byteLength },
    });
    const pushed = await pushImage(reg.url, 'library/alpine', sig);
    expect(pushed.status).toBe(201);
    const refs = (await json(await fetch(`${reg.url}/v2/team/app/referrers/${a.digest}`))) as {
      manifests: { digest: string }[];
    };
    expect(refs.manifests.map((m) => m.digest)).toEqual([sig.digest]);
    // A repository nothing maps to is not created in a single layout.
    const post = await fetch(`${reg.url}/v2/team/new/blobs/uploads/`, { method: 'POST' });
    expect(await errorCodes(post)).toEqual(['NAME_UNKNOWN']);
    // DELETE of a tag removes the full name it stands for, nothing else.
    expect((await fetch(`${reg.url}/v2/team/app/manifests/v3`, { method: 'DELETE' })).status).toBe(
      202,
    );
    expect(layout.tags()).toEqual([
      'docker.io/library/alpine:3',
      'reg.example/team/app:v1',
      'reg.example/team/app:v2',
    ]);
    expect((await fsck(layout)).ok).toBe(true);
  });
});

const run = promisify(execFile);

describe.skipIf(!requireTools('skopeo'))('skopeo against a sync-shaped layout', () => {
  it('copies each full name out by its path, and pushes a new tag that lands in full', async () => {
    const { layout, a, c } = await syncShaped();
    const reg = await startServe(layout.root);
    const host = reg.url.replace('http://', '');
    const out = mkdtempSync(join(tmpDir(), 'out-'));
    const tls = '--src-tls-verify=false';
    await run('skopeo', [
      'copy',
      '--preserve-digests',
      tls,
      `docker://${host}/team/app:v1`,
      `oci:${out}:app`,
    ]);
    await run('skopeo', [
      'copy',
      '--preserve-digests',
      tls,
      `docker://${host}/library/alpine:3`,
      `oci:${out}:alpine`,
    ]);
    const back = Layout.open(out);
    expect(back.resolve({ tag: 'app' }).digest).toBe(a.digest);
    expect(back.resolve({ tag: 'alpine' }).digest).toBe(c.digest);
    const tags = await run('skopeo', [
      'list-tags',
      '--tls-verify=false',
      `docker://${host}/team/app`,
    ]);
    expect((JSON.parse(tags.stdout) as { Tags: string[] }).Tags).toEqual(['v1', 'v2']);
    await run('skopeo', [
      'copy',
      '--dest-tls-verify=false',
      `oci:${out}:alpine`,
      `docker://${host}/library/alpine:3.1`,
    ]);
    expect(layout.resolve({ tag: 'docker.io/library/alpine:3.1' }).digest).toBe(c.digest);
  });
});
