// Our conformance suite for `serve`, organised like the distribution-spec conformance workflows:
// pull, push, content discovery, content management. Each check names the status code and the
// headers the spec requires for that endpoint.
import { mkdirSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Layout, discoverReferrers } from '../../src/internal.js';
import { tmpDir } from '../helpers/tmp.js';
import {
  OCI_INDEX,
  OCI_MANIFEST,
  errorCodes,
  pushBlob,
  pushImage,
  sha256,
  startServe,
  testImage,
} from './helpers.js';

const API = 'registry/2.0';

async function tree(options: Parameters<typeof startServe>[1] = {}) {
  const root = tmpDir();
  const reg = await startServe(root, options);
  return { root, reg, url: reg.url };
}

describe('pull', () => {
  it('GET /v2/ answers 200 with the API version header', async () => {
    const { url } = await tree();
    const res = await fetch(`${url}/v2/`);
    expect(res.status).toBe(200);
    expect(res.headers.get('docker-distribution-api-version')).toBe(API);
  });

  it('GET and HEAD a manifest by tag and by digest: stored bytes, media type, digest header', async () => {
    const { url } = await tree();
    const img = testImage('pull');
    expect((await pushImage(url, 'app/one', img, 'v1')).status).toBe(201);
    for (const ref of ['v1', img.digest]) {
      const get = await fetch(`${url}/v2/app/one/manifests/${ref}`);
      expect(get.status).toBe(200);
      expect(get.headers.get('content-type')).toBe(OCI_MANIFEST);
      expect(get.headers.get('docker-content-digest')).toBe(img.digest);
      expect(Buffer.from(await get.arrayBuffer())).toEqual(img.manifest);
      const head = await fetch(`${url}/v2/app/one/manifests/${ref}`, { method: 'HEAD' });
      expect(head.status).toBe(200);
      expect(head.headers.get('content-length')).toBe(String(img.manifest.byteLength));
      expect(head.headers.get('docker-content-digest')).toBe(img.digest);
    }
  });

  it('unknown manifest: 404 MANIFEST_UNKNOWN; unknown repository: 404 NAME_UNKNOWN', async () => {
    const { url } = await tree();
    await pushImage(url, 'app', testImage('x'), 'v1');
    const missing = await fetch(`${url}/v2/app/manifests/nope`);
    expect(missing.status).toBe(404);
    expect(await errorCodes(missing)).toEqual(['MANIFEST_UNKNOWN']);
    const byDigest = await fetch(`${url}/v2/app/manifests/${sha256('absent')}`);
    expect(await errorCodes(byDigest)).toEqual(['MANIFEST_UNKNOWN']);
    const repo = await fetch(`${url}/v2/other/manifests/v1`);
    expect(repo.status).toBe(404);
    expect(await errorCodes(repo)).toEqual(['NAME_UNKNOWN']);
  });

  it('a layer named as a manifest is MANIFEST_UNKNOWN, not a 500', async () => {
    const { url } = await tree();
    const img = testImage('layer-as-manifest');
    await pushImage(url, 'app', img, 'v1');
    const res = await fetch(`${url}/v2/app/manifests/${sha256(img.layer)}`);
    expect(res.status).toBe(404);
    expect(await errorCodes(res)).toEqual(['MANIFEST_UNKNOWN']);
  });

  it('GET and HEAD a blob: bytes, length, digest header; 404 BLOB_UNKNOWN when absent', async () => {
    const { url } = await tree();
    const img = testImage('blob');
    await pushImage(url, 'app', img, 'v1');
    const d = sha256(img.layer);
    const get = await fetch(`${url}/v2/app/blobs/${d}`);
    expect(get.status).toBe(200);
    expect(get.headers.get('docker-content-digest')).toBe(d);
    expect(get.headers.get('content-length')).toBe(String(img.layer.byteLength));
    expect(Buffer.from(await get.arrayBuffer())).toEqual(img.layer);
    const head = await fetch(`${url}/v2/app/blobs/${d}`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe(String(img.layer.byteLength));
    const absent = await fetch(`${url}/v2/app/blobs/${sha256('nothing')}`);
    expect(absent.status).toBe(404);
    expect(await errorCodes(absent)).toEqual(['BLOB_UNKNOWN']);
  });

  it('Range: 206 with Content-Range for a range, a suffix, an open end; 416 past the end', async () => {
    const { url } = await tree();
    const bytes = Buffer.from('0123456789');
    const d = await pushBlob(url, 'app', bytes);
    const get = (range: string) => fetch(`${url}/v2/app/blobs/${d}`, { headers: { Range: range } });
    const mid = await get('bytes=2-5');
    expect(mid.status).toBe(206);
    expect(mid.headers.get('content-range')).toBe('bytes 2-5/10');
    expect(await mid.text()).toBe('2345');
    const suffix = await get('bytes=-3');
    expect(suffix.status).toBe(206);
    expect(await suffix.text()).toBe('789');
    const open = await get('bytes=7-');
    expect(open.headers.get('content-range')).toBe('bytes 7-9/10');
    expect(await open.text()).toBe('789');
    const past = await get('bytes=10-20');
    expect(past.status).toBe(416);
    expect(past.headers.get('content-range')).toBe('bytes */10');
  });
});

describe('push', () => {
  it('POST then PUT (monolithic in the PUT): 202 with Location, then 201 with Location and digest', async () => {
    const { url, root } = await tree();
    const bytes = Buffer.from('monolithic body');
    const d = sha256(bytes);
    const post = await fetch(`${url}/v2/new/repo/blobs/uploads/`, { method: 'POST' });
    expect(post.status).toBe(202);
    const loc = post.headers.get('location')!;
    expect(loc).toMatch(/^\/v2\/new\/repo\/blobs\/uploads\/[0-9a-f-]+$/);
    expect(post.headers.get('docker-upload-uuid')).toBeTruthy();
    const put = await fetch(`${url}${loc}?digest=${d}`, { method: 'PUT', body: bytes });
    expect(put.status).toBe(201);
    expect(put.headers.get('location')).toBe(`/v2/new/repo/blobs/${d}`);
    expect(put.headers.get('docker-content-digest')).toBe(d);
    // The push created the repository's layout under ROOT.
    expect(Layout.open(join(root, 'new', 'repo')).blobs.has(d as never)).toBe(true);
  });

  it('POST ?digest= pushes a blob in one request: 201', async () => {
    const { url } = await tree();
    const bytes = Buffer.from('single post');
    const d = sha256(bytes);
    const res = await fetch(`${url}/v2/app/blobs/uploads/?digest=${d}`, {
      method: 'POST',
      body: bytes,
    });
    expect(res.status).toBe(201);
    expect(res.headers.get('location')).toBe(`/v2/app/blobs/${d}`);
    expect((await fetch(`${url}/v2/app/blobs/${d}`, { method: 'HEAD' })).status).toBe(200);
  });

  it('chunked: PATCHes with Content-Range, status GET, out-of-order 416, then PUT', async () => {
    const { url } = await tree();
    const bytes = Buffer.from('abcdefghijklmnopqrstuvwxyz');
    const d = sha256(bytes);
    const post = await fetch(`${url}/v2/app/blobs/uploads/`, { method: 'POST' });
    let loc = post.headers.get('location')!;
    const patch = (from: number, to: number) =>
      fetch(`${url}${loc}`, {
        method: 'PATCH',
        body: bytes.subarray(from, to + 1),
        headers: {
          'Content-Type': 'application/octet-stream',
          'Content-Range': `${from}-${to}`,
          'Content-Length': String(to - from + 1),
        },
      });
    const first = await patch(0, 9);
    expect(first.status).toBe(202);
    expect(first.headers.get('range')).toBe('0-9');
    loc = first.headers.get('location')!;
    const skipped = await patch(15, 20);
    expect(skipped.status).toBe(416);
    expect(skipped.headers.get('range')).toBe('0-9');
    const status = await fetch(`${url}${loc}`);
    expect(status.status).toBe(204);
    expect(status.headers.get('range')).toBe('0-9');
    expect(status.headers.get('location')).toBe(loc);
    expect((await patch(10, 25)).status).toBe(202);
    const put = await fetch(`${url}${loc}?digest=${d}`, { method: 'PUT' });
    expect(put.status).toBe(201);
    expect(await (await fetch(`${url}/v2/app/blobs/${d}`)).text()).toBe(bytes.toString());
  });

  it('a streamed PATCH (no Content-Range) is appended', async () => {
    const { url } = await tree();
    const post = await fetch(`${url}/v2/app/blobs/uploads/`, { method: 'POST' });
    const loc = post.headers.get('location')!;
    const res = await fetch(`${url}${loc}`, { method: 'PATCH', body: 'streamed' });
    expect(res.status).toBe(202);
    expect(res.headers.get('range')).toBe('0-7');
    const put = await fetch(`${url}${loc}?digest=${sha256('streamed')}`, { method: 'PUT' });
    expect(put.status).toBe(201);
  });

  it('a wrong digest on completion: 400 DIGEST_INVALID, nothing stored, the session gone', async () => {
    const { url, root } = await tree();
    const post = await fetch(`${url}/v2/app/blobs/uploads/`, { method: 'POST' });
    const loc = post.headers.get('location')!;
    const wrong = sha256('something else');
    const put = await fetch(`${url}${loc}?digest=${wrong}`, { method: 'PUT', body: 'payload' });
    expect(put.status).toBe(400);
    expect(await errorCodes(put)).toEqual(['DIGEST_INVALID']);
    expect((await fetch(`${url}${loc}`)).status).toBe(404);
    // Nothing stored: the repository the POST created is taken back (repositories.test.ts).
    await new Promise((r) => setTimeout(r, 100));
    expect(readdirSync(root)).toEqual([]);
  });

  it('unknown upload: 404 BLOB_UPLOAD_UNKNOWN; DELETE cancels: 204 then 404', async () => {
    const { url } = await tree();
    const unknown = await fetch(`${url}/v2/app/blobs/uploads/nope`, { method: 'PATCH', body: 'x' });
    expect(unknown.status).toBe(404);
    expect(await errorCodes(unknown)).toEqual(['BLOB_UPLOAD_UNKNOWN']);
    const loc = (await fetch(`${url}/v2/app/blobs/uploads/`, { method: 'POST' })).headers.get(
      'location',
    )!;
    expect((await fetch(`${url}${loc}`, { method: 'DELETE' })).status).toBe(204);
    expect((await fetch(`${url}${loc}`)).status).toBe(404);
  });

  it('cross-repository mount: 201 when the source has the blob, else 202 and a session', async () => {
    const { url, root } = await tree();
    const d = await pushBlob(url, 'src/repo', Buffer.from('shared layer'));
    const mount = await fetch(`${url}/v2/dst/blobs/uploads/?mount=${d}&from=src/repo`, {
      method: 'POST',
    });
    expect(mount.status).toBe(201);
    expect(mount.headers.get('location')).toBe(`/v2/dst/blobs/${d}`);
    expect(mount.headers.get('docker-content-digest')).toBe(d);
    expect(Layout.open(join(root, 'dst')).blobs.has(d as never)).toBe(true);
    const absent = await fetch(`${url}/v2/dst/blobs/uploads/?mount=${sha256('no')}&from=src/repo`, {
      method: 'POST',
    });
    expect(absent.status).toBe(202);
    expect(absent.headers.get('location')).toMatch(/\/v2\/dst\/blobs\/uploads\//);
  });

  it('manifest PUT by tag and by digest: 201, Location, Docker-Content-Digest', async () => {
    const { url } = await tree();
    const img = testImage('put');
    const byTag = await pushImage(url, 'app', img, 'v1');
    expect(byTag.status).toBe(201);
    expect(byTag.headers.get('location')).toBe(`/v2/app/manifests/${img.digest}`);
    expect(byTag.headers.get('docker-content-digest')).toBe(img.digest);
    const img2 = testImage('put2');
    const byDigest = await pushImage(url, 'app', img2);
    expect(byDigest.status).toBe(201);
    expect((await fetch(`${url}/v2/app/manifests/${img2.digest}`)).status).toBe(200);
  });

  it('manifest PUT refusals: missing blob, malformed JSON, digest mismatch, media type mismatch', async () => {
    const { url } = await tree();
    const img = testImage('refusals');
    const put = (ref: string, body: Buffer | string, type = OCI_MANIFEST) =>
      fetch(`${url}/v2/app/manifests/${ref}`, {
        method: 'PUT',
        body,
        headers: { 'Content-Type': type },
      });
    const missing = await put('v1', img.manifest);
    expect(missing.status).toBe(400);
    expect(await errorCodes(missing)).toEqual(['MANIFEST_BLOB_UNKNOWN']);
    await pushBlob(url, 'app', img.config);
    await pushBlob(url, 'app', img.layer);
    const garbage = await put('v1', '{"schemaVersion": 2, "layers": [');
    expect(garbage.status).toBe(400);
    expect(await errorCodes(garbage)).toEqual(['MANIFEST_INVALID']);
    const wrongDigest = await put(sha256('other'), img.manifest);
    expect(wrongDigest.status).toBe(400);
    expect(await errorCodes(wrongDigest)).toEqual(['DIGEST_INVALID']);
    const wrongType = await put('v1', img.manifest, OCI_INDEX);
    expect(wrongType.status).toBe(400);
    expect(await errorCodes(wrongType)).toEqual(['MANIFEST_INVALID']);
    expect((await fetch(`${url}/v2/app/manifests/v1`)).status).toBe(404);
    expect((await put('v1', img.manifest)).status).toBe(201);
  });

  it('a manifest with a subject answers OCI-Subject and is recorded in the layout', async () => {
    const { url, root } = await tree();
    const img = testImage('subject');
    await pushImage(url, 'app', img, 'v1');
    const sig = testImage('sig', {
      artifactType: 'application/vnd.example.sig',
      subject: { mediaType: OCI_MANIFEST, digest: img.digest, size: img.manifest.byteLength },
    });
    const res = await pushImage(url, 'app', sig);
    expect(res.status).toBe(201);
    expect(res.headers.get('oci-subject')).toBe(img.digest);
    const found = discoverReferrers(Layout.open(join(root, 'app')), img.digest);
    expect(found.map((d) => d.digest)).toEqual([sig.digest]);
  });
});

describe('content discovery', () => {
  it('tags/list: sorted, paged with n and last, Link header to the next page', async () => {
    const { url } = await tree();
    for (const t of ['c', 'a', 'b', 'd']) await pushImage(url, 'app', testImage('tags'), t);
    const all = await fetch(`${url}/v2/app/tags/list`);
    expect(all.status).toBe(200);
    expect(await all.json()).toEqual({ name: 'app', tags: ['a', 'b', 'c', 'd'] });
    const first = await fetch(`${url}/v2/app/tags/list?n=2`);
    expect(await first.json()).toEqual({ name: 'app', tags: ['a', 'b'] });
    expect(first.headers.get('link')).toBe('</v2/app/tags/list?n=2&last=b>; rel="next"');
    const second = await fetch(`${url}/v2/app/tags/list?n=2&last=b`);
    expect(await second.json()).toEqual({ name: 'app', tags: ['c', 'd'] });
    expect(second.headers.get('link')).toBeNull();
    const bad = await fetch(`${url}/v2/app/tags/list?n=-1`);
    expect(bad.status).toBe(400);
  });

  it('_catalog lists the layouts of the tree, paged', async () => {
    const { url, root } = await tree();
    await pushImage(url, 'b/two', testImage('c1'), 'v1');
    await pushImage(url, 'a', testImage('c2'), 'v1');
    mkdirSync(join(root, 'not-a-layout'));
    const res = await fetch(`${url}/v2/_catalog`);
    expect(await res.json()).toEqual({ repositories: ['a', 'b/two'] });
    const page = await fetch(`${url}/v2/_catalog?n=1`);
    expect(await page.json()).toEqual({ repositories: ['a'] });
    expect(page.headers.get('link')).toBe('</v2/_catalog?n=1&last=a>; rel="next"');
  });

  it('referrers: an image index, filtered by artifactType with OCI-Filters-Applied', async () => {
    const { url } = await tree();
    const img = testImage('ref');
    await pushImage(url, 'app', img, 'v1');
    const subject = { mediaType: OCI_MANIFEST, digest: img.digest, size: img.manifest.byteLength };
    const sig = testImage('r-sig', { artifactType: 'application/vnd.example.sig', subject });
    const sbom = testImage('r-sbom', { artifactType: 'application/vnd.example.sbom', subject });
    await pushImage(url, 'app', sig);
    await pushImage(url, 'app', sbom);
    const all = await fetch(`${url}/v2/app/referrers/${img.digest}`);
    expect(all.status).toBe(200);
    expect(all.headers.get('content-type')).toBe(OCI_INDEX);
    expect(all.headers.get('oci-filters-applied')).toBeNull();
    const body = (await all.json()) as { manifests: { digest: string; artifactType: string }[] };
    expect(body.manifests.map((m) => m.digest).sort()).toEqual([sig.digest, sbom.digest].sort());
    const filtered = await fetch(
      `${url}/v2/app/referrers/${img.digest}?artifactType=application/vnd.example.sbom`,
    );
    expect(filtered.headers.get('oci-filters-applied')).toBe('artifactType');
    const fb = (await filtered.json()) as {
      manifests: { digest: string }[];
      annotations?: unknown;
    };
    expect(fb.manifests.map((m) => m.digest)).toEqual([sbom.digest]);
    expect(fb.annotations).toBeUndefined();
    const none = await fetch(`${url}/v2/app/referrers/${sha256('no subject')}`);
    expect(none.status).toBe(200);
    expect(((await none.json()) as { manifests: unknown[] }).manifests).toEqual([]);
    const bad = await fetch(`${url}/v2/app/referrers/sha256:zz`);
    expect(bad.status).toBe(400);
    expect(await errorCodes(bad)).toEqual(['DIGEST_INVALID']);
  });

  it('referrers are paged with a Link header: by n, and by size when annotations are large', async () => {
    const { url } = await tree();
    const img = testImage('paged');
    await pushImage(url, 'app', img, 'v1');
    const subject = { mediaType: OCI_MANIFEST, digest: img.digest, size: img.manifest.byteLength };
    // 300 KiB of annotation each: four of them are more than one 1 MiB page.
    const big = 'x'.repeat(300 * 1024);
    const refs = Array.from({ length: 5 }, (_, i) =>
      testImage(`page-${i}`, {
        artifactType: i === 4 ? 'application/vnd.example.other' : 'application/vnd.example.sig',
        subject,
        annotations: { big },
      }),
    );
    for (const r of refs) expect((await pushImage(url, 'app', r)).status).toBe(201);
    const all = refs.map((r) => r.digest).sort();
    /** Every page from `path` on: [digests of each page], following Link. */
    const walk = async (path: string): Promise<string[][]> => {
      const pages: string[][] = [];
      let next: string | undefined = path;
      while (next !== undefined) {
        const res = await fetch(`${url}${next}`);
        expect(res.status).toBe(200);
        const body = (await res.json()) as { manifests: { digest: string }[] };
        expect(Buffer.byteLength(JSON.stringify(body))).toBeLessThan(2 * 1024 * 1024);
        pages.push(body.manifests.map((m) => m.digest));
        next = /^<([^>]+)>; rel="next"$/.exec(res.headers.get('link') ?? '')?.[1];
      }
      return pages;
    };
    const bySize = await walk(`/v2/app/referrers/${img.digest}`);
    expect(bySize.map((p) => p.length)).toEqual([3, 2]);
    expect(bySize.flat()).toEqual(all);
    const byN = await walk(`/v2/app/referrers/${img.digest}?n=2`);
    expect(byN.map((p) => p.length)).toEqual([2, 2, 1]);
    expect(byN.flat()).toEqual(all);
    // The filter travels with the Link.
    const filtered = await walk(
      `/v2/app/referrers/${img.digest}?n=1&artifactType=application/vnd.example.sig`,
    );
    expect(filtered.flat()).toEqual(
      refs
        .slice(0, 4)
        .map((r) => r.digest)
        .sort(),
    );
    expect(filtered.length).toBe(4);
  });
});

describe('content management', () => {
  it('deletes are refused with 405 UNSUPPORTED unless enabled', async () => {
    const { url } = await tree();
    const img = testImage('nodelete');
    await pushImage(url, 'app', img, 'v1');
    const res = await fetch(`${url}/v2/app/manifests/${img.digest}`, { method: 'DELETE' });
    expect(res.status).toBe(405);
    expect(await errorCodes(res)).toEqual(['UNSUPPORTED']);
    expect((await fetch(`${url}/v2/app/manifests/v1`)).status).toBe(200);
  });

  it('with --allow-delete: tag, manifest, referrer and blob deletes answer 202', async () => {
    const { url, root } = await tree({ allowDelete: true });
    const img = testImage('del');
    await pushImage(url, 'app', img, 'v1');
    await pushImage(url, 'app', img, 'v2');
    const sig = testImage('del-sig', {
      artifactType: 'application/vnd.example.sig',
      subject: { mediaType: OCI_MANIFEST, digest: img.digest, size: img.manifest.byteLength },
    });
    await pushImage(url, 'app', sig);
    const untag = await fetch(`${url}/v2/app/manifests/v2`, { method: 'DELETE' });
    expect(untag.status).toBe(202);
    expect(await (await fetch(`${url}/v2/app/tags/list`)).json()).toEqual({
      name: 'app',
      tags: ['v1'],
    });
    const delSig = await fetch(`${url}/v2/app/manifests/${sig.digest}`, { method: 'DELETE' });
    expect(delSig.status).toBe(202);
    const refs = await (await fetch(`${url}/v2/app/referrers/${img.digest}`)).json();
    expect((refs as { manifests: unknown[] }).manifests).toEqual([]);
    const delImg = await fetch(`${url}/v2/app/manifests/${img.digest}`, { method: 'DELETE' });
    expect(delImg.status).toBe(202);
    expect((await fetch(`${url}/v2/app/manifests/${img.digest}`)).status).toBe(404);
    const layer = sha256(img.layer);
    const delBlob = await fetch(`${url}/v2/app/blobs/${layer}`, { method: 'DELETE' });
    expect(delBlob.status, await delBlob.clone().text()).toBe(202);
    expect((await fetch(`${url}/v2/app/blobs/${layer}`)).status).toBe(404);
    expect(Layout.open(join(root, 'app')).blobs.has(layer as never)).toBe(false);
    const again = await fetch(`${url}/v2/app/blobs/${layer}`, { method: 'DELETE' });
    expect(again.status).toBe(404);
    expect(await errorCodes(again)).toEqual(['BLOB_UNKNOWN']);
  });

  it('read-only: every write is 405 UNSUPPORTED and nothing is created', async () => {
    const { url, root } = await tree({ readOnly: true });
    const post = await fetch(`${url}/v2/app/blobs/uploads/`, { method: 'POST' });
    expect(post.status).toBe(405);
    expect(await errorCodes(post)).toEqual(['UNSUPPORTED']);
    const put = await fetch(`${url}/v2/app/manifests/v1`, { method: 'PUT', body: '{}' });
    expect(put.status).toBe(405);
    expect(await (await fetch(`${url}/v2/_catalog`)).json()).toEqual({ repositories: [] });
    expect(readdirSync(root)).toEqual([]);
  });
});
