import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  statSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { open as openFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { digestOf, parseDigest, type Digest } from '../../src/digest.js';
import { BlobStore } from '../../src/store/blob-store.js';
import { newPartPath } from '../../src/store/ingest.js';
import { compileChildLib, type ChildLib } from '../helpers/child-lib.js';
import { beforeFs, failFs } from '../helpers/fault.js';
import { freshDir, makeLayout } from '../helpers/make-layout.js';

const store = (): BlobStore => new BlobStore(makeLayout().root);
const hexOf = (d: string): string => d.slice(d.indexOf(':') + 1);
const partsIn = (root: string): string[] =>
  existsSync(join(root, 'ingest'))
    ? readdirSync(join(root, 'ingest')).filter((n) => !n.endsWith('.lease'))
    : [];
const readAll = async (s: Readable): Promise<Buffer> => {
  const chunks: Buffer[] = [];
  for await (const c of s) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
};
/** A deterministic pseudo-random buffer (incompressible enough, reproducible in a child). */
const bigData = (n: number, seed = 1): Buffer => {
  const out = Buffer.alloc(n);
  let x = seed;
  for (let i = 0; i < n; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    out[i] = x >>> 24;
  }
  return out;
};

describe('BlobStore.put (streams)', () => {
  it('stores a stream under blobs/<alg>/<hex> and reads it back verified', async () => {
    const blobs = store();
    const data = Buffer.from('hello world');
    const r = await blobs.put(Readable.from([data]));
    expect(r).toEqual({ digest: digestOf(data), size: data.length, existed: false });
    expect(readFileSync(join(blobs.root, 'blobs', 'sha256', hexOf(r.digest)))).toEqual(data);
    expect(await readAll(blobs.open(r.digest, { verify: true, size: data.length }))).toEqual(data);
    expect(partsIn(blobs.root)).toEqual([]);
  });

  it('open reads chunkBytes at a time (default 1 MiB), verified or not', async () => {
    const blobs = store();
    const data = Buffer.alloc(3 * 1024 * 1024 + 5, 7);
    const r = await blobs.put(Readable.from([data]));
    const sizes = async (stream: Readable): Promise<number[]> => {
      const out: number[] = [];
      for await (const c of stream) out.push((c as Buffer).byteLength);
      return out;
    };
    expect(Math.max(...(await sizes(blobs.open(r.digest))))).toBe(1024 * 1024);
    for (const verify of [false, true]) {
      const got = await sizes(blobs.open(r.digest, { verify, chunkBytes: 256 * 1024 }));
      expect(Math.max(...got)).toBe(256 * 1024);
      expect(got.reduce((a, b) => a + b, 0)).toBe(data.length);
    }
  });

  it('verifies the expected digest and size and accepts a match', async () => {
    const blobs = store();
    const data = bigData(3 * 1024 * 1024 + 17);
    const chunks = [
      data.subarray(0, 1000),
      data.subarray(1000, 2_000_000),
      data.subarray(2_000_000),
    ];
    const r = await blobs.put(Readable.from(chunks), { digest: digestOf(data), size: data.length });
    expect(r).toMatchObject({ digest: digestOf(data), size: data.length, existed: false });
    expect(
      createHash('sha256')
        .update(readFileSync(blobs.path(r.digest)))
        .digest('hex'),
    ).toBe(hexOf(r.digest));
  });

  it('refuses content that does not match the expected digest and leaves nothing behind', async () => {
    const blobs = store();
    const wrong = digestOf('other');
    await expect(
      blobs.put(Readable.from([Buffer.from('data')]), { digest: wrong }),
    ).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH', details: { expected: wrong } });
    expect(blobs.has(parseDigest(wrong))).toBe(false);
    expect(blobs.list().blobs).toEqual([]);
    expect(partsIn(blobs.root)).toEqual([]);
  });

  it('refuses a short stream (E_SIZE_MISMATCH) and leaves nothing behind', async () => {
    const blobs = store();
    const data = Buffer.from('abc');
    await expect(
      blobs.put(Readable.from([data]), { digest: digestOf(data), size: 4 }),
    ).rejects.toMatchObject({ code: 'E_SIZE_MISMATCH', details: { expected: 4, found: 3 } });
    expect(blobs.list().blobs).toEqual([]);
    expect(partsIn(blobs.root)).toEqual([]);
  });

  it('aborts as soon as the stream exceeds the expected size, without reading the rest', async () => {
    const blobs = store();
    let pulled = 0;
    let closed = false;
    async function* endless(): AsyncGenerator<Buffer> {
      try {
        for (;;) {
          pulled++;
          yield await Promise.resolve(Buffer.alloc(64 * 1024, 1));
        }
      } finally {
        closed = true;
      }
    }
    await expect(blobs.put(endless(), { size: 100_000 })).rejects.toMatchObject({
      code: 'E_SIZE_MISMATCH',
    });
    expect(pulled).toBe(2);
    expect(closed).toBe(true);
    expect(partsIn(blobs.root)).toEqual([]);
  });

  it('propagates a source error and leaves nothing behind', async () => {
    const blobs = store();
    const source = new Readable({
      read() {
        this.destroy(new Error('network gone'));
      },
    });
    await expect(blobs.put(source)).rejects.toThrow('network gone');
    expect(blobs.list().blobs).toEqual([]);
    expect(partsIn(blobs.root)).toEqual([]);
  });

  it('is idempotent: a present blob is not read again, its source is destroyed', async () => {
    const blobs = store();
    const data = Buffer.from('present');
    await blobs.put(Readable.from([data]));
    const before = statSync(blobs.path(digestOf(data)));
    const source = new Readable({
      read() {
        throw new Error('must not be read');
      },
    });
    const r = await blobs.put(source, { digest: digestOf(data), size: data.length });
    expect(r).toEqual({ digest: digestOf(data), size: data.length, existed: true });
    expect(source.destroyed).toBe(true);
    expect(statSync(blobs.path(digestOf(data))).ino).toBe(before.ino);
  });

  it('reports existed for known content put without expectations, keeping the inode', async () => {
    const blobs = store();
    const data = Buffer.from('twice');
    const a = await blobs.put(Readable.from([data]));
    const ino = statSync(blobs.path(a.digest)).ino;
    const b = await blobs.put(Readable.from([data]));
    expect(b).toEqual({ ...a, existed: true });
    expect(statSync(blobs.path(a.digest)).ino).toBe(ino);
  });

  it('stores sha512 blobs under blobs/sha512/', async () => {
    const blobs = store();
    const data = Buffer.from('sha512 content');
    const r = await blobs.put(Readable.from([data]), { algorithm: 'sha512' });
    expect(r.digest).toBe(digestOf(data, 'sha512'));
    expect(existsSync(join(blobs.root, 'blobs', 'sha512', hexOf(r.digest)))).toBe(true);
    const again = await blobs.put(Readable.from([data]), { digest: r.digest });
    expect(again.existed).toBe(true);
    expect(await readAll(blobs.open(r.digest, { verify: true }))).toEqual(data);
  });

  it('rejects an expected digest it cannot verify before writing anything', async () => {
    const blobs = store();
    await expect(
      blobs.put(Readable.from([Buffer.from('x')]), { digest: `blake3:${'a'.repeat(64)}` }),
    ).rejects.toMatchObject({ code: 'E_UNSUPPORTED_ALGORITHM' });
    await expect(
      blobs.put(Readable.from([Buffer.from('x')]), { digest: '../../etc/passwd' }),
    ).rejects.toMatchObject({ code: 'E_INVALID_DIGEST' });
    expect(partsIn(blobs.root)).toEqual([]);
  });

  describe('when an existing file under the digest is corrupt', () => {
    it('replaces a truncated file when the expected size is known', async () => {
      const blobs = store();
      const data = Buffer.from('the full content');
      const d = digestOf(data);
      mkdirSync(join(blobs.root, 'blobs', 'sha256'), { recursive: true });
      writeFileSync(blobs.path(d), data.subarray(0, 5));
      const r = await blobs.put(Readable.from([data]), { digest: d, size: data.length });
      expect(r.existed).toBe(false);
      expect(readFileSync(blobs.path(d))).toEqual(data);
    });

    it('replaces a file of the wrong size met while committing verified bytes', () => {
      const blobs = store();
      const data = Buffer.from('verified bytes');
      const d = digestOf(data);
      mkdirSync(join(blobs.root, 'blobs', 'sha256'), { recursive: true });
      writeFileSync(blobs.path(d), 'garbage of another length');
      const r = blobs.putBytes(data);
      expect(r).toEqual({ digest: d, size: data.length, existed: false });
      expect(readFileSync(blobs.path(d))).toEqual(data);
    });

    it('putBytes with an expected digest but no size replaces a truncated file', () => {
      const blobs = store();
      const data = Buffer.from('manifest bytes');
      const d = digestOf(data);
      mkdirSync(join(blobs.root, 'blobs', 'sha256'), { recursive: true });
      writeFileSync(blobs.path(d), data.subarray(0, 3));
      expect(blobs.putBytes(data, { digest: d }).existed).toBe(false);
      expect(readFileSync(blobs.path(d))).toEqual(data);
    });
  });

  describe('when several writers store the same blob at once', () => {
    it('all succeed in one process, and the blob is complete', async () => {
      const blobs = store();
      const data = bigData(2 * 1024 * 1024 + 3);
      const results = await Promise.all(
        Array.from({ length: 6 }, () =>
          blobs.put(Readable.from([data.subarray(0, 1 << 20), data.subarray(1 << 20)]), {
            digest: digestOf(data),
            size: data.length,
          }),
        ),
      );
      expect(results.filter((r) => !r.existed).length).toBeGreaterThanOrEqual(1);
      for (const r of results) expect(r.digest).toBe(digestOf(data));
      expect(readFileSync(blobs.path(digestOf(data))).equals(data)).toBe(true);
      expect(partsIn(blobs.root)).toEqual([]);
    });

    describe('from separate processes', () => {
      let lib: ChildLib;
      beforeAll(() => {
        lib = compileChildLib(['store/blob-store.ts']);
      });
      afterAll(() => lib.dispose());

      it('both succeed and the blob is complete', async () => {
        const root = makeLayout().root;
        const n = 6 * 1024 * 1024 + 5;
        const data = bigData(n, 7);
        const script = lib.script(
          'putter',
          `import { Readable } from 'node:stream';
import { BlobStore } from './store/blob-store.js';
const [root, n, digest] = process.argv.slice(2);
const out = Buffer.alloc(Number(n));
let x = 7;
for (let i = 0; i < out.length; i++) { x = (x * 1103515245 + 12345) >>> 0; out[i] = x >>> 24; }
const chunks = [];
for (let off = 0; off < out.length; off += 256 * 1024) chunks.push(out.subarray(off, off + 256 * 1024));
const r = await new BlobStore(root).put(Readable.from(chunks), { digest, size: out.length });
console.log(JSON.stringify(r));
`,
        );
        const runs = await Promise.all(
          [0, 1, 2].map(() => lib.run(script, [root, String(n), digestOf(data)])),
        );
        for (const r of runs) expect(r, r.stderr).toMatchObject({ code: 0, stderr: '' });
        const parsed = runs.map((r) => JSON.parse(r.stdout) as { digest: string; size: number });
        for (const p of parsed) expect(p).toMatchObject({ digest: digestOf(data), size: n });
        expect(
          readFileSync(join(root, 'blobs', 'sha256', hexOf(digestOf(data)))).equals(data),
        ).toBe(true);
        expect(partsIn(root)).toEqual([]);
      });
    });
  });

  describe('when the filesystem misbehaves', () => {
    it('completes short writes instead of committing a truncated blob', async () => {
      const blobs = store();
      const probe = await openFile(join(blobs.root, 'probe'), 'w');
      const proto = Object.getPrototypeOf(probe) as { write: (...a: unknown[]) => unknown };
      await probe.close();
      const original = proto.write;
      const spy = vi.spyOn(proto, 'write').mockImplementation(function (
        this: unknown,
        ...args: unknown[]
      ) {
        const [buf, offset, length] = args as [Uint8Array, number | undefined, number | undefined];
        const off = offset ?? 0;
        const len = length ?? buf.byteLength - off;
        // The kernel may write less than asked (signals, quotas): write half each time.
        return original.call(this, buf, off, Math.max(1, Math.floor(len / 2)));
      });
      try {
        const data = bigData(300_000, 3);
        const r = await blobs.put(Readable.from([data]), { digest: digestOf(data) });
        expect(r.size).toBe(data.length);
        expect(readFileSync(blobs.path(r.digest)).equals(data)).toBe(true);
        expect(spy).toHaveBeenCalled();
      } finally {
        spy.mockRestore();
      }
    });

    it('wraps a write error (ENOSPC) as E_IO and leaves nothing behind', async () => {
      const blobs = store();
      const probe = await openFile(join(blobs.root, 'probe'), 'w');
      const proto = Object.getPrototypeOf(probe) as { write: (...a: unknown[]) => unknown };
      await probe.close();
      const spy = vi
        .spyOn(proto, 'write')
        .mockRejectedValue(Object.assign(new Error('ENOSPC: no space left'), { code: 'ENOSPC' }));
      try {
        await expect(blobs.put(Readable.from([Buffer.from('x')]))).rejects.toMatchObject({
          code: 'E_IO',
          details: { errno: 'ENOSPC' },
        });
      } finally {
        spy.mockRestore();
      }
      expect(blobs.list().blobs).toEqual([]);
      expect(partsIn(blobs.root)).toEqual([]);
    });

    it('falls back to rename where hard links are not supported (exFAT, some network mounts)', async () => {
      const blobs = store();
      failFs('linkSync', 'EPERM');
      const data = Buffer.from('no hard links here');
      const r = await blobs.put(Readable.from([data]));
      expect(r).toEqual({ digest: digestOf(data), size: data.length, existed: false });
      expect(readFileSync(blobs.path(r.digest))).toEqual(data);
      expect(blobs.putBytes(data)).toEqual({ ...r, existed: true });
      expect(partsIn(blobs.root)).toEqual([]);
    });
  });
});

describe('BlobStore.putBytes', () => {
  it('stores small blobs synchronously and is idempotent', () => {
    const blobs = store();
    const a = blobs.putBytes(Buffer.from('x'));
    expect(a).toEqual({ digest: digestOf('x'), size: 1, existed: false });
    expect(blobs.putBytes(Buffer.from('x'), { digest: a.digest, size: 1 })).toEqual({
      ...a,
      existed: true,
    });
    expect(partsIn(blobs.root)).toEqual([]);
  });

  it.each([
    ['digest', { digest: digestOf('y') }, 'E_DIGEST_MISMATCH'],
    ['size', { size: 2 }, 'E_SIZE_MISMATCH'],
  ])('refuses bytes that do not match the expected %s', (_name, expected, code) => {
    const blobs = store();
    expect(() => blobs.putBytes(Buffer.from('x'), expected)).toThrow(
      expect.objectContaining({ code }),
    );
    expect(blobs.list().blobs).toEqual([]);
  });

  it('refuses bytes that do not match the expected digest even when that blob exists', () => {
    const blobs = store();
    const good = blobs.putBytes(Buffer.from('good'));
    expect(() => blobs.putBytes(Buffer.from('evil'), { digest: good.digest })).toThrow(
      expect.objectContaining({ code: 'E_DIGEST_MISMATCH' }),
    );
    expect(readFileSync(blobs.path(good.digest), 'utf8')).toBe('good');
  });
});

describe('BlobStore reads', () => {
  const corrupt = (): { blobs: BlobStore; d: Digest; data: Buffer } => {
    const blobs = store();
    const data = Buffer.from('original content');
    const { digest } = blobs.putBytes(data);
    return { blobs, d: digest, data };
  };

  it('open({verify}) errors at the end of a corrupted blob (E_DIGEST_MISMATCH)', async () => {
    const { blobs, d } = corrupt();
    writeFileSync(blobs.path(d), 'original contenT');
    await expect(readAll(blobs.open(d, { verify: true }))).rejects.toMatchObject({
      code: 'E_DIGEST_MISMATCH',
    });
    // Unverified reads hand the bytes over as they are.
    expect((await readAll(blobs.open(d))).toString()).toBe('original contenT');
  });

  it('open({verify, size}) errors on a truncated blob (E_SIZE_MISMATCH)', async () => {
    const { blobs, d, data } = corrupt();
    truncateSync(blobs.path(d), 4);
    await expect(readAll(blobs.open(d, { verify: true, size: data.length }))).rejects.toMatchObject(
      { code: 'E_SIZE_MISMATCH' },
    );
  });

  it('open({verify, size}) errors early on a blob longer than its descriptor says', async () => {
    const { blobs, d, data } = corrupt();
    await expect(
      readAll(blobs.open(d, { verify: true, size: data.length - 1 })),
    ).rejects.toMatchObject({ code: 'E_SIZE_MISMATCH' });
  });

  it('open({start}) reads from that byte on, unverified; with verify it is E_USAGE', async () => {
    const { blobs, d } = corrupt();
    expect((await readAll(blobs.open(d, { start: 9 }))).toString()).toBe('content');
    expect(() => blobs.open(d, { start: 9, verify: true })).toThrow(
      expect.objectContaining({ code: 'E_USAGE' }),
    );
  });

  it('open and readBytes of a missing blob throw E_NOT_FOUND', () => {
    const blobs = store();
    const d = digestOf('absent');
    expect(() => blobs.open(d)).toThrow(expect.objectContaining({ code: 'E_NOT_FOUND' }));
    expect(() => blobs.readBytes(d, 100)).toThrow(expect.objectContaining({ code: 'E_NOT_FOUND' }));
    expect(blobs.stat(d)).toBeUndefined();
    expect(blobs.has(d)).toBe(false);
  });

  it('readBytes refuses more than the cap (E_TOO_LARGE) and verifies by default', () => {
    const { blobs, d, data } = corrupt();
    expect(blobs.readBytes(d, data.length)).toEqual(data);
    expect(() => blobs.readBytes(d, data.length - 1)).toThrow(
      expect.objectContaining({
        code: 'E_TOO_LARGE',
        details: expect.objectContaining({ limit: data.length - 1 }),
      }),
    );
    writeFileSync(blobs.path(d), 'original contenT');
    expect(() => blobs.readBytes(d, 100)).toThrow(
      expect.objectContaining({ code: 'E_DIGEST_MISMATCH' }),
    );
    expect(blobs.readBytes(d, 100, { verify: false }).toString()).toBe('original contenT');
  });

  describe('when a blob is not a regular file', () => {
    it('refuses a symlinked blob everywhere (E_UNSAFE_ENTRY), never reading its target', async () => {
      const blobs = store();
      const secret = join(freshDir(), 'secret');
      writeFileSync(secret, 'secret');
      const d = digestOf('secret');
      mkdirSync(join(blobs.root, 'blobs', 'sha256'), { recursive: true });
      symlinkSync(secret, blobs.path(d));
      const unsafe = expect.objectContaining({ code: 'E_UNSAFE_ENTRY' });
      expect(() => blobs.stat(d)).toThrow(unsafe);
      expect(() => blobs.open(d, { verify: true })).toThrow(unsafe);
      expect(() => blobs.open(d, { start: 3 })).toThrow(unsafe);
      expect(() => blobs.readBytes(d, 100)).toThrow(unsafe);
      await expect(
        blobs.put(Readable.from([Buffer.from('secret')]), { digest: d }),
      ).rejects.toThrow(unsafe);
    });

    it('refuses a FIFO instead of hanging on it (E_UNSAFE_ENTRY)', () => {
      const blobs = store();
      const d = digestOf('fifo');
      mkdirSync(join(blobs.root, 'blobs', 'sha256'), { recursive: true });
      const made = spawnSync('mkfifo', [blobs.path(d)]);
      expect(made.status).toBe(0);
      const unsafe = expect.objectContaining({ code: 'E_UNSAFE_ENTRY' });
      expect(() => blobs.readBytes(d, 100)).toThrow(unsafe);
      expect(() => blobs.open(d)).toThrow(unsafe);
    });
  });
});

describe('BlobStore.list / delete', () => {
  it('lists blobs sorted and reports strays (temp files, unsupported algorithms, odd names)', () => {
    const fx = makeLayout({
      blobs: { b: 'bbb', a: 'aaa' },
      files: {
        'blobs/sha256/abc.tmp': 'regclient-style temp file',
        [`blobs/sha256/${'A'.repeat(64)}`]: 'uppercase',
        [`blobs/sha384/${'c'.repeat(96)}`]: 'not verifiable',
        'blobs/README': 'a file where an algorithm dir should be',
        [`blobs/sha512/${'d'.repeat(128)}`]: 'sha512 name',
      },
    });
    const listing = new BlobStore(fx.root).list();
    expect(listing.blobs).toEqual(
      [fx.d['a']!.digest, fx.d['b']!.digest, `sha512:${'d'.repeat(128)}`].sort(),
    );
    expect(listing.strays.sort()).toEqual(
      [
        'blobs/README',
        'blobs/sha256/abc.tmp',
        `blobs/sha256/${'A'.repeat(64)}`,
        `blobs/sha384/${'c'.repeat(96)}`,
      ].sort(),
    );
  });

  it('lists nothing for a layout without blobs/', () => {
    expect(new BlobStore(freshDir()).list()).toEqual({ blobs: [], strays: [] });
  });

  it('delete removes a blob and reports whether it was there', () => {
    const blobs = store();
    const { digest } = blobs.putBytes(Buffer.from('gone soon'));
    expect(blobs.delete(digest)).toBe(true);
    expect(blobs.has(digest)).toBe(false);
    expect(blobs.delete(digest)).toBe(false);
  });
});

describe('BlobStore.linkFrom', () => {
  it('hard-links verified content from another layout', () => {
    const from = store();
    const to = store();
    const { digest, size } = from.putBytes(Buffer.from('shared'));
    expect(to.linkFrom(from.path(digest), digest, size)).toEqual({ digest, size, existed: false });
    expect(statSync(to.path(digest)).ino).toBe(statSync(from.path(digest)).ino);
    expect(to.linkFrom(from.path(digest), digest, size)).toEqual({ digest, size, existed: true });
  });

  it('returns false for a source others can write, so the caller copies it through ingest', () => {
    const from = store();
    const to = store();
    const { digest, size } = from.putBytes(Buffer.from('shared, writable'));
    chmodSync(from.path(digest), 0o646);
    expect(to.linkFrom(from.path(digest), digest, size)).toBe(false);
    expect(to.has(digest)).toBe(false);
  });

  it('keeps only the inode it checked: a source swapped just before link(2) is unlinked again', () => {
    const from = store();
    const to = store();
    const { digest, size } = from.putBytes(Buffer.from('checked'));
    const swap = join(from.root, 'swap');
    writeFileSync(swap, 'checked');
    chmodSync(swap, 0o666);
    beforeFs('linkSync', (source) => {
      if (source === from.path(digest)) renameSync(swap, source);
    });
    expect(to.linkFrom(from.path(digest), digest, size)).toBe(false);
    expect(existsSync(to.path(digest))).toBe(false);
  });

  it('returns false across filesystems (EXDEV) so the caller streams a copy', () => {
    const from = store();
    const to = store();
    const { digest, size } = from.putBytes(Buffer.from('elsewhere'));
    failFs('linkSync', 'EXDEV');
    expect(to.linkFrom(from.path(digest), digest, size)).toBe(false);
    expect(to.has(digest)).toBe(false);
  });
});

describe('BlobStore.moveAside / restoreFromTrash (gc two-step delete)', () => {
  it('parks a blob in ingest/ and puts it back', () => {
    const blobs = store();
    const { digest } = blobs.putBytes(Buffer.from('parked'));
    const parked = blobs.moveAside(digest)!;
    expect(parked.size).toBe(6);
    expect(blobs.has(digest)).toBe(false);
    expect(readFileSync(parked.trashPath, 'utf8')).toBe('parked');
    blobs.restoreFromTrash(parked.trashPath, digest);
    expect(readFileSync(blobs.path(digest), 'utf8')).toBe('parked');
    expect(existsSync(parked.trashPath)).toBe(false);
    expect(blobs.moveAside(digestOf('never there'))).toBeUndefined();
  });

  it('puts a parked blob back where hard links are not supported (exFAT, some network mounts)', () => {
    const blobs = store();
    const { digest } = blobs.putBytes(Buffer.from('parked'));
    const parked = blobs.moveAside(digest)!;
    failFs('linkSync', 'EPERM');
    blobs.restoreFromTrash(parked.trashPath, digest);
    expect(readFileSync(blobs.path(digest), 'utf8')).toBe('parked');
    expect(existsSync(parked.trashPath)).toBe(false);
  });
});

describe('BlobStore.open with a range / commitHashed', () => {
  it('open({start, end}) reads that inclusive range; verify with a range is E_USAGE', async () => {
    const blobs = store();
    const { digest } = blobs.putBytes(Buffer.from('0123456789'));
    expect((await readAll(blobs.open(digest, { start: 2, end: 4 }))).toString()).toBe('234');
    expect(() => blobs.open(digest, { end: 3, verify: true })).toThrow(
      expect.objectContaining({ code: 'E_USAGE' }) as Error,
    );
  });

  it('commitHashed places a caller-hashed part when it matches, and nothing when it does not', () => {
    const blobs = store();
    const data = Buffer.from('hashed by the caller');
    const part = newPartPath(blobs.root);
    writeFileSync(part, data);
    const hex = createHash('sha256').update(data).digest('hex');
    const wrong = `sha256:${'0'.repeat(64)}`;
    expect(() =>
      blobs.commitHashed(
        part,
        { algorithm: 'sha256', hex, size: data.byteLength },
        { digest: wrong },
      ),
    ).toThrow(expect.objectContaining({ code: 'E_DIGEST_MISMATCH' }) as Error);
    expect(blobs.has(parseDigest(wrong))).toBe(false);
    expect(() =>
      blobs.commitHashed(
        part,
        { algorithm: 'sha256', hex, size: 3 },
        { digest: `sha256:${hex}`, size: 4 },
      ),
    ).toThrow(expect.objectContaining({ code: 'E_SIZE_MISMATCH' }) as Error);
    const put = blobs.commitHashed(
      part,
      { algorithm: 'sha256', hex, size: data.byteLength },
      { digest: `sha256:${hex}` },
    );
    expect(put).toEqual({ digest: `sha256:${hex}`, size: data.byteLength, existed: false });
    expect(blobs.readBytes(put.digest, 100)).toEqual(data);
  });
});
