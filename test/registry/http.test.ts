// A blob body goes to the registry with backpressure: while the server does not read, the
// transport stops reading the blob, so memory stays bounded whatever the blob's size. Redirects
// are followed as fetch follows them, and connections are reused across small requests.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { send } from '../../src/registry/http.js';
import { RegistryTransport } from '../../src/registry/transport.js';
import { fastRetry } from './helpers.js';

const MiB = 1024 * 1024;
const TOTAL = 64 * MiB;
const PAUSE_AT = 32 * MiB;
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let server: Server | undefined;
let other: Server | undefined;
afterEach(async () => {
  for (const s of [server, other]) {
    if (s === undefined) continue;
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
  server = other = undefined;
});

interface Seen {
  method: string;
  url: string;
  headers: IncomingMessage['headers'];
  body: string;
}

/** A server that records each request (with its body) and answers with `handler`. */
async function recording(
  handler: (seen: Seen, res: ServerResponse) => void,
): Promise<{ origin: string; seen: Seen[]; server: Server; connections: () => number }> {
  const seen: Seen[] = [];
  let connections = 0;
  const s = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const one = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body: Buffer.concat(chunks).toString(),
      };
      seen.push(one);
      handler(one, res);
    });
  });
  s.on('connection', () => connections++);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const origin = `http://127.0.0.1:${(s.address() as { port: number }).port}`;
  return { origin, seen, server: s, connections: () => connections };
}

const IDLE = 10_000;

function settle(): Promise<void> {
  return new Promise((r) => setTimeout(r, 100));
}

describe('uploads through the transport', () => {
  it('hold only a few MiB of the blob while the registry reads it', async () => {
    let paused: IncomingMessage | undefined;
    let received = 0;
    server = createServer((req, res) => {
      req.on('data', (c: Buffer) => {
        received += c.length;
        if (paused === undefined && received >= PAUSE_AT) {
          paused = req;
          req.pause(); // a slow registry, half-way through
        }
      });
      req.on('end', () => {
        res.writeHead(201);
        res.end();
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
    const t = new RegistryTransport(host, { plainHttp: [host], retry: fastRetry(1) });
    gc();
    const before = process.memoryUsage().arrayBuffers;
    let produced = 0;
    async function* blob(): AsyncGenerator<Uint8Array> {
      for (; produced < TOTAL; produced += MiB) {
        yield Buffer.alloc(MiB, 7);
        await Promise.resolve();
      }
    }
    const put = t.request({
      method: 'PUT',
      path: '/v2/r/blobs/uploads/x',
      headers: { 'content-length': String(TOTAL) },
      body: () => blob(),
      scopes: [],
      expect: [201],
      what: 'upload',
    });
    while (paused === undefined) await settle();
    // Bytes the server has read are garbage unless the sender keeps them: Node's fetch keeps a copy
    // of every chunk of a streamed request body until the request ends (32 MiB here).
    for (let i = 0; i < 3; i++) {
      gc();
      await settle();
    }
    expect(produced).toBeGreaterThanOrEqual(PAUSE_AT);
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(12 * MiB);
    paused.resume();
    const res = await put;
    expect(res.status).toBe(201);
    expect(received).toBe(TOTAL);
  });

  it("fail with the body's own error, not a network error", async () => {
    server = createServer((req) => req.resume());
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
    const host = `127.0.0.1:${(server.address() as { port: number }).port}`;
    const t = new RegistryTransport(host, { plainHttp: [host], retry: fastRetry(1) });
    class Corrupt extends Error {}
    async function* blob(): AsyncGenerator<Uint8Array> {
      yield Buffer.alloc(1024);
      await Promise.resolve();
      throw new Corrupt('source blob failed verification');
    }
    const put = t.request({
      method: 'PUT',
      path: '/v2/r/blobs/uploads/x',
      headers: { 'content-length': '4096' },
      body: () => blob(),
      scopes: [],
      expect: [201],
      retry: false,
      what: 'upload',
    });
    await expect(put).rejects.toThrow();
    const err: unknown = await put.catch((e: unknown) => e);
    const chain: unknown[] = [];
    for (let e = err; e instanceof Error; e = e.cause) chain.push(e);
    expect(chain.some((e) => e instanceof Corrupt)).toBe(true);
  });
});

describe('send', () => {
  it('turns a POST into a bodiless GET on 303, and repeats a PUT with its body on 307', async () => {
    const r = await recording((q, res) => {
      if (q.url === '/post') res.writeHead(303, { location: '/got' }).end();
      else if (q.url === '/put') res.writeHead(307, { location: '/put2' }).end();
      else res.end(`${q.method} ${q.url}`);
    });
    server = r.server;
    const headers = { 'content-type': 'text/plain', authorization: 'Bearer t' };
    const post = await send(new URL('/post', r.origin), {
      method: 'POST',
      headers,
      body: 'form',
      idleMs: IDLE,
    });
    expect(await post.text()).toBe('GET /got');
    expect(r.seen[1]).toMatchObject({ method: 'GET', body: '' });
    expect(r.seen[1]!.headers['content-type']).toBeUndefined();
    expect(r.seen[1]!.headers['authorization']).toBe('Bearer t'); // same origin: kept
    const put = await send(new URL('/put', r.origin), {
      method: 'PUT',
      headers,
      body: Buffer.from('bytes'),
      idleMs: IDLE,
    });
    expect(await put.text()).toBe('PUT /put2');
    expect(r.seen[3]).toMatchObject({ method: 'PUT', body: 'bytes' });
    expect(r.seen[3]!.headers['content-length']).toBe('5');
  });

  it('sends credentials to no other origin a redirect names', async () => {
    const storage = await recording((_q, res) => res.end('blob'));
    other = storage.server;
    const r = await recording((_q, res) =>
      res.writeHead(302, { location: `${storage.origin}/signed?x=1` }).end(),
    );
    server = r.server;
    const res = await send(new URL('/v2/a/blobs/x', r.origin), {
      method: 'GET',
      headers: { authorization: 'Bearer secret', accept: 'x/y' },
      idleMs: IDLE,
    });
    expect(await res.text()).toBe('blob');
    expect(storage.seen[0]!.url).toBe('/signed?x=1');
    expect(storage.seen[0]!.headers['authorization']).toBeUndefined();
    expect(storage.seen[0]!.headers['accept']).toBe('x/y');
  });

  it('hands back the redirect of a streamed body, which cannot be sent twice', async () => {
    const r = await recording((_q, res) => res.writeHead(307, { location: '/again' }).end());
    server = r.server;
    async function* blob(): AsyncGenerator<Uint8Array> {
      yield Buffer.from('once');
      await Promise.resolve();
    }
    const res = await send(new URL('/up', r.origin), {
      method: 'PUT',
      headers: { 'content-length': '4' },
      body: blob(),
      idleMs: IDLE,
    });
    expect(res.status).toBe(307);
    expect(res.headers.get('location')).toBe('/again');
    expect(r.seen).toHaveLength(1);
  });

  it('keeps the connection for the next request after a HEAD or a small body cancelled unread', async () => {
    const r = await recording((q, res) => {
      const body = JSON.stringify({ errors: [] });
      // With its length, as a registry answers (a HEAD included): the connection can be kept.
      res.writeHead(q.url.endsWith('/small') ? 404 : 200, {
        'content-type': 'application/json',
        'content-length': String(body.length),
      });
      res.end(q.method === 'HEAD' ? undefined : body);
    });
    server = r.server;
    const host = new URL(r.origin).host;
    const t = new RegistryTransport(host, { plainHttp: [host], retry: fastRetry(1) });
    const ask = (method: 'GET' | 'HEAD', path: string) =>
      t.request({ method, path, scopes: [], expect: [200, 404], what: path });
    const head = await ask('HEAD', '/v2/head');
    expect(head.body).toBeNull();
    expect(head.headers.get('Content-Type')).toBe('application/json');
    for (let i = 0; i < 3; i++) {
      const res = await ask('GET', '/v2/small');
      expect(res.status).toBe(404);
      expect(res.ok).toBe(false);
      await res.body?.cancel();
    }
    expect(await (await ask('GET', '/v2/json')).json()).toEqual({ errors: [] });
    expect(r.seen).toHaveLength(5);
    expect(r.connections()).toBe(1);
  });

  it('closes the connection instead of reading a large body cancelled unread', async () => {
    const big = Buffer.alloc(4 * 1024 * 1024, 1);
    const r = await recording((_q, res) => res.end(big));
    server = r.server;
    for (let i = 0; i < 2; i++) {
      const res = await send(new URL('/blob', r.origin), {
        method: 'GET',
        headers: {},
        idleMs: IDLE,
      });
      expect(res.status).toBe(200);
      await res.body?.cancel();
    }
    expect(r.connections()).toBe(2);
  });
});
