// Hostile requests, each refused without harm: path escapes in names, digests and upload ids
// (sent raw: fetch would resolve `..` before the server saw it), symlinks out of ROOT, huge and
// endless uploads, slow clients, too many uploads, oversized manifests.
import { mkdirSync, readdirSync, symlinkSync } from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Layout } from '../../src/internal.js';
import { tmpDir } from '../helpers/tmp.js';
import { pushBlob, pushImage, sha256, startServe, testImage } from './helpers.js';

interface RawReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: string;
}

/** One request with the path exactly as given. */
function raw(
  url: string,
  method: string,
  path: string,
  body?: Buffer | string,
  headers: Record<string, string> = {},
): Promise<RawReply> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const req = request({ hostname, port, method, path, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          headers: res.headers,
          body: Buffer.concat(chunks).toString(),
        }),
      );
      res.on('error', reject);
    });
    req.on('error', reject);
    req.end(body);
  });
}

const codeOf = (r: RawReply): string =>
  (JSON.parse(r.body) as { errors: { code: string }[] }).errors[0]!.code;

/** Files in the ingest/ of a layout (part files and leases left behind would show here). */
const ingestOf = (dir: string): string[] => readdirSync(join(dir, 'ingest'));

describe('path escapes', () => {
  it('names with `..`, encoded slashes or upper case are NAME_INVALID; nothing is created', async () => {
    const base = tmpDir();
    const root = join(base, 'root');
    mkdirSync(root);
    const reg = await startServe(root);
    for (const path of [
      '/v2/../../etc/manifests/latest',
      '/v2/a/../../b/manifests/latest',
      '/v2/..%2f..%2fetc/manifests/latest',
      '/v2/%2e%2e/tags/list',
      '/v2//abs/tags/list',
      '/v2/UP/tags/list',
    ]) {
      const r = await raw(reg.url, 'GET', path);
      expect([path, r.status]).toEqual([path, 400]);
      expect(codeOf(r)).toBe('NAME_INVALID');
    }
    for (const path of ['/v2/../escape/blobs/uploads/', '/v2/a/../../escape/blobs/uploads/']) {
      const r = await raw(reg.url, 'POST', path);
      expect(r.status).toBe(400);
    }
    expect(readdirSync(base)).toEqual(['root']);
    expect(readdirSync(root)).toEqual([]);
  });

  it('digests and upload ids with path parts are refused before they touch the filesystem', async () => {
    const root = tmpDir();
    const reg = await startServe(root);
    await pushImage(reg.url, 'app', testImage('x'), 'v1');
    for (const path of [
      '/v2/app/blobs/sha256:..%2f..%2f..%2findex.json',
      '/v2/app/manifests/sha256:..%2f..%2findex.json',
      '/v2/app/referrers/sha256:..%2findex.json',
      `/v2/app/blobs/md5:${'a'.repeat(32)}`,
    ]) {
      const r = await raw(reg.url, 'GET', path);
      expect([path, r.status, codeOf(r)]).toEqual([path, 400, 'DIGEST_INVALID']);
    }
    // Slashes in the digest make it no endpoint at all.
    const slashed = await raw(reg.url, 'GET', '/v2/app/blobs/sha256:../../oci-layout');
    expect(slashed.status).toBe(404);
    expect(codeOf(slashed)).toBe('NAME_UNKNOWN');
    const up = await raw(reg.url, 'PATCH', '/v2/app/blobs/uploads/..%2f..%2findex.json', 'x');
    expect(up.status).toBe(404);
    expect(codeOf(up)).toBe('BLOB_UPLOAD_UNKNOWN');
  });

  it('a symlink under ROOT is no way out: reads are NAME_UNKNOWN, pushes write nothing there', async () => {
    const base = tmpDir();
    const outside = Layout.init(join(base, 'outside')).layout;
    const root = join(base, 'root');
    mkdirSync(root);
    symlinkSync(outside.root, join(root, 'evil'));
    symlinkSync(base, join(root, 'up'));
    const reg = await startServe(root);
    expect((await fetch(`${reg.url}/v2/evil/tags/list`)).status).toBe(404);
    const push = await fetch(`${reg.url}/v2/up/outside/blobs/uploads/`, { method: 'POST' });
    expect(push.status).toBe(404);
    const push2 = await fetch(`${reg.url}/v2/evil/blobs/uploads/`, { method: 'POST' });
    expect(push2.status).toBe(404);
    expect(readdirSync(outside.root).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
    expect(await (await fetch(`${reg.url}/v2/_catalog`)).json()).toEqual({
      repositories: [],
    });
  });

  it('no repository inside another layout (ROOT/app/blobs is app’s blob directory)', async () => {
    const root = tmpDir();
    const reg = await startServe(root);
    await pushImage(reg.url, 'app', testImage('x'), 'v1');
    const r = await fetch(`${reg.url}/v2/app/blobs/sha256/blobs/uploads/`, { method: 'POST' });
    expect(r.status).toBe(404);
    const m = await fetch(`${reg.url}/v2/app/ingest/manifests/v1`, { method: 'PUT', body: '{}' });
    expect(m.status).toBe(400); // not even JSON of a manifest; and no layout is made
    expect(readdirSync(join(root, 'app', 'blobs'))).toEqual(['sha256']);
    expect(ingestOf(join(root, 'app')).filter((n) => !n.endsWith('.lease'))).toEqual([]);
  });
});

describe('size and time limits', () => {
  const limits = { maxUploadBytes: 1000, maxManifestBytes: 2000 };

  it('a blob over the upload limit: 413 before reading a declared length, nothing stored', async () => {
    const root = tmpDir();
    const reg = await startServe(root, { limits });
    const big = Buffer.alloc(5000, 1);
    const mono = await fetch(`${reg.url}/v2/app/blobs/uploads/?digest=${sha256(big)}`, {
      method: 'POST',
      body: big,
    });
    expect(mono.status).toBe(413);
    // Nothing stored, no part file: the repository the push created is taken back whole.
    await new Promise((r) => setTimeout(r, 100));
    expect(readdirSync(root)).toEqual([]);
  });

  it('chunked uploads stop at the limit; the session keeps only what fit', async () => {
    const root = tmpDir();
    const reg = await startServe(root, { limits });
    const post = await fetch(`${reg.url}/v2/app/blobs/uploads/`, { method: 'POST' });
    const loc = post.headers.get('location')!;
    const ok = await fetch(`${reg.url}${loc}`, { method: 'PATCH', body: Buffer.alloc(800, 2) });
    expect(ok.headers.get('range')).toBe('0-799');
    // An endless chunked body: refused once past the limit, the connection cut. (The stream
    // stops by itself at 256 MiB only so that a server that keeps reading fails the test
    // rather than hanging it.)
    const GUARD = 256 * 1024 * 1024;
    let sent = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        sent += 65536;
        controller.enqueue(new Uint8Array(65536));
        if (sent >= GUARD) controller.close();
      },
    });
    const outcome = await fetch(`${reg.url}${loc}`, {
      method: 'PATCH',
      body: endless,
      duplex: 'half',
    }).then(
      (r) => r.status,
      () => 'connection cut',
    );
    expect([413, 'connection cut']).toContain(outcome);
    expect(sent).toBeLessThan(GUARD);
    const status = await fetch(`${reg.url}${loc}`);
    expect(status.headers.get('range')).toBe('0-799');
    const part = ingestOf(join(root, 'app')).filter((n) => n.endsWith('.part'));
    expect(part).toHaveLength(1);
  });

  it('an endless body for a blob already present is not read on forever', async () => {
    const root = tmpDir();
    const reg = await startServe(root, { limits });
    const d = await pushBlob(reg.url, 'app', Buffer.from('present'));
    const GUARD = 256 * 1024 * 1024; // stops a server that keeps reading from hanging the test
    let sent = 0;
    const endless = new ReadableStream<Uint8Array>({
      pull(controller) {
        sent += 65536;
        controller.enqueue(new Uint8Array(65536));
        if (sent >= GUARD) controller.close();
      },
    });
    const outcome = await fetch(`${reg.url}/v2/app/blobs/uploads/?digest=${d}`, {
      method: 'POST',
      body: endless,
      duplex: 'half',
    }).then(
      (r) => r.status,
      () => 'connection cut',
    );
    expect([413, 'connection cut']).toContain(outcome);
    expect(sent).toBeLessThan(GUARD);
    expect((await fetch(`${reg.url}/v2/app/blobs/${d}`)).status).toBe(200);
  });

  it('a manifest over the limit is 413 SIZE_INVALID', async () => {
    const root = tmpDir();
    const reg = await startServe(root, { limits });
    const img = testImage('big', { annotations: { pad: 'x'.repeat(3000) } });
    const r = await pushImage(reg.url, 'app', img, 'v1');
    expect(r.status).toBe(413);
    expect(((await r.json()) as { errors: { code: string }[] }).errors[0]!.code).toBe(
      'SIZE_INVALID',
    );
  });

  it('too many uploads at once: 429 TOOMANYREQUESTS with Retry-After', async () => {
    const root = tmpDir();
    const reg = await startServe(root, { limits: { maxConcurrentUploads: 2 } });
    for (let i = 0; i < 2; i++) {
      expect((await fetch(`${reg.url}/v2/app/blobs/uploads/`, { method: 'POST' })).status).toBe(
        202,
      );
    }
    const third = await fetch(`${reg.url}/v2/app/blobs/uploads/`, { method: 'POST' });
    expect(third.status).toBe(429);
    expect(third.headers.get('retry-after')).toBe('5');
  });

  it('an idle upload session expires and its part file goes; a slow client is cut off', async () => {
    const root = tmpDir();
    const reg = await startServe(root, { limits: { uploadIdleMs: 150, idleTimeoutMs: 300 } });
    const post = await fetch(`${reg.url}/v2/app/blobs/uploads/`, { method: 'POST' });
    const loc = post.headers.get('location')!;
    expect(ingestOf(join(root, 'app')).filter((n) => n.endsWith('.part'))).toHaveLength(1);
    // A client that sends headers and a little body, then nothing: the connection is closed.
    const { hostname, port } = new URL(reg.url);
    const cut = await new Promise<string>((resolve) => {
      const req = request({
        hostname,
        port,
        method: 'PATCH',
        path: loc,
        headers: { 'Content-Length': '1000' },
      });
      req.on('error', (e) => resolve((e as NodeJS.ErrnoException).code ?? 'error'));
      req.on('response', (res) => resolve(String(res.statusCode)));
      req.write('a little');
    });
    expect(cut).toMatch(/ECONNRESET|socket hang up|408|400/);
    await new Promise((r) => setTimeout(r, 400));
    // A client that went away is no server error.
    expect(reg.internal).toEqual([]);
    expect((await fetch(`${reg.url}${loc}`)).status).toBe(404);
    // The part file went with the session, and the layout its POST created with it (the sweep
    // runs on a timer: on a loaded machine it may land a little after the session's expiry).
    for (let waited = 0; readdirSync(root).length > 0 && waited < 5000; waited += 50) {
      await new Promise((r) => setTimeout(r, 50));
    }
    expect(readdirSync(root)).toEqual([]);
  });
});

describe('the server stops cleanly', () => {
  it('close(): requests in flight finish, sessions and their part files go, no lease is left', async () => {
    const root = tmpDir();
    const reg = await startServe(root);
    await pushBlob(reg.url, 'app', Buffer.from('pinned'));
    const post = await fetch(`${reg.url}/v2/app/blobs/uploads/`, { method: 'POST' });
    const loc = post.headers.get('location')!;
    // A PATCH whose body is still arriving when the stop begins.
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const body = new ReadableStream<Uint8Array>({
      async start(controller) {
        controller.enqueue(Buffer.from('first half '));
        await gate;
        controller.enqueue(Buffer.from('second half'));
        controller.close();
      },
    });
    const inFlight = fetch(`${reg.url}${loc}`, {
      method: 'PATCH',
      body,
      duplex: 'half',
    });
    await new Promise((r) => setTimeout(r, 100));
    const closing = reg.close();
    await new Promise((r) => setTimeout(r, 100));
    release();
    const res = await inFlight;
    expect(res.status).toBe(202);
    expect(res.headers.get('range')).toBe('0-21');
    await closing;
    expect(ingestOf(join(root, 'app'))).toEqual([]);
    await expect(fetch(`${reg.url}/v2/`)).rejects.toThrow();
  });
});
