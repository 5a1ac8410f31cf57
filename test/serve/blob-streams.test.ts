import { randomBytes } from 'node:crypto';
import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { BlobStreamSlots } from '../../src/serve/blob-streams.js';
import { tmpDir } from '../helpers/tmp.js';
import { pushBlob, startServe } from './helpers.js';

/** Whether `p` has settled after the pending callbacks ran. */
async function settled(p: Promise<unknown>, waitMs = 0): Promise<boolean> {
  let done = false;
  void p.then(() => (done = true));
  await new Promise((r) => setTimeout(r, waitMs));
  return done;
}

describe('BlobStreamSlots', () => {
  it('runs up to max bodies; the next waits, and gets the first slot given back', async () => {
    const slots = new BlobStreamSlots(2);
    const a = slots.take();
    const b = slots.take();
    const c = slots.take();
    const d = slots.take();
    expect(await settled(a.ready)).toBe(true);
    expect(await settled(b.ready)).toBe(true);
    expect(await settled(c.ready)).toBe(false);
    expect([slots.running, slots.waiting]).toEqual([2, 2]);
    expect([a, b, c, d].map((s) => s.queued)).toEqual([false, false, true, true]);
    b.release();
    b.release(); // idempotent: gives back one slot, not two
    expect(await settled(c.ready)).toBe(true);
    expect(await settled(d.ready)).toBe(false);
    expect([slots.running, slots.waiting]).toEqual([2, 1]);
  });

  it('a request that leaves the queue settles, takes no slot and holds no place', async () => {
    const slots = new BlobStreamSlots(1);
    const a = slots.take();
    const gone = slots.take();
    const next = slots.take();
    gone.release();
    expect(await settled(gone.ready)).toBe(true);
    expect([slots.running, slots.waiting]).toEqual([1, 1]);
    a.release();
    expect(await settled(next.ready)).toBe(true);
    expect([slots.running, slots.waiting]).toEqual([1, 0]);
    next.release();
    expect(slots.running).toBe(0);
  });

  it('hands a given-back read buffer to the next body; keeps at most max of them', () => {
    const slots = new BlobStreamSlots(2, 1024, 4096, 1);
    const running = [slots.take(), slots.take()]; // more than bigReadBodies: small reads
    const a = slots.buffer();
    const b = slots.buffer();
    const c = slots.buffer();
    expect(a).toHaveLength(1024);
    expect(new Set([a.buffer, b.buffer, c.buffer]).size).toBe(3);
    slots.recycle(a);
    slots.recycle(b);
    slots.recycle(c); // beyond max: left to the GC
    slots.recycle(Buffer.alloc(10)); // not a read buffer
    const again = [slots.buffer(), slots.buffer(), slots.buffer()];
    expect(again[0]).toBe(b);
    expect(again[1]).toBe(a);
    expect(again[2]).not.toBe(c);
    expect(again[2]).toHaveLength(1024);
    for (const s of running) s.release();
  });

  it('a body that starts while few stream reads big; big buffers are kept as few', () => {
    const slots = new BlobStreamSlots(4, 1024, 4096, 1);
    const one = slots.take();
    const big = slots.buffer();
    expect(big).toHaveLength(4096);
    const two = slots.take();
    expect(slots.buffer()).toHaveLength(1024);
    slots.recycle(big);
    slots.recycle(Buffer.allocUnsafeSlow(4096)); // one big kept at most
    two.release();
    expect(slots.buffer()).toBe(big);
    expect(slots.buffer()).not.toBe(big);
    one.release();
  });
});

/** A GET whose client reads the headers and then nothing more (until destroyed). */
function stalledGet(url: string): { req: ClientRequest; res: Promise<IncomingMessage> } {
  let req!: ClientRequest;
  const res = new Promise<IncomingMessage>((resolve, reject) => {
    req = request(url, (r) => {
      r.pause();
      resolve(r);
    });
    req.on('error', reject);
    req.end();
  });
  return { req, res };
}

describe('blob GETs beyond maxBlobStreams wait their turn', () => {
  it('the next GET waits until a body ends, and a client that hangs up frees its slot', async () => {
    const reg = await startServe(tmpDir(), { limits: { maxBlobStreams: 1 } });
    // Far more than loopback socket buffers hold, so a client that does not read stalls the body.
    const big = randomBytes(48 * 1024 * 1024);
    const small = randomBytes(5000);
    const bigDigest = await pushBlob(reg.url, 'app', big);
    const smallDigest = await pushBlob(reg.url, 'app', small);
    const stalled = stalledGet(`${reg.url}/v2/app/blobs/${bigDigest}`);
    expect((await stalled.res).statusCode).toBe(200);

    const next = fetch(`${reg.url}/v2/app/blobs/${smallDigest}`);
    expect(await settled(next, 300)).toBe(false);
    // HEAD sends no body: it does not wait.
    const head = await fetch(`${reg.url}/v2/app/blobs/${smallDigest}`, { method: 'HEAD' });
    expect(head.status).toBe(200);

    stalled.req.destroy();
    const res = await next;
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(small)).toBe(true);
  });

  it('a waiting client that hangs up leaves the queue; the one after it is served', async () => {
    const reg = await startServe(tmpDir(), { limits: { maxBlobStreams: 1 } });
    const big = randomBytes(48 * 1024 * 1024);
    const small = randomBytes(5000);
    const bigDigest = await pushBlob(reg.url, 'app', big);
    const smallDigest = await pushBlob(reg.url, 'app', small);
    const stalled = stalledGet(`${reg.url}/v2/app/blobs/${bigDigest}`);
    await stalled.res;
    const waiting = stalledGet(`${reg.url}/v2/app/blobs/${bigDigest}`);
    waiting.res.catch(() => undefined);
    await new Promise((r) => setTimeout(r, 100));
    waiting.req.destroy();
    const next = fetch(`${reg.url}/v2/app/blobs/${smallDigest}`);
    expect(await settled(next, 200)).toBe(false);
    stalled.req.destroy();
    const res = await next;
    expect(Buffer.from(await res.arrayBuffer()).equals(small)).toBe(true);
    // Every GET ended (the hung-up ones as cut responses), none as a server failure.
    await new Promise((r) => setTimeout(r, 50));
    expect(reg.access.filter((l) => l.startsWith('GET'))).toHaveLength(3);
  });

  it('a GET waiting its turn longer than the idle timeout is served, not cut as idle', async () => {
    const reg = await startServe(tmpDir(), { limits: { maxBlobStreams: 1, idleTimeoutMs: 1000 } });
    const big = randomBytes(48 * 1024 * 1024);
    const small = randomBytes(5000);
    const bigDigest = await pushBlob(reg.url, 'app', big);
    const smallDigest = await pushBlob(reg.url, 'app', small);
    // The slot holder reads a little every 20 ms: never idle, never done within the test (an idle
    // timeout of a second leaves room for a loaded machine's scheduling gaps in the holder).
    const holder = stalledGet(`${reg.url}/v2/app/blobs/${bigDigest}`);
    const held = await holder.res;
    held.on('data', () => {
      held.pause();
      setTimeout(() => held.resume(), 20);
    });
    held.resume();
    const next = fetch(`${reg.url}/v2/app/blobs/${smallDigest}`);
    next.catch(() => undefined);
    // Two and a half idle timeouts in the queue.
    expect(await settled(next, 2500)).toBe(false);
    holder.req.destroy();
    const res = await next;
    expect(res.status).toBe(200);
    expect(Buffer.from(await res.arrayBuffer()).equals(small)).toBe(true);
  });
});
