import { execFileSync } from 'node:child_process';
import { readFileSync, statSync, unlinkSync, writeFileSync, chmodSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { Digest } from '../../src/digest.js';
import { Layout } from '../../src/layout/layout.js';
import { IndexStore } from '../../src/store/index-store.js';
import { RACY_SLACK_NS } from '../../src/store/file-version.js';
import { VerifiedManifests } from '../../src/serve/verified-manifests.js';
import { tmpDir } from '../helpers/tmp.js';
import { OCI_INDEX, OCI_MANIFEST, pushImage, sha256, startServe, testImage } from './helpers.js';

// The server's view of the wall clock, moved ahead to make what was just written count as settled.
const clock = vi.hoisted(() => ({ aheadNs: 0n }));
vi.mock('../../src/store/file-version.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/store/file-version.js')>();
  return { ...real, wallClockNs: () => real.wallClockNs() + clock.aheadNs };
});

const D1 = `sha256:${'1'.repeat(64)}` as Digest;
const D2 = `sha256:${'2'.repeat(64)}` as Digest;
const statBig = (path: string) => statSync(path, { bigint: true });
const settled = (ctimeNs: bigint): bigint => ctimeNs + RACY_SLACK_NS + 1n;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('VerifiedManifests', () => {
  it('knows a recorded file until any of its identity changes', () => {
    const cache = new VerifiedManifests();
    const path = join(tmpDir(), 'f');
    writeFileSync(path, 'abc');
    const st = statBig(path);
    expect(cache.get(D1, st)).toBeUndefined();
    expect(
      cache.record(D1, st, settled(st.ctimeNs), Buffer.from('abc'), { validatedAs: 'x' }),
    ).toBe(true);
    expect(cache.get(D1, statBig(path))?.bytes.toString()).toBe('abc');
    expect([...cache.get(D1, st)!.validatedAs]).toEqual(['x']);
    expect(cache.get(D2, st)).toBeUndefined();
    for (const change of [
      { ctimeNs: st.ctimeNs + 1n },
      { mtimeNs: st.mtimeNs + 1n },
      { size: st.size + 1n },
      { ino: st.ino + 1n },
      { dev: st.dev + 1n },
    ]) {
      expect(cache.get(D1, { ...st, ...change })).toBeUndefined();
    }
  });

  it('keeps nothing changed too recently to be trusted, or too large', () => {
    const cache = new VerifiedManifests(100, 10);
    const path = join(tmpDir(), 'f');
    writeFileSync(path, 'abc');
    const st = statBig(path);
    const how = { validatedAs: 'x' };
    expect(cache.record(D1, st, st.ctimeNs + RACY_SLACK_NS, Buffer.from('abc'), how)).toBe(false);
    expect(cache.record(D1, st, settled(st.ctimeNs), Buffer.alloc(11), how)).toBe(false);
    expect(cache.size).toBe(0);
  });

  it('holds at most maxBytes, dropping the least recently used', () => {
    const cache = new VerifiedManifests(25, 10);
    const path = join(tmpDir(), 'f');
    writeFileSync(path, 'abc');
    const base = statBig(path);
    const nth = (i: number) => ({ ...base, ino: BigInt(1000 + i) });
    const now = settled(base.ctimeNs);
    const how = { validatedAs: 'x' };
    for (const i of [1, 2]) cache.record(D1, nth(i), now, Buffer.alloc(10), how);
    expect(cache.get(D1, nth(1))).toBeDefined(); // 1 is now the most recent
    cache.record(D1, nth(3), now, Buffer.alloc(10), how);
    expect(cache.heldBytes).toBe(20);
    expect(cache.get(D1, nth(2))).toBeUndefined();
    expect(cache.get(D1, nth(1))).toBeDefined();
    expect(cache.get(D1, nth(3))).toBeDefined();
  });
});

describe('manifest GETs read, hash and parse a manifest once per change of its file', () => {
  afterEach(() => {
    clock.aheadNs = 0n;
    vi.restoreAllMocks();
  });
  const laterClock = (): void => {
    clock.aheadNs = 2n * RACY_SLACK_NS;
  };

  async function served(options: Parameters<typeof startServe>[1] = {}) {
    const reg = await startServe(tmpDir(), { allowDelete: true, ...options });
    const image = testImage('one');
    expect((await pushImage(reg.url, 'app', image, 'v1')).status).toBe(201);
    const layout = reg.repositories.open('app');
    const path = layout.blobs.path(image.digest as Digest);
    const reads = vi.spyOn(Layout.prototype, 'getManifest');
    const get = async (ref: string) => {
      const res = await fetch(`${reg.url}/v2/app/manifests/${ref}`, {
        headers: { Accept: `${OCI_MANIFEST}, ${OCI_INDEX}` },
      });
      const body = Buffer.from(await res.arrayBuffer());
      return { status: res.status, digest: res.headers.get('docker-content-digest'), body };
    };
    return { reg, image, layout, path, reads, get };
  }

  it('serves a settled manifest from memory, by tag and by digest', async () => {
    const { image, reads, get } = await served();
    laterClock();
    for (const ref of ['v1', 'v1', image.digest, image.digest]) {
      const got = await get(ref);
      expect(got.status).toBe(200);
      expect(got.body.equals(image.manifest)).toBe(true);
      expect(got.digest).toBe(image.digest);
    }
    expect(reads).toHaveBeenCalledTimes(1);
  });

  it('with verifyReads "always", reads every time', async () => {
    const { image, reads, get } = await served({ verifyReads: 'always' });
    laterClock();
    for (const ref of ['v1', 'v1', image.digest]) expect((await get(ref)).status).toBe(200);
    expect(reads).toHaveBeenCalledTimes(3);
  });

  it('a manifest replaced by other bytes of the same size is read again, and refused', async () => {
    const { reg, image, path, reads, get } = await served();
    laterClock();
    expect((await get('v1')).status).toBe(200);
    expect((await get('v1')).status).toBe(200);
    expect(reads).toHaveBeenCalledTimes(1);
    await sleep(30);
    // Another process writes it in place: same inode, same size, another byte.
    const other = Buffer.from(image.manifest);
    other[other.length - 2] = other[other.length - 2]! ^ 0x01;
    chmodSync(path, 0o644);
    execFileSync(process.execPath, [
      '-e',
      `require('node:fs').writeFileSync(${JSON.stringify(path)}, Buffer.from(${JSON.stringify(other.toString('base64'))}, 'base64'))`,
    ]);
    expect(readFileSync(path).equals(other)).toBe(true);
    expect((await get('v1')).status).toBe(500);
    expect(reads).toHaveBeenCalledTimes(2);
    expect(reg.internal.map((e) => (e as { code?: string }).code)).toEqual(['E_DIGEST_MISMATCH']);
    reg.internal.splice(0);
  });

  it('a deleted manifest is not served: DELETE, and its file removed', async () => {
    const { reg, image, path, get } = await served();
    laterClock();
    expect((await get(image.digest)).status).toBe(200);
    expect((await get(image.digest)).status).toBe(200);
    unlinkSync(path);
    expect((await get(image.digest)).status).toBe(404);
    expect((await get('v1')).status).toBe(404);

    const two = testImage('two');
    expect((await pushImage(reg.url, 'app', two, 'v2')).status).toBe(201);
    expect((await get(two.digest)).status).toBe(200);
    expect((await get(two.digest)).status).toBe(200);
    const del = await fetch(`${reg.url}/v2/app/manifests/${two.digest}`, { method: 'DELETE' });
    expect(del.status).toBe(202);
    expect((await get(two.digest)).status).toBe(404);
  });

  it('a child manifest no entry lists is described once, then served from memory', async () => {
    const { reg, image, reads, get } = await served();
    const index = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: OCI_INDEX,
        manifests: [{ mediaType: OCI_MANIFEST, digest: image.digest, size: image.manifest.length }],
      }),
    );
    const put = await fetch(`${reg.url}/v2/app/manifests/multi`, {
      method: 'PUT',
      body: index,
      headers: { 'Content-Type': OCI_INDEX },
    });
    expect(put.status).toBe(201);
    // Untag v1: the image is now only a child of the index.
    expect((await fetch(`${reg.url}/v2/app/manifests/v1`, { method: 'DELETE' })).status).toBe(202);
    laterClock();
    for (let i = 0; i < 3; i++) {
      const got = await get(image.digest);
      expect(got.status).toBe(200);
      expect(got.digest).toBe(sha256(image.manifest));
    }
    expect(reads).toHaveBeenCalledTimes(1);
  });

  it('a tag moved while serving is seen on the next GET: by this process and by another', async () => {
    const { reg, image, layout, get } = await served();
    const two = testImage('two');
    expect((await pushImage(reg.url, 'app', two, 'v2')).status).toBe(201);
    const indexReads = vi.spyOn(IndexStore.prototype, 'readVersion');
    laterClock();
    expect((await get('v1')).digest).toBe(image.digest);
    expect((await get('v1')).digest).toBe(image.digest);
    expect(indexReads).toHaveBeenCalledTimes(1);
    // The library, in this process (index.json renamed into place).
    await layout.tag({ digest: two.digest }, ['v1']);
    expect((await get('v1')).digest).toBe(two.digest);
    expect((await get('v1')).digest).toBe(two.digest);
    expect(indexReads).toHaveBeenCalledTimes(3); // the tag's own read, then one GET's
    // Another process rewrites index.json in place, same size: both tags back on the first image.
    await sleep(30);
    const indexPath = join(layout.root, 'index.json');
    const text = readFileSync(indexPath, 'utf8');
    const swapped = text
      .replaceAll(image.digest, 'A'.repeat(image.digest.length))
      .replaceAll(two.digest, image.digest)
      .replaceAll('A'.repeat(image.digest.length), two.digest);
    expect(swapped).not.toBe(text);
    expect(swapped.length).toBe(text.length);
    execFileSync(process.execPath, [
      '-e',
      `require('node:fs').writeFileSync(${JSON.stringify(indexPath)}, ${JSON.stringify(swapped)})`,
    ]);
    expect((await get('v1')).digest).toBe(image.digest);
    expect((await get('v2')).digest).toBe(image.digest);
  });
});
