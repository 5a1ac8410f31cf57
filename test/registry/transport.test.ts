// transport.ts on its own, against a tiny loopback HTTP server: which statuses come back, which are
// retried (and reported), how 401/403 and unreachable hosts become typed errors, the registry's
// error body in E_REGISTRY, and the scheme policy. The client's API is client.test.ts.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { IntegrityError } from '../../src/errors.js';
import { freePort } from '../helpers/registry.js';
import {
  bodyChunks,
  RegistryTransport,
  type RegistryRequest,
  type RegistryResponse,
  type RetryInfo,
} from '../../src/registry/transport.js';
import { fastRetry } from './helpers.js';

type Handler = (req: IncomingMessage, res: ServerResponse, n: number) => void;

let server: Server | undefined;
afterEach(async () => {
  if (server !== undefined) await new Promise((r) => server!.close(r));
  server = undefined;
});

/** A server answering with `handler` (n counts requests from 1); returns its host:port. */
async function serve(handler: Handler): Promise<{ host: string; seen: IncomingMessage[] }> {
  const seen: IncomingMessage[] = [];
  server = createServer((req, res) => {
    seen.push(req);
    handler(req, res, seen.length);
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
  return { host: `127.0.0.1:${(server.address() as { port: number }).port}`, seen };
}

const GET = (extra: Partial<RegistryRequest> = {}): RegistryRequest => ({
  method: 'GET',
  path: '/v2/app/manifests/v1',
  scopes: ['repository:app:pull'],
  expect: [200],
  what: 'manifest app:v1',
  ...extra,
});

function transport(host: string, options: ConstructorParameters<typeof RegistryTransport>[1] = {}) {
  return new RegistryTransport(host, { plainHttp: [host], retry: fastRetry(3), ...options });
}

describe('RegistryTransport', () => {
  describe('when the status is expected', () => {
    it('hands the response back with our user agent and the request headers', async () => {
      const s = await serve((_q, res) => res.end('hello'));
      const t = transport(s.host);
      const res = await t.request(GET({ headers: { accept: 'x/y' } }));
      expect(await res.text()).toBe('hello');
      expect(s.seen[0]!.headers['user-agent']).toBe('ocilayout');
      expect(s.seen[0]!.headers['accept']).toBe('x/y');
      const custom = transport(s.host, { userAgent: 'me/1' });
      await (await custom.request(GET())).text();
      expect(s.seen[1]!.headers['user-agent']).toBe('me/1');
    });

    it('sends a fresh body on each attempt', async () => {
      const bodies: string[] = [];
      const s = await serve((req, res, n) => {
        let b = '';
        req.on('data', (c: Buffer) => (b += c.toString()));
        req.on('end', () => {
          bodies.push(b);
          res.statusCode = n === 1 ? 503 : 201;
          res.end();
        });
      });
      let made = 0;
      const res = await transport(s.host).request(
        GET({ method: 'PUT', expect: [201], body: () => `body ${++made}` }),
      );
      expect(res.status).toBe(201);
      expect(bodies).toEqual(['body 1', 'body 2']);
    });
  });

  describe('when the registry fails', () => {
    it('retries transient statuses, reports each retry, then succeeds', async () => {
      const s = await serve((_q, res, n) => {
        res.statusCode = n < 3 ? [503, 429][n - 1]! : 200;
        res.end();
      });
      const retries: RetryInfo[] = [];
      const res = await transport(s.host, { onRetry: (i) => retries.push(i) }).request(GET());
      expect(res.status).toBe(200);
      expect(retries.map((r) => [r.registry, r.what, r.attempt])).toEqual([
        [s.host, 'manifest app:v1', 1],
        [s.host, 'manifest app:v1', 2],
      ]);
    });

    it('gives up after the policy attempts with E_REGISTRY naming the status', async () => {
      const s = await serve((_q, res) => {
        res.statusCode = 502;
        res.end('bad gateway');
      });
      await expect(transport(s.host).request(GET())).rejects.toMatchObject({
        code: 'E_REGISTRY',
        details: { status: 502, attempts: 3 },
      });
      expect(s.seen).toHaveLength(3);
    });

    it('does not retry with retry: false, nor a permanent status', async () => {
      const s = await serve((_q, res, n) => {
        res.statusCode = n === 1 ? 503 : 400;
        res.end();
      });
      const t = transport(s.host);
      await expect(t.request(GET({ retry: false }))).rejects.toMatchObject({
        details: { status: 503 },
      });
      await expect(t.request(GET())).rejects.toMatchObject({ details: { status: 400 } });
      expect(s.seen).toHaveLength(2);
    });

    it("puts the registry's error codes in details and a bounded text in the message", async () => {
      const s = await serve((req, res) => {
        res.statusCode = 400;
        if (req.url!.includes('json'))
          res.end('{"errors":[{"code":"MANIFEST_INVALID","message":"bad"},{"code":"X"}]}');
        else res.end(`  ${'z'.repeat(5000)}  `);
      });
      const t = transport(s.host);
      const json = await t.request(GET({ path: '/v2/json' })).catch((e: unknown) => e);
      expect(json).toMatchObject({
        code: 'E_REGISTRY',
        details: { errors: ['MANIFEST_INVALID', 'X'] },
      });
      expect((json as Error).message).toContain('MANIFEST_INVALID: bad');
      const text = await t.request(GET({ path: '/v2/text' })).catch((e: unknown) => e);
      expect(text).toMatchObject({ code: 'E_REGISTRY', details: { errors: [] } });
      expect((text as Error).message.length).toBeLessThan(400);
    });

    it('answers 403 and an unanswerable 401 with E_UNAUTHORIZED', async () => {
      const s = await serve((req, res) => {
        res.statusCode = req.url!.includes('403') ? 403 : 401;
        res.end();
      });
      const t = transport(s.host);
      await expect(t.request(GET({ path: '/v2/403' }))).rejects.toMatchObject({
        code: 'E_UNAUTHORIZED',
        details: { status: 403 },
      });
      await expect(t.request(GET({ path: '/v2/401' }))).rejects.toMatchObject({
        code: 'E_UNAUTHORIZED',
        details: { status: 401 },
      });
    });

    it('answers a Basic challenge once with the credentials, then sends them up front', async () => {
      const expected = `Basic ${Buffer.from('u:p').toString('base64')}`;
      const s = await serve((req, res) => {
        if (req.headers['authorization'] === expected) {
          res.end('ok');
          return;
        }
        res.writeHead(401, { 'www-authenticate': 'Basic realm="r"' });
        res.end();
      });
      const t = transport(s.host, {
        credentials: { kind: 'basic', username: 'u', password: 'p' },
      });
      expect(await (await t.request(GET())).text()).toBe('ok');
      expect(await (await t.request(GET())).text()).toBe('ok');
      expect(s.seen.map((r) => r.headers['authorization'])).toEqual([
        undefined,
        expected,
        expected,
      ]);
      const wrong = transport(s.host, {
        credentials: { kind: 'basic', username: 'u', password: 'nope' },
      });
      await expect(wrong.request(GET())).rejects.toMatchObject({ code: 'E_UNAUTHORIZED' });
    });
  });

  describe('when the host cannot be reached', () => {
    it('retries a refused connection, then throws E_NETWORK with the attempts', async () => {
      const port = await freePort();
      const retries: RetryInfo[] = [];
      const t = transport(`127.0.0.1:${port}`, { onRetry: (i) => retries.push(i) });
      await expect(t.request(GET())).rejects.toMatchObject({
        code: 'E_NETWORK',
        details: { code: 'ECONNREFUSED', attempts: 3 },
      });
      expect(retries).toHaveLength(2);
    });
  });

  describe('exchange', () => {
    it('retries a body that breaks while being read, and passes typed errors through', async () => {
      const s = await serve((_q, res, n) => {
        if (n === 1) {
          res.writeHead(200, { 'content-length': '100' });
          res.write('partial'); // headers and a first chunk reach the client...
          setTimeout(() => res.destroy(), 20); // ...then the connection drops
          return;
        }
        res.end('whole');
      });
      const t = transport(s.host);
      let consumed = 0;
      const read = (res: RegistryResponse): Promise<string> => (consumed++, res.text());
      expect(await t.exchange(GET(), read)).toBe('whole');
      expect(consumed).toBe(2);
      const typed = new IntegrityError('E_DIGEST_MISMATCH', 'no');
      await expect(t.exchange(GET(), () => Promise.reject(typed))).rejects.toBe(typed);
      expect(s.seen).toHaveLength(3); // the typed error was not retried
    });
  });

  describe('scheme policy', () => {
    it('uses https for a registry, http for a --plain-http host', () => {
      expect(new RegistryTransport('reg.example').origin).toBe('https://reg.example');
      expect(new RegistryTransport('reg.example:5000', { plainHttp: ['reg.example'] }).origin).toBe(
        'http://reg.example:5000',
      );
      expect(new RegistryTransport('docker.io').resolve('/v2/').href).toBe(
        'https://registry-1.docker.io/v2/',
      );
    });

    it('falls back to http for a loopback registry that does not speak TLS', async () => {
      const s = await serve((_q, res) => res.end('plain'));
      const t = new RegistryTransport(s.host, { retry: fastRetry(1) });
      expect(t.origin).toBe(`https://${s.host}`);
      expect(await (await t.request(GET())).text()).toBe('plain');
      expect(t.origin).toBe(`http://${s.host}`);
    });

    it('tries TLS once for concurrent first requests, the others waiting for its answer', async () => {
      const s = await serve((_q, res) => res.end('plain'));
      let hellos = 0; // a TLS hello is no HTTP request: the server sees a client error
      server!.on('clientError', (_err, socket) => {
        hellos++;
        socket.end('HTTP/1.1 400 Bad Request\r\n\r\n'); // what Node answers by default
      });
      const t = new RegistryTransport(s.host, { retry: fastRetry(1) });
      const answers = await Promise.all(
        [1, 2, 3, 4].map(async () => (await t.request(GET())).text()),
      );
      expect(answers).toEqual(['plain', 'plain', 'plain', 'plain']);
      expect(hellos).toBe(1);
      expect(s.seen).toHaveLength(4);
    });
  });

  describe('networkError', () => {
    const t = new RegistryTransport('reg.example');
    it('passes an OcilayoutError (or one carried as cause) through', () => {
      const inner = new IntegrityError('E_SIZE_MISMATCH', 'short');
      expect(t.networkError(inner, { what: 'x' })).toBe(inner);
      expect(t.networkError(new TypeError('fetch failed', { cause: inner }), { what: 'x' })).toBe(
        inner,
      );
    });

    it('hints at the CA for a certificate failure and at reachability otherwise', () => {
      const tls = t.networkError(
        new TypeError('fetch failed', { cause: { code: 'SELF_SIGNED_CERT_IN_CHAIN' } }),
        { what: 'x' },
      );
      expect(tls).toMatchObject({
        code: 'E_NETWORK',
        details: { code: 'SELF_SIGNED_CERT_IN_CHAIN' },
      });
      expect(tls.hint).toContain('NODE_EXTRA_CA_CERTS');
      const dns = t.networkError(Object.assign(new Error('x'), { code: 'ENOTFOUND' }), {
        what: 'x',
      });
      expect(dns.hint).not.toContain('NODE_EXTRA_CA_CERTS');
    });
  });
});

describe('bodyChunks', () => {
  it('yields nothing for a response without a body', async () => {
    const chunks: Uint8Array[] = [];
    for await (const c of bodyChunks(new Response(null, { status: 204 }))) chunks.push(c);
    expect(chunks).toEqual([]);
  });
});
