// Our own registry client against serve: copy a layout with its referrers into serve and back,
// through the referrers API and through fallback tags; referrers recorded by the CLI in any
// convention (and cosign tags) answer the API; concurrent pushers to one subject lose nothing.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  Layout,
  copyRefs,
  fallbackTagFor,
  referrerGraph,
  type ConventionName,
} from '../../src/internal.js';
import { tmpDir } from '../helpers/tmp.js';
import { makeFixture } from '../registry/fixture.js';
import { fastRetry } from '../registry/helpers.js';
import { OCI_MANIFEST, pushImage, startServe, testImage } from './helpers.js';

const NO_CONFIG = { path: '/nonexistent', credentials: new Map(), helpers: new Map() };
const opts = { retry: fastRetry(2), dockerConfig: NO_CONFIG };

/** Every referrer edge of a layout, as `subject → referrer` lines. */
function edges(layout: Layout): string[] {
  const g = referrerGraph(layout);
  return g
    .subjects()
    .flatMap((s) => g.referrersOf(s).map((r) => `${s} → ${r.digest}`))
    .sort();
}

describe('copy to and from serve', () => {
  it('layout → serve → fresh layout keeps every referrer (referrers API, no fallback tag)', async () => {
    const dir = tmpDir();
    const f = await makeFixture(dir);
    const root = join(dir, 'registry');
    mkdirSync(root); // an empty directory: a tree of layouts to be
    const reg = await startServe(root);
    const host = reg.url.replace('http://', '');
    const push = await copyRefs(`${f.layout.root}:v1`, `docker://${host}/team/app:v1`, {
      ...opts,
      referrers: true,
    });
    expect(push.referrersApi.sort()).toEqual([f.index.digest, f.amd64.digest, f.sbom].sort());
    expect(push.fallbackTags).toEqual([]);
    const served = Layout.open(join(root, 'team', 'app'));
    expect(served.resolve({ tag: 'v1' }).digest).toBe(f.index.digest);
    expect(served.tags()).toEqual(['v1']); // no fallback tag, no untagged child entries
    expect(edges(served)).toEqual(edges(f.layout));
    const pull = await copyRefs(`docker://${host}/team/app:v1`, join(dir, 'back'), {
      ...opts,
      referrers: true,
    });
    expect(pull.referrersFrom).toEqual(['api']);
    expect(edges(Layout.open(join(dir, 'back')))).toEqual(edges(f.layout));
    expect(reg.internal).toEqual([]);
  });

  it('fallback-tag mode: the tags pushed are the layout convention, read back the same', async () => {
    const dir = tmpDir();
    const f = await makeFixture(dir);
    const root = join(dir, 'registry');
    mkdirSync(root);
    const reg = await startServe(root);
    const host = reg.url.replace('http://', '');
    const push = await copyRefs(`${f.layout.root}:v1`, `docker://${host}/app:v1`, {
      ...opts,
      referrers: true,
      referrersMode: 'tag',
    });
    expect(push.fallbackTags.sort()).toEqual(
      [f.index.digest, f.amd64.digest, f.sbom].map((d) => fallbackTagFor(d)).sort(),
    );
    const served = Layout.open(join(root, 'app'));
    expect(edges(served)).toEqual(edges(f.layout));
    const pull = await copyRefs(`docker://${host}/app:v1`, join(dir, 'back'), {
      ...opts,
      referrers: true,
    });
    expect(pull.referrersFrom).toEqual(['api']);
    expect(edges(Layout.open(join(dir, 'back')))).toEqual(edges(f.layout));
  });
});

describe('referrers API over each layout convention', () => {
  for (const convention of [
    'fallback-tag',
    'subject-annotation',
    'per-manifest',
  ] as ConventionName[]) {
    it(`a referrer recorded ${convention} is listed by GET /v2/<name>/referrers/<digest>`, async () => {
      const dir = tmpDir();
      const f = await makeFixture(dir, convention);
      const reg = await startServe(f.layout.root, { name: 'app', readOnly: true });
      const res = await fetch(`${reg.url}/v2/app/referrers/${f.index.digest}`);
      expect(res.status).toBe(200);
      const body = (await res.json()) as { manifests: { digest: string; artifactType: string }[] };
      expect(body.manifests.map((m) => [m.digest, m.artifactType])).toEqual([
        [f.sig, 'application/vnd.example.signature'],
      ]);
      const nested = await fetch(`${reg.url}/v2/app/referrers/${f.sbom}`);
      const n = (await nested.json()) as { manifests: { digest: string }[] };
      expect(n.manifests.map((m) => m.digest)).toEqual([f.sbomSig]);
    });
  }

  it('a cosign signature tag (sha256-<hex>.sig) is listed as a referrer', async () => {
    const dir = tmpDir();
    const reg = await startServe(dir);
    const img = testImage('cosigned');
    await pushImage(reg.url, 'app', img, 'v1');
    // What cosign (before OCI 1.1) pushes: a manifest without subject, under a tag naming it.
    const sig = testImage('cosign-sig');
    const tag = `${img.digest.replace(':', '-')}.sig`;
    expect((await pushImage(reg.url, 'app', sig, tag)).status).toBe(201);
    const res = await fetch(`${reg.url}/v2/app/referrers/${img.digest}`);
    const body = (await res.json()) as { manifests: { digest: string }[] };
    expect(body.manifests.map((m) => m.digest)).toEqual([sig.digest]);
  });
});

describe('concurrent pushers', () => {
  it('referrers pushed at once to one subject, through two servers on one layout, are all recorded', async () => {
    const dir = tmpDir();
    const a = await startServe(dir);
    const img = testImage('subject');
    await pushImage(a.url, 'app', img, 'v1');
    const b = await startServe(dir);
    const subject = { mediaType: OCI_MANIFEST, digest: img.digest, size: img.manifest.byteLength };
    const sigs = Array.from({ length: 12 }, (_, i) =>
      testImage(`sig-${i}`, { artifactType: 'application/vnd.example.sig', subject }),
    );
    const results = await Promise.all(
      sigs.map((s, i) => pushImage(i % 2 === 0 ? a.url : b.url, 'app', s)),
    );
    expect(results.map((r) => r.status)).toEqual(sigs.map(() => 201));
    const res = await fetch(`${b.url}/v2/app/referrers/${img.digest}`);
    const body = (await res.json()) as { manifests: { digest: string }[] };
    expect(body.manifests.map((m) => m.digest).sort()).toEqual(sigs.map((s) => s.digest).sort());
  });
});

describe('the CLI and the library on a served layout', () => {
  it('changes made beside the server are served at once (what is kept is checked on every request)', async () => {
    const dir = tmpDir();
    const reg = await startServe(dir);
    const img = testImage('beside');
    await pushImage(reg.url, 'app', img, 'v1');
    const layout = Layout.open(join(dir, 'app'));
    await layout.tag({ tag: 'v1' }, ['v2']);
    expect(await (await fetch(`${reg.url}/v2/app/tags/list`)).json()).toEqual({
      name: 'app',
      tags: ['v1', 'v2'],
    });
    await layout.untag('v1');
    expect((await fetch(`${reg.url}/v2/app/manifests/v1`)).status).toBe(404);
    expect((await fetch(`${reg.url}/v2/app/manifests/v2`)).status).toBe(200);
  });
});
