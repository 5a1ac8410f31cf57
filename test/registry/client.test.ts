import { createServer, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { digestOf, MediaType } from '../../src/internal.js';
import { nextLink, RegistryClient } from '../../src/registry/client.js';
import { startReferrersServer, type ReferrersServer } from '../helpers/referrers-server.js';
import { fastRetry } from './helpers.js';

const FAST = fastRetry(2);
const EMPTY = { mediaType: MediaType.Empty, digest: digestOf('{}'), size: 2 };

function manifest(extra: Record<string, unknown> = {}): Buffer {
  return Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ImageManifest,
      config: EMPTY,
      layers: [EMPTY],
      ...extra,
    }),
  );
}

describe('RegistryClient against the referrers test server', () => {
  let server: ReferrersServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it('puts and gets manifests by tag and digest, verified', async () => {
    server = await startReferrersServer();
    const c = new RegistryClient(server.host, { retry: FAST });
    const bytes = manifest({ artifactType: 'application/x.test' });
    const put = await c.putManifest('a/b', 'v1', bytes, MediaType.ImageManifest);
    expect(put.digest).toBe(digestOf(bytes));
    expect(put.ociSubject).toBeUndefined(); // no subject, no OCI-Subject
    const byTag = await c.getManifest('a/b', 'v1');
    expect(byTag.bytes.equals(bytes)).toBe(true);
    expect(byTag.descriptor).toEqual({
      mediaType: MediaType.ImageManifest,
      digest: put.digest,
      size: bytes.length,
      artifactType: 'application/x.test',
    });
    const byDigest = await c.getManifest('a/b', put.digest);
    expect(byDigest.descriptor.digest).toBe(put.digest);
    expect(await c.headManifest('a/b', 'v1')).toMatchObject({
      digest: put.digest,
      size: bytes.length,
    });
    expect(await c.headManifest('a/b', 'nope')).toBeUndefined();
    await expect(c.getManifest('a/b', 'nope')).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
  });

  it('returns OCI-Subject when a registry with the referrers API processes a subject', async () => {
    server = await startReferrersServer();
    const c = new RegistryClient(server.host, { retry: FAST });
    const subject = await c.putManifest('r', 'v1', manifest(), MediaType.ImageManifest);
    const sig = manifest({
      artifactType: 'application/x.sig',
      subject: { mediaType: MediaType.ImageManifest, digest: subject.digest, size: 10 },
    });
    const put = await c.putManifest('r', digestOf(sig), sig, MediaType.ImageManifest);
    expect(put.ociSubject).toBe(subject.digest);
  });

  it('lists tags across Link pages', async () => {
    server = await startReferrersServer();
    const c = new RegistryClient(server.host, { retry: FAST });
    const bytes = manifest();
    for (const t of ['a', 'b', 'c', 'd', 'e'])
      await c.putManifest('r', t, bytes, MediaType.ImageManifest);
    expect(await c.listTags('r', 2)).toEqual(['a', 'b', 'c', 'd', 'e']);
    expect(server.log.filter((l) => l.startsWith('GET /v2/r/tags/list'))).toHaveLength(3);
  });

  it('pages through referrers and filters by artifactType (server- or client-side)', async () => {
    for (const filterArtifactType of [true, false]) {
      server = await startReferrersServer({ pageSize: 2, filterArtifactType });
      const c = new RegistryClient(server.host, { retry: FAST });
      const subject = await c.putManifest('r', 'v1', manifest(), MediaType.ImageManifest);
      const subj = { mediaType: MediaType.ImageManifest, digest: subject.digest, size: 1 };
      const made: string[] = [];
      for (let i = 0; i < 5; i++) {
        const m = manifest({
          artifactType: i % 2 === 0 ? 'application/x.sig' : 'application/x.sbom',
          subject: subj,
          annotations: { n: String(i) },
        });
        made.push((await c.putManifest('r', digestOf(m), m, MediaType.ImageManifest)).digest);
      }
      const all = await c.referrers('r', subject.digest);
      expect(all!.manifests.map((d) => d.digest).sort()).toEqual([...made].sort());
      const sigs = await c.referrers('r', subject.digest, { artifactType: 'application/x.sig' });
      expect(sigs!.manifests).toHaveLength(3);
      expect(sigs!.manifests.every((d) => d.artifactType === 'application/x.sig')).toBe(true);
      expect(sigs!.manifests.map((d) => d.annotations?.['n']).sort()).toEqual(['0', '2', '4']);
      await server.close();
      server = undefined;
    }
  });

  it('signals "no referrers API" with undefined on 404', async () => {
    server = await startReferrersServer({ referrersApi: false });
    const c = new RegistryClient(server.host, { retry: FAST });
    expect(await c.referrers('r', digestOf('x'))).toBeUndefined();
    const sig = manifest({
      subject: { mediaType: MediaType.ImageManifest, digest: digestOf('x'), size: 1 },
    });
    expect(
      (await c.putManifest('r', digestOf(sig), sig, MediaType.ImageManifest)).ociSubject,
    ).toBeUndefined();
  });
  it('sends PUT preconditions and turns a 412 into E_CONFLICT; the ETag comes with a GET', async () => {
    server = await startReferrersServer({ conditionalPut: 'etag' });
    const c = new RegistryClient(server.host, { retry: FAST });
    const v1 = manifest({ annotations: { v: '1' } });
    const v2 = manifest({ annotations: { v: '2' } });
    await c.putManifest('r', 't', v1, MediaType.ImageManifest, { ifNoneMatch: '*' });
    const got = await c.getManifest('r', 't');
    expect(got.etag).toBe(`"${digestOf(v1)}"`);
    // Create-only on an existing tag, and a stale validator: refused, nothing written.
    for (const conditions of [{ ifNoneMatch: '*' as const }, { ifMatch: '"sha256:stale"' }]) {
      await expect(
        c.putManifest('r', 't', v2, MediaType.ImageManifest, conditions),
      ).rejects.toMatchObject({ code: 'E_CONFLICT', details: { precondition: true } });
      expect(server.tags.get('r:t')).toBe(digestOf(v1));
    }
    await c.putManifest('r', 't', v2, MediaType.ImageManifest, { ifMatch: got.etag });
    expect(server.tags.get('r:t')).toBe(digestOf(v2));
    // A 412 we did not ask for is not a precondition answer: the usual E_REGISTRY.
    server.failNext(1, 412);
    await expect(c.putManifest('r', 't', v1, MediaType.ImageManifest)).rejects.toMatchObject({
      code: 'E_REGISTRY',
    });
  });
});

describe('RegistryClient against a misbehaving server', () => {
  let raw: Server | undefined;
  afterEach(async () => {
    if (raw !== undefined) await new Promise((r) => raw!.close(r));
    raw = undefined;
  });

  async function serve(
    handler: (path: string, res: ServerResponse, method: string) => void,
  ): Promise<RegistryClient> {
    raw = createServer((req, res) => {
      req.resume();
      req.on('end', () => handler(req.url ?? '', res, req.method ?? 'GET'));
    });
    await new Promise<void>((r) => raw!.listen(0, '127.0.0.1', r));
    const port = (raw.address() as { port: number }).port;
    return new RegistryClient(`127.0.0.1:${port}`, { retry: FAST });
  }

  it('refuses content that does not hash to the requested digest', async () => {
    const good = manifest();
    const c = await serve((_p, res) => {
      res.writeHead(200, { 'content-type': MediaType.ImageManifest });
      res.end(manifest({ annotations: { evil: 'yes' } }));
    });
    await expect(c.getManifest('a', digestOf(good))).rejects.toMatchObject({
      code: 'E_DIGEST_MISMATCH',
      details: { expected: digestOf(good) },
    });
  });

  it('refuses a Docker-Content-Digest that the bytes do not match', async () => {
    const c = await serve((_p, res) => {
      res.writeHead(200, {
        'content-type': MediaType.ImageManifest,
        'docker-content-digest': digestOf('something else'),
      });
      res.end(manifest());
    });
    const err: unknown = await c.getManifest('a', 'v1').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_DIGEST_MISMATCH' });
    expect((err as Error).message).toContain('Docker-Content-Digest');
  });

  it('refuses a manifest over 4 MiB, by Content-Length or while reading', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024 + 1, 0x20);
    for (const declare of [true, false]) {
      const c = await serve((_p, res) => {
        const headers: Record<string, string> = { 'content-type': MediaType.ImageManifest };
        if (declare) headers['content-length'] = String(big.length);
        res.writeHead(200, headers);
        res.end(big);
      });
      await expect(c.getManifest('a', 'v1')).rejects.toMatchObject({ code: 'E_TOO_LARGE' });
      await new Promise((r) => raw!.close(r));
      raw = undefined;
    }
  });

  // distribution's filesystem storage rewrites a manifest in place while another client PUTs it,
  // and for that moment answers a PUT naming it as a child with 400 MANIFEST_BLOB_UNKNOWN.
  for (const present of [true, false]) {
    it(`a PUT refused for an unknown child is retried ${present ? 'while every child answers HEAD' : 'never when a child is missing'}`, async () => {
      const bytes = manifest();
      let puts = 0;
      const heads: string[] = [];
      const c = await serve((path, res, method) => {
        if (method === 'PUT') {
          puts += 1;
          if (puts === 1) {
            res.writeHead(400, { 'content-type': 'application/json' });
            res.end('{"errors":[{"code":"MANIFEST_BLOB_UNKNOWN","message":"blob unknown"}]}');
            return;
          }
          res.writeHead(201, { 'docker-content-digest': digestOf(bytes) });
          res.end();
          return;
        }
        heads.push(`${method} ${path}`);
        res.writeHead(present ? 200 : 404, { 'content-length': '2' });
        res.end();
      });
      const put = c.putManifest('a', 'v1', bytes, MediaType.ImageManifest);
      if (present) {
        expect((await put).digest).toBe(digestOf(bytes));
        expect(puts).toBe(2);
        expect(heads).toContain(`HEAD /v2/a/blobs/${EMPTY.digest}`);
      } else {
        await expect(put).rejects.toMatchObject({ code: 'E_REGISTRY', details: { status: 400 } });
        expect(puts).toBe(1);
      }
    });
  }

  it('refuses a referrers answer that is not an image index', async () => {
    const c = await serve((_p, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"hello":1}');
    });
    await expect(c.referrers('a', digestOf('x'))).rejects.toMatchObject({
      code: 'E_REGISTRY',
    });
  });
});

describe('nextLink', () => {
  const base = new URL('http://h:1/v2/a/tags/list?n=2');
  it('resolves relative and absolute next links', () => {
    expect(nextLink('</v2/a/tags/list?n=2&last=b>; rel="next"', base)).toBe(
      '/v2/a/tags/list?n=2&last=b',
    );
    expect(nextLink('<http://h:1/v2/x?p=2>; rel=next', base)).toBe('/v2/x?p=2');
    expect(nextLink('<https://other/v2/x>; rel="next"', base)).toBe('https://other/v2/x');
    expect(nextLink('</v2/p>; rel="prev", </v2/n>; rel="next"', base)).toBe('/v2/n');
    expect(nextLink('</v2/p>; rel="prev"', base)).toBeUndefined();
    expect(nextLink(null, base)).toBeUndefined();
  });
});
