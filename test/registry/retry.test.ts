import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { RegistryClient } from '../../src/registry/client.js';
import {
  backoffDelay,
  DEFAULT_RETRY_POLICY,
  isRetryableStatus,
  networkErrorCode,
  parseRetryAfter,
  withRetry,
  type RetryPolicy,
} from '../../src/registry/retry.js';
import { startReferrersServer, type ReferrersServer } from '../helpers/referrers-server.js';
import { freePort } from '../helpers/registry.js';

/** A policy that records its sleeps instead of sleeping. */
function recordingPolicy(attempts = 4): RetryPolicy & { slept: number[] } {
  const slept: number[] = [];
  return {
    ...DEFAULT_RETRY_POLICY,
    attempts,
    random: () => 1,
    sleep: (ms) => {
      slept.push(ms);
      return Promise.resolve();
    },
    slept,
  };
}

describe('retry policy', () => {
  it('backs off exponentially with full jitter, capped', () => {
    const p: RetryPolicy = {
      ...DEFAULT_RETRY_POLICY,
      baseDelayMs: 100,
      maxDelayMs: 1000,
      random: () => 1,
    };
    expect([1, 2, 3, 4, 5, 6].map((n) => backoffDelay(p, n))).toEqual([
      100, 200, 400, 800, 1000, 1000,
    ]);
    expect(backoffDelay({ ...p, random: () => 0.5 }, 3)).toBe(200);
    expect(backoffDelay({ ...p, random: () => 0 }, 3)).toBe(0);
  });

  it('prefers Retry-After, capped by maxRetryAfterMs', () => {
    const p: RetryPolicy = { ...DEFAULT_RETRY_POLICY, maxRetryAfterMs: 5000 };
    expect(backoffDelay(p, 1, 3000)).toBe(3000);
    expect(backoffDelay(p, 1, 3_600_000)).toBe(5000);
  });

  it('reads Retry-After as seconds or an HTTP date', () => {
    const now = Date.parse('2026-01-01T00:00:00Z');
    expect(parseRetryAfter('7', now)).toBe(7000);
    expect(parseRetryAfter('Thu, 01 Jan 2026 00:00:03 GMT', now)).toBe(3000);
    expect(parseRetryAfter('Wed, 31 Dec 2025 00:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });

  it('retries only transient statuses', () => {
    expect([408, 429, 500, 502, 503, 504].every(isRetryableStatus)).toBe(true);
    expect([400, 401, 403, 404, 501, 505].some(isRetryableStatus)).toBe(false);
  });

  it('finds the socket error code inside fetch errors', () => {
    const e = new TypeError('fetch failed', {
      cause: Object.assign(new Error('x'), { code: 'ECONNRESET' }),
    });
    expect(networkErrorCode(e)).toBe('ECONNRESET');
    expect(networkErrorCode(new TypeError('terminated'))).toBe('UND_ERR_SOCKET');
    expect(networkErrorCode(new Error('plain'))).toBeUndefined();
  });

  it('stops after the bounded number of attempts and rethrows the last error', async () => {
    const p = recordingPolicy(3);
    let n = 0;
    await expect(
      withRetry(p, () => Promise.resolve({ done: false, error: new Error(`fail ${++n}`) })),
    ).rejects.toThrow('fail 3');
    expect(p.slept).toEqual([250, 500]);
  });
});

describe('client retries against a local server that fails N times', () => {
  let server: ReferrersServer | undefined;
  let raw: Server | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
    if (raw !== undefined) await new Promise((r) => raw!.close(r));
    raw = undefined;
  });

  it('succeeds after two 503s, honouring Retry-After', async () => {
    server = await startReferrersServer();
    const policy = recordingPolicy(4);
    const retries: string[] = [];
    const client = new RegistryClient(server.host, {
      retry: policy,
      onRetry: (i) => retries.push(i.what),
    });
    server.failNext(2, 503, '2');
    expect(await client.listTags('a')).toEqual([]);
    expect(policy.slept).toEqual([2000, 2000]);
    expect(retries).toEqual(['tag list of a', 'tag list of a']);
  });

  it('gives up with E_REGISTRY after the policy is exhausted', async () => {
    server = await startReferrersServer();
    const policy = recordingPolicy(3);
    const client = new RegistryClient(server.host, { retry: policy });
    server.failNext(10, 502);
    await expect(client.listTags('a')).rejects.toMatchObject({ code: 'E_REGISTRY' });
    expect(policy.slept).toHaveLength(2);
    // Three attempts (the TLS probe that found plain HTTP never reaches the handler).
    expect(server.log).toHaveLength(3);
  });

  it('does not retry a permanent error', async () => {
    server = await startReferrersServer();
    const policy = recordingPolicy(5);
    const client = new RegistryClient(server.host, { retry: policy });
    server.failNext(1, 400);
    await expect(client.listTags('a')).rejects.toMatchObject({ code: 'E_REGISTRY' });
    expect(policy.slept).toEqual([]);
  });

  it('retries dropped connections, then reports E_NETWORK naming the registry', async () => {
    let requests = 0;
    raw = createServer((req) => {
      requests++;
      req.socket.destroy(); // drop the connection without an answer
    });
    await new Promise<void>((r) => raw!.listen(0, '127.0.0.1', r));
    const port = (raw.address() as { port: number }).port;
    const policy = recordingPolicy(3);
    const client = new RegistryClient(`127.0.0.1:${port}`, {
      retry: policy,
      plainHttp: [`127.0.0.1`],
    });
    const err: unknown = await client.listTags('a').catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'E_NETWORK' });
    expect((err as Error).message).toContain(`127.0.0.1:${port}`);
    expect((err as Error).message).toContain('after 3 attempts');
    expect(requests).toBe(3);
  });

  it('recovers when the server drops the first connections and then answers', async () => {
    let requests = 0;
    raw = createServer((req, res) => {
      if (++requests <= 2) {
        req.socket.destroy();
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ name: 'a', tags: ['v1'] }));
    });
    await new Promise<void>((r) => raw!.listen(0, '127.0.0.1', r));
    const port = (raw.address() as { port: number }).port;
    const client = new RegistryClient(`127.0.0.1:${port}`, {
      retry: recordingPolicy(4),
      plainHttp: ['127.0.0.1'],
    });
    expect(await client.listTags('a')).toEqual(['v1']);
    expect(requests).toBe(3);
  });

  it('fails fast with E_NETWORK when nothing listens, after bounded retries', async () => {
    const policy = recordingPolicy(2);
    const port = await freePort(); // nothing listens there
    const client = new RegistryClient(`127.0.0.1:${port}`, { retry: policy });
    await expect(client.listTags('a')).rejects.toMatchObject({ code: 'E_NETWORK' });
    expect(policy.slept).toHaveLength(1);
  });
});
