import { randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { digestOf } from '../../src/internal.js';
import { pullBlob } from '../../src/registry/blob-pull.js';
import { pushBlob } from '../../src/registry/blob-push.js';
import { RegistryClient } from '../../src/registry/client.js';
import { startReferrersServer, type ReferrersServer } from '../helpers/referrers-server.js';
import { tmpLayout } from '../helpers/tmp.js';
import { fastRetry, blobOf, opener } from './helpers.js';

const FAST = fastRetry(4);

describe('blob pull', () => {
  let server: ReferrersServer | undefined;
  let raw: Server | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
    if (raw !== undefined) await new Promise((r) => raw!.close(r));
    raw = undefined;
  });

  it('pulls into the blob store, verified, and asks nothing when the blob is already there', async () => {
    server = await startReferrersServer();
    const c = new RegistryClient(server.host, { retry: FAST });
    const data = randomBytes(3_000_000);
    await pushBlob(c, 'a', blobOf(data), opener(data));
    const layout = tmpLayout();
    const r = await pullBlob(c, 'a', blobOf(data), layout.blobs);
    expect(r).toMatchObject({ digest: digestOf(data), existed: false });
    const before = server.log.length;
    expect((await pullBlob(c, 'a', blobOf(data), layout.blobs)).existed).toBe(true);
    expect(server.log.length).toBe(before);
  });

  async function flakyBlobServer(
    data: Buffer,
    honourRange: boolean,
    corruptAt?: number,
  ): Promise<string> {
    let gets = 0;
    raw = createServer((req, res) => {
      gets++;
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      const start = honourRange && range !== null ? Number(range[1]) : 0;
      const body = Buffer.from(data.subarray(start));
      if (corruptAt !== undefined) body[corruptAt] = body[corruptAt]! ^ 0xff;
      res.writeHead(range !== null && honourRange ? 206 : 200, {
        'content-length': String(body.length),
      });
      if (gets === 1 && corruptAt === undefined) {
        // First answer: half the body, then the connection dies.
        res.write(body.subarray(0, Math.floor(body.length / 2)), () =>
          setTimeout(() => req.socket.destroy(), 20),
        );
        return;
      }
      res.end(body);
    });
    await new Promise<void>((r) => raw!.listen(0, '127.0.0.1', r));
    return `127.0.0.1:${(raw.address() as { port: number }).port}`;
  }

  it.each([
    ['before the headers', false],
    ['in the middle of the body', true],
  ])('drops a download that goes silent %s, and resumes it', async (_when, midBody) => {
    const data = randomBytes(500_000);
    let gets = 0;
    raw = createServer((req, res) => {
      gets++;
      const range = /^bytes=(\d+)-$/.exec(req.headers.range ?? '');
      const start = range === null ? 0 : Number(range[1]);
      if (gets === 1) {
        // The first answer stalls (and holds the connection open) until the client gives up.
        if (midBody) {
          res.writeHead(200, { 'content-length': String(data.length) });
          res.write(data.subarray(0, 1000));
        }
        return;
      }
      res.writeHead(range === null ? 200 : 206, {
        'content-length': String(data.length - start),
      });
      res.end(data.subarray(start));
    });
    await new Promise<void>((r) => raw!.listen(0, '127.0.0.1', r));
    const host = `127.0.0.1:${(raw.address() as { port: number }).port}`;
    const retries: string[] = [];
    const c = new RegistryClient(host, {
      retry: { ...FAST, idleTimeoutMs: 300 },
      plainHttp: ['127.0.0.1'],
      onRetry: (i) => retries.push(i.reason),
    });
    const layout = tmpLayout();
    const r = await pullBlob(c, 'a', blobOf(data), layout.blobs);
    expect(layout.blobs.readBytes(r.digest, 1_000_000).equals(data)).toBe(true);
    expect(gets).toBe(2);
    expect(retries).toHaveLength(1);
    expect(retries[0]).toMatch(midBody ? /after 1000 bytes/ : /ETIMEDOUT/);
  });

  it.each([
    ['another origin (storage): without', false],
    ['its own origin: with', true],
  ])('follows a blob redirect to %s the Authorization header', async (_what, sameOrigin) => {
    const data = randomBytes(300_000);
    const seen: { url: string; authorization: string | undefined }[] = [];
    const storage = createServer((req, res) => {
      seen.push({ url: req.url ?? '', authorization: req.headers.authorization });
      res.writeHead(200, { 'content-length': String(data.length) });
      res.end(data);
    });
    await new Promise<void>((r) => storage.listen(0, '127.0.0.1', r));
    const storagePort = (storage.address() as { port: number }).port;
    raw = createServer((req, res) => {
      if (req.url?.startsWith('/stored/') === true) {
        seen.push({ url: req.url, authorization: req.headers.authorization });
        res.writeHead(200, { 'content-length': String(data.length) });
        res.end(data);
        return;
      }
      if (req.headers.authorization === undefined) {
        res.writeHead(401, { 'www-authenticate': 'Basic realm="test"' });
        res.end();
        return;
      }
      const location = sameOrigin
        ? '/stored/blob?sig=1'
        : `http://127.0.0.1:${storagePort}/bucket/blob?sig=1`;
      res.writeHead(307, { location });
      res.end();
    });
    await new Promise<void>((r) => raw!.listen(0, '127.0.0.1', r));
    try {
      const host = `127.0.0.1:${(raw.address() as { port: number }).port}`;
      const c = new RegistryClient(host, {
        retry: FAST,
        plainHttp: ['127.0.0.1'],
        credentials: { kind: 'basic', username: 'u', password: 'p' },
      });
      const layout = tmpLayout();
      const r = await pullBlob(c, 'a', blobOf(data), layout.blobs);
      expect(layout.blobs.readBytes(r.digest, 1_000_000).equals(data)).toBe(true);
      expect(seen).toHaveLength(1);
      expect(seen[0]!.url).toBe(sameOrigin ? '/stored/blob?sig=1' : '/bucket/blob?sig=1');
      if (sameOrigin) expect(seen[0]!.authorization).toMatch(/^Basic /);
      else expect(seen[0]!.authorization).toBeUndefined();
    } finally {
      await new Promise((r) => storage.close(r));
    }
  });

  it.each([true, false])(
    'resumes a dropped download (server honours Range: %s) and verifies the whole',
    async (honour) => {
      const data = randomBytes(2_000_000);
      const host = await flakyBlobServer(data, honour);
      const retries: string[] = [];
      const c = new RegistryClient(host, {
        retry: FAST,
        plainHttp: ['127.0.0.1'],
        onRetry: (i) => retries.push(i.reason),
      });
      const layout = tmpLayout();
      const r = await pullBlob(c, 'a', blobOf(data), layout.blobs);
      expect(r.digest).toBe(digestOf(data));
      expect(retries).toHaveLength(1);
      expect(layout.blobs.readBytes(r.digest, 10_000_000).equals(data)).toBe(true);
    },
  );

  it('never stores bytes that do not match the digest', async () => {
    const data = randomBytes(50_000);
    const host = await flakyBlobServer(data, true, 10);
    const c = new RegistryClient(host, { retry: FAST, plainHttp: ['127.0.0.1'] });
    const layout = tmpLayout();
    await expect(pullBlob(c, 'a', blobOf(data), layout.blobs)).rejects.toMatchObject({
      code: 'E_DIGEST_MISMATCH',
    });
    expect(layout.blobs.list().blobs).toEqual([]);
  });
});
