// A blob body goes to the registry with backpressure: while the server does not read, the
// transport stops reading the blob, so memory stays bounded whatever the blob's size.
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { afterEach, describe, expect, it } from 'vitest';
import { RegistryTransport } from '../../src/registry/transport.js';
import { fastRetry } from './helpers.js';

const MiB = 1024 * 1024;
const TOTAL = 64 * MiB;
const PAUSE_AT = 32 * MiB;
setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let server: Server | undefined;
afterEach(async () => {
  if (server !== undefined) await new Promise((r) => server!.close(r));
  server = undefined;
});

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
