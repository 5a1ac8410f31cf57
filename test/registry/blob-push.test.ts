import { randomBytes } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { LockError, RegistryError } from '../../src/errors.js';
import { digestOf } from '../../src/internal.js';
import { pushBlob, rangeEnd, take } from '../../src/registry/blob-push.js';
import { RegistryClient } from '../../src/registry/client.js';
import { startReferrersServer, type ReferrersServer } from '../helpers/referrers-server.js';
import { fastRetry, blobOf, opener } from './helpers.js';

const FAST = fastRetry(4);

describe('blob push', () => {
  let server: ReferrersServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('uploads monolithically, finds it with HEAD the second time, mounts across repositories', async () => {
    server = await startReferrersServer();
    const c = new RegistryClient(server.host, { retry: FAST });
    const data = randomBytes(300_000);
    const progress: number[] = [];
    expect(
      await pushBlob(c, 'a', blobOf(data), opener(data), { onProgress: (n) => progress.push(n) }),
    ).toBe('uploaded');
    expect(progress[progress.length - 1]).toBe(data.length);
    expect(server.log.filter((l) => l.startsWith('PUT /v2/a/blobs/uploads/'))).toHaveLength(1);
    expect(await pushBlob(c, 'a', blobOf(data), opener(data))).toBe('exists');
    expect(await pushBlob(c, 'b', blobOf(data), opener(data), { mountFrom: ['a'] })).toBe(
      'mounted',
    );
    expect(server.blobs.get(`b@${digestOf(data)}`)?.equals(data)).toBe(true);
  });

  it('uploads through the session a refused mount (202) opened, cancelling the others', async () => {
    server = await startReferrersServer();
    const c = new RegistryClient(server.host, { retry: FAST });
    const data = randomBytes(10_000);
    const d = digestOf(data);
    // Neither `gone` nor `stale` holds the blob: two 202s; the first session is cancelled, the
    // second carries the upload (no third POST).
    expect(
      await pushBlob(c, 'b', blobOf(data), opener(data), { mountFrom: ['gone', 'b', 'stale'] }),
    ).toBe('uploaded');
    const log = server.log.filter((l) => !l.startsWith('HEAD '));
    expect(log).toEqual([
      `POST /v2/b/blobs/uploads/?mount=${d}&from=gone`,
      'DELETE /v2/b/blobs/uploads/u0',
      `POST /v2/b/blobs/uploads/?mount=${d}&from=stale`,
      `PUT /v2/b/blobs/uploads/u1?digest=${encodeURIComponent(d)}`,
    ]);
    expect(server.blobs.get(`b@${d}`)?.equals(data)).toBe(true);
  });

  it('mounts from a later candidate when the first is stale', async () => {
    server = await startReferrersServer();
    const c = new RegistryClient(server.host, { retry: FAST });
    const data = randomBytes(10_000);
    expect(await pushBlob(c, 'a', blobOf(data), opener(data))).toBe('uploaded');
    const before = server.log.length;
    expect(await pushBlob(c, 'b', blobOf(data), opener(data), { mountFrom: ['stale', 'a'] })).toBe(
      'mounted',
    );
    const log = server.log.slice(before);
    expect(log.filter((l) => l.startsWith('DELETE '))).toHaveLength(1);
    expect(log.filter((l) => l.startsWith('PUT ') || l.startsWith('PATCH '))).toEqual([]);
    expect(server.blobs.get(`b@${digestOf(data)}`)?.equals(data)).toBe(true);
  });

  it('uploads when the registry answers a mount with another digest than asked for', async () => {
    server = await startReferrersServer({ mountedDigest: () => `sha256:${'0'.repeat(64)}` });
    const c = new RegistryClient(server.host, { retry: fastRetry(1) });
    const data = randomBytes(10_000);
    expect(await pushBlob(c, 'a', blobOf(data), opener(data))).toBe('uploaded');
    // The registry "mounts" but names another blob: not trusted, uploaded.
    expect(await pushBlob(c, 'b', blobOf(data), opener(data), { mountFrom: ['a'] })).toBe(
      'uploaded',
    );
    expect(server.blobs.get(`b@${digestOf(data)}`)?.equals(data)).toBe(true);
  });

  it('falls back to an upload when the mount request is refused (403)', async () => {
    server = await startReferrersServer({ refuseMount: true });
    const c = new RegistryClient(server.host, { retry: FAST });
    const data = randomBytes(10_000);
    expect(await pushBlob(c, 'a', blobOf(data), opener(data))).toBe('uploaded');
    const before = server.log.length;
    expect(await pushBlob(c, 'b', blobOf(data), opener(data), { mountFrom: ['a'] })).toBe(
      'uploaded',
    );
    expect(server.log.slice(before).filter((l) => l.startsWith('POST '))).toHaveLength(2);
    expect(server.blobs.get(`b@${digestOf(data)}`)?.equals(data)).toBe(true);
  });

  it('falls back on a refused or unreachable mount, but lets any other error through', async () => {
    server = await startReferrersServer();
    const c = new RegistryClient(server.host, { retry: FAST });
    const data = randomBytes(1000);
    expect(await pushBlob(c, 'a', blobOf(data), opener(data))).toBe('uploaded');
    const request = c.transport.request.bind(c.transport);
    let failure = new Error('no failure yet');
    c.transport.request = (req) =>
      req.path.includes('mount=') ? Promise.reject(failure) : request(req);
    const lost = new LockError('E_LOCK_COMPROMISED', 'lock lost', {});
    const bug = new TypeError("Cannot read properties of undefined (reading 'digest')");
    for (const err of [lost, bug]) {
      failure = err;
      await expect(pushBlob(c, 'b', blobOf(data), opener(data), { mountFrom: ['a'] })).rejects.toBe(
        err,
      );
    }
    expect(server.blobs.has(`b@${digestOf(data)}`)).toBe(false);
    // A registry's refusal, or a dropped connection: the upload goes on.
    const reset = new TypeError('fetch failed', {
      cause: Object.assign(new Error('socket hang up'), { code: 'ECONNRESET' }),
    });
    for (const err of [new RegistryError('E_REGISTRY', 'refused', { status: 403 }), reset]) {
      failure = err;
      expect(await pushBlob(c, 'b', blobOf(data), opener(data), { mountFrom: ['a'] })).toBe(
        'uploaded',
      );
      server.blobs.delete(`b@${digestOf(data)}`);
    }
  });

  it('uploads in chunks and resumes from the registry offset after a failed PATCH', async () => {
    server = await startReferrersServer();
    const retries: string[] = [];
    const c = new RegistryClient(server.host, {
      retry: FAST,
      onRetry: (i) => retries.push(i.reason),
    });
    const data = randomBytes(250_000);
    const opened: number[] = [];
    const s = server;
    const origLog = s.log.length;
    // Fail the second PATCH (the first is accepted, so the registry holds 100000 bytes).
    let patches = 0;
    const push = pushBlob(
      c,
      'a',
      blobOf(data),
      (offset) => {
        if (offset > 0 && ++patches === 1) s.failNext(1, 500);
        return opener(data, opened)(offset);
      },
      { chunkSize: 100_000 },
    );
    expect(await push).toBe('uploaded');
    expect(s.blobs.get(`a@${digestOf(data)}`)?.equals(data)).toBe(true);
    expect(opened).toEqual([0, 100_000, 100_000, 200_000]);
    expect(s.log.slice(origLog).some((l) => l.startsWith('GET /v2/a/blobs/uploads/'))).toBe(true);
    expect(retries.some((r) => r.includes('resuming at byte 100000'))).toBe(true);
  });

  it('turns a registry DIGEST_INVALID into E_DIGEST_MISMATCH (corrupt source)', async () => {
    server = await startReferrersServer();
    const c = new RegistryClient(server.host, { retry: FAST });
    const data = randomBytes(1000);
    const corrupt = Buffer.from(data);
    corrupt[0] = corrupt[0]! ^ 1;
    await expect(pushBlob(c, 'a', blobOf(data), opener(corrupt))).rejects.toMatchObject({
      code: 'E_DIGEST_MISMATCH',
    });
    expect(server.blobs.size).toBe(0);
  });
});

describe('helpers', () => {
  it('reads Range headers', () => {
    expect(rangeEnd('0-1023')).toBe(1024);
    expect(rangeEnd('bytes=0-9')).toBe(10);
    expect(rangeEnd('junk')).toBeUndefined();
  });

  it('takes the first n bytes across chunks', async () => {
    async function* src(): AsyncGenerator<Uint8Array> {
      await Promise.resolve();
      yield Buffer.from('abc');
      yield Buffer.from('def');
      yield Buffer.from('ghi');
    }
    const out: Buffer[] = [];
    for await (const c of take(src(), 5)) out.push(Buffer.from(c));
    expect(Buffer.concat(out).toString()).toBe('abcde');
  });
});
