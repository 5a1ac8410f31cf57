import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  fstatSync,
  openSync,
  readSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { newHash, type Digest } from '../../src/digest.js';
import { VerifiedBlobs } from '../../src/serve/verified-blobs.js';
import { RACY_SLACK_NS } from '../../src/store/file-version.js';
import { tmpDir } from '../helpers/tmp.js';
import { pushBlob, sha256, startServe } from './helpers.js';

// Counts the hashes the server starts, to tell a verified response from a trusted one.
vi.mock('../../src/digest.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/digest.js')>();
  return { ...real, newHash: vi.fn(real.newHash) };
});
const hashesStarted = (): number => vi.mocked(newHash).mock.calls.length;
// The server's view of the wall clock, moved ahead to make what was just pushed count as settled.
const clock = vi.hoisted(() => ({ aheadNs: 0n }));
vi.mock('../../src/store/file-version.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/store/file-version.js')>();
  return { ...real, wallClockNs: () => real.wallClockNs() + clock.aheadNs };
});

const D1 = `sha256:${'1'.repeat(64)}` as Digest;
const D2 = `sha256:${'2'.repeat(64)}` as Digest;

function fileStat(bytes: string): { path: string; st: ReturnType<typeof statBig> } {
  const path = join(tmpDir(), 'f');
  writeFileSync(path, bytes);
  return { path, st: statBig(path) };
}
const statBig = (path: string) => statSync(path, { bigint: true });
/** Long enough after `ctimeNs` for it to be trusted. */
const settled = (ctimeNs: bigint): bigint => ctimeNs + RACY_SLACK_NS + 1n;

describe('VerifiedBlobs', () => {
  it('knows a recorded file until any of its identity changes', () => {
    const cache = new VerifiedBlobs();
    const { path, st } = fileStat('abc');
    expect(cache.has(D1, st)).toBe(false);
    expect(cache.record(D1, st, settled(st.ctimeNs))).toBe(true);
    expect(cache.has(D1, statBig(path))).toBe(true);
    // Another digest for the same file is not vouched for.
    expect(cache.has(D2, st)).toBe(false);
    for (const change of [
      { ctimeNs: st.ctimeNs + 1n },
      { mtimeNs: st.mtimeNs + 1n },
      { size: st.size + 1n },
      { ino: st.ino + 1n },
      { dev: st.dev + 1n },
    ]) {
      expect(cache.has(D1, { ...st, ...change })).toBe(false);
    }
  });

  it('does not record a file changed too recently for its ctime to be trusted', () => {
    const cache = new VerifiedBlobs();
    const { st } = fileStat('abc');
    expect(cache.record(D1, st, st.ctimeNs + RACY_SLACK_NS)).toBe(false);
    expect(cache.has(D1, st)).toBe(false);
    expect(cache.record(D1, st, settled(st.ctimeNs))).toBe(true);
    expect(cache.has(D1, st)).toBe(true);
  });

  it('keeps at most maxEntries, dropping the least recently used', () => {
    const cache = new VerifiedBlobs(2);
    const base = fileStat('abc').st;
    const nth = (i: number) => ({ ...base, ino: BigInt(1000 + i) });
    const now = settled(base.ctimeNs);
    cache.record(D1, nth(1), now);
    cache.record(D1, nth(2), now);
    expect(cache.has(D1, nth(1))).toBe(true); // 1 is now the most recent
    cache.record(D1, nth(3), now);
    expect(cache.size).toBe(2);
    expect(cache.has(D1, nth(2))).toBe(false);
    expect(cache.has(D1, nth(1))).toBe(true);
    expect(cache.has(D1, nth(3))).toBe(true);
  });
});

/** Flip the byte at `at` of the file in place (same size), as a stray writer would. */
function corruptInPlace(path: string, at: number): void {
  const before = statSync(path, { bigint: true }).ctimeNs;
  chmodSync(path, 0o644);
  const fd = openSync(path, 'r+');
  try {
    const b = Buffer.alloc(1);
    readSync(fd, b, 0, 1, at);
    b[0] = b[0]! ^ 0xff;
    writeSync(fd, b, 0, 1, at);
    // The test relies on the write changing ctime (a coarse clock tick apart from the push).
    expect(fstatSync(fd, { bigint: true }).ctimeNs).not.toBe(before);
  } finally {
    closeSync(fd);
  }
}

/**
 * GET a blob whole: its bytes, or the error that cut it (before its headers, when the only read
 * failed its check; mid-body otherwise).
 */
async function getWhole(url: string, digest: string): Promise<Buffer | Error> {
  try {
    const res = await fetch(`${url}/v2/app/blobs/${digest}`);
    expect(res.status).toBe(200);
    return Buffer.from(await res.arrayBuffer());
  } catch (err) {
    return err as Error;
  }
}

/** Whole and right (compared as bytes: a deep equality of megabytes takes seconds). */
function expectWhole(got: Buffer | Error, bytes: Buffer): void {
  expect(got).toBeInstanceOf(Buffer);
  expect((got as Buffer).equals(bytes)).toBe(true);
}

/** The server reported each corrupt blob it refused to finish (and nothing else). */
function expectCorruptionReported(internal: unknown[], times: number): void {
  expect(internal.map((e) => (e as { code?: string }).code)).toEqual(
    Array(times).fill('E_DIGEST_MISMATCH'),
  );
  internal.splice(0);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('blob GETs hash a blob once per change of its file', () => {
  afterEach(() => {
    clock.aheadNs = 0n;
  });

  /** The clock moved on past the racy slack: what was pushed now counts as settled. */
  const laterClock = (): void => {
    clock.aheadNs = 2n * RACY_SLACK_NS;
  };

  it('a blob modified in place after a verified GET is cut short on the next GET', async () => {
    const reg = await startServe(tmpDir());
    // Several reads' worth, and one read's worth: the check must hold for the last read of both.
    for (const bytes of [randomBytes(3 * 1024 * 1024 + 17), randomBytes(1000)]) {
      const digest = await pushBlob(reg.url, 'app', bytes);
      const path = reg.repositories.open('app').blobs.path(digest as Digest);
      laterClock();
      let hashes = hashesStarted();
      expectWhole(await getWhole(reg.url, digest), bytes);
      expect(hashesStarted()).toBe(hashes + 1);
      // Trusted now: sent without hashing, still whole and right.
      hashes = hashesStarted();
      expectWhole(await getWhole(reg.url, digest), bytes);
      expect(hashesStarted()).toBe(hashes);
      await sleep(30);
      corruptInPlace(path, bytes.length - 1);
      expect(await getWhole(reg.url, digest)).toBeInstanceOf(Error);
      // And again: a failed check records nothing.
      expect(await getWhole(reg.url, digest)).toBeInstanceOf(Error);
      expectCorruptionReported(reg.internal, 2);
      clock.aheadNs = 0n;
    }
    expect(reg.access.filter((l) => l.startsWith('GET'))).toHaveLength(8);
  });

  it('a blob corrupted before its first GET is cut short, never served whole', async () => {
    const reg = await startServe(tmpDir());
    const bytes = randomBytes(2 * 1024 * 1024);
    const digest = await pushBlob(reg.url, 'app', bytes);
    await sleep(30);
    corruptInPlace(reg.repositories.open('app').blobs.path(digest as Digest), 5);
    laterClock();
    expect(await getWhole(reg.url, digest)).toBeInstanceOf(Error);
    expectCorruptionReported(reg.internal, 1);
  });

  it('with verifyReads "always", a modified blob is caught the same way', async () => {
    const reg = await startServe(tmpDir(), { verifyReads: 'always' });
    const bytes = randomBytes(300_000);
    const digest = await pushBlob(reg.url, 'app', bytes);
    laterClock();
    expectWhole(await getWhole(reg.url, digest), bytes);
    const hashes = hashesStarted();
    expectWhole(await getWhole(reg.url, digest), bytes);
    expect(hashesStarted()).toBe(hashes + 1);
    await sleep(30);
    corruptInPlace(reg.repositories.open('app').blobs.path(digest as Digest), 0);
    expect(await getWhole(reg.url, digest)).toBeInstanceOf(Error);
    expectCorruptionReported(reg.internal, 1);
  });

  it('a range is sent as stored and vouches for nothing: the next whole GET still checks', async () => {
    const reg = await startServe(tmpDir());
    const bytes = randomBytes(100_000);
    const digest = await pushBlob(reg.url, 'app', bytes);
    expect(digest).toBe(sha256(bytes));
    await sleep(30);
    corruptInPlace(reg.repositories.open('app').blobs.path(digest as Digest), 10);
    laterClock();
    const part = await fetch(`${reg.url}/v2/app/blobs/${digest}`, {
      headers: { Range: 'bytes=0-19' },
    });
    expect(part.status).toBe(206);
    const got = Buffer.from(await part.arrayBuffer());
    expect(got).toHaveLength(20);
    // A part cannot be checked against the digest: the stored bytes, corrupt one included.
    expect(got[10]).toBe(bytes[10]! ^ 0xff);
    expect(await getWhole(reg.url, digest)).toBeInstanceOf(Error);
    expectCorruptionReported(reg.internal, 1);
  });
});
