import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  chownSync,
  readdirSync,
  readFileSync,
  statSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Layout, MediaType, parseDigest, placeBlobs, type Descriptor } from '../../src/internal.js';
import { tmpDir, tmpLayout } from '../helpers/tmp.js';

const BIG = 1024 * 1024 + 1;

function layer(layout: Layout, size: number): Descriptor {
  const r = layout.blobs.putBytes(randomBytes(size));
  return { mediaType: MediaType.LayerGzip, digest: r.digest, size: r.size };
}

function corrupt(layout: Layout, d: Descriptor): void {
  const path = layout.blobs.path(parseDigest(d.digest));
  const bytes = readFileSync(path);
  bytes[0] = bytes[0]! ^ 0xff;
  writeFileSync(path, bytes);
}

const ino = (layout: Layout, d: Descriptor): number =>
  statSync(layout.blobs.path(parseDigest(d.digest))).ino;

function pair(): { src: Layout; dst: Layout } {
  return { src: tmpLayout(), dst: Layout.init(join(tmpDir(), 'dst')).layout };
}

describe('placeBlobs', () => {
  it('with verify: false, a big blob is linked after a size check only (the documented trust)', async () => {
    const { src, dst } = pair();
    const big = layer(src, BIG);
    corrupt(src, big);

    const r = await placeBlobs(src, dst, [big], { verify: false });

    expect(r.blobs.linked).toBe(1);
    expect(ino(dst, big)).toBe(ino(src, big));
  });

  it('with the default verify, the same corrupt big blob is refused and not linked', async () => {
    const { src, dst } = pair();
    const big = layer(src, BIG);
    corrupt(src, big);

    await expect(placeBlobs(src, dst, [big])).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH' });
    expect(dst.blobs.has(parseDigest(big.digest))).toBe(false);
  });

  it('trusted: a small blob is linked without being read; verify: false still reads it', async () => {
    const { src, dst } = pair();
    const small = layer(src, 4096);
    corrupt(src, small); // only reading it could tell

    await expect(placeBlobs(src, dst, [small], { verify: false })).rejects.toMatchObject({
      code: 'E_DIGEST_MISMATCH',
    });
    const r = await placeBlobs(src, dst, [small], { trusted: true });
    expect(r.blobs.linked).toBe(1);
    expect(ino(dst, small)).toBe(ino(src, small));
  });

  it('trusted, but no link possible: the ingest still verifies what it writes', async () => {
    const { src, dst } = pair();
    const small = layer(src, 4096);
    corrupt(src, small);

    await expect(
      placeBlobs(src, dst, [small], { trusted: true, link: false }),
    ).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH' });
    expect(dst.blobs.has(parseDigest(small.digest))).toBe(false);
  });

  it('starts no new blob after a failure (concurrency 1: later blobs are never placed)', async () => {
    const { src, dst } = pair();
    const blobs = [layer(src, BIG), layer(src, BIG), layer(src, BIG)];
    corrupt(src, blobs[0]!);

    await expect(
      placeBlobs(src, dst, blobs, { link: false, concurrency: 1 }),
    ).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH' });
    for (const b of blobs) expect(dst.blobs.has(parseDigest(b.digest))).toBe(false);
  });

  // Without links, a big blob is copied by the kernel and the copy verified (BlobStore.putFile):
  // a corrupt or mis-sized source must fail there as it does when streamed.
  it('with link: false, refuses a corrupt source blob hashed on a worker (> 32 MiB)', async () => {
    const { src, dst } = pair();
    const big = layer(src, 33 * 1024 * 1024);
    const other = layer(src, BIG);
    corrupt(src, big);

    await expect(
      placeBlobs(src, dst, [other, big], { link: false, concurrency: 1 }),
    ).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH' });
    expect(dst.blobs.has(parseDigest(big.digest))).toBe(false);
    expect(readdirSync(join(dst.root, 'ingest')).filter((n) => n.endsWith('.part'))).toEqual([]);
  });

  it.each([
    ['more', -1],
    ['fewer', 1],
  ])(
    'with link: false, refuses a source blob with %s bytes than its descriptor says',
    async (_what, delta) => {
      const { src, dst } = pair();
      const big = layer(src, 2 * BIG);
      const wrong = { ...big, size: big.size + delta };

      await expect(placeBlobs(src, dst, [wrong], { link: false })).rejects.toMatchObject({
        code: 'E_SIZE_MISMATCH',
      });
      expect(dst.blobs.has(parseDigest(big.digest))).toBe(false);
    },
  );

  it('replaces a truncated destination blob with verified bytes instead of keeping it', async () => {
    const { src, dst } = pair();
    const big = layer(src, BIG);
    dst.blobs.putBytes(src.blobs.readBytes(parseDigest(big.digest), 2 * BIG));
    truncateSync(dst.blobs.path(parseDigest(big.digest)), 10);

    const r = await placeBlobs(src, dst, [big]);

    expect(r.blobs.copied).toBe(1);
    expect(dst.blobs.stat(parseDigest(big.digest))?.size).toBe(BIG);
    expect(
      dst.blobs
        .readBytes(parseDigest(big.digest), 2 * BIG)
        .equals(src.blobs.readBytes(parseDigest(big.digest), 2 * BIG)),
    ).toBe(true);
  });

  it('counts bytes by outcome and reports progress for every blob', async () => {
    const { src, dst } = pair();
    const small = layer(src, 10);
    const big = layer(src, BIG);
    dst.blobs.putBytes(src.blobs.readBytes(parseDigest(small.digest), 100));
    const done: number[] = [];

    const r = await placeBlobs(src, dst, [small, big], {
      onBlob: (e) => done.push(e.done * 10 + e.total),
    });

    expect(r.blobs).toEqual({ copied: 0, linked: 1, mounted: 0, skipped: 1 });
    expect(r.bytes).toEqual({ copied: 0, linked: BIG, mounted: 0, skipped: 10 });
    expect(done).toEqual([12, 22]);
  });

  // A hard link shares the inode: whoever can write the source could rewrite our blob in place,
  // behind its digest. Such sources go through the verifying ingest instead (copied, not linked).
  async function expectCopiedNotLinked(share: (path: string) => void): Promise<void> {
    const { src, dst } = pair();
    const small = layer(src, 10);
    const big = layer(src, BIG);
    for (const d of [small, big]) share(src.blobs.path(parseDigest(d.digest)));

    const r = await placeBlobs(src, dst, [small, big]);

    expect(r.blobs).toEqual({ copied: 2, linked: 0, mounted: 0, skipped: 0 });
    for (const d of [small, big]) {
      expect(ino(dst, d)).not.toBe(ino(src, d));
      // The copy is not writable by the others the source let in (fs.copyFile copies the mode).
      expect(statSync(dst.blobs.path(parseDigest(d.digest))).mode & 0o022).toBe(0);
      corrupt(src, d); // the source's owner rewrites its file in place
      expect(() => dst.blobs.readBytes(parseDigest(d.digest), 2 * BIG)).not.toThrow();
    }
  }

  it.each([
    ['others (mode 0666)', 0o666],
    ['the group (mode 0664)', 0o664],
  ])('copies a source blob writable by %s instead of linking it', async (_what, mode) => {
    await expectCopiedNotLinked((path) => chmodSync(path, mode));
  });

  const asRoot = process.geteuid?.() === 0;
  if (!asRoot) console.warn('SKIP copy of a blob owned by another user: chown needs root');
  it.skipIf(!asRoot)(
    'copies a source blob owned by another user (nobody) instead of linking it',
    async () => {
      await expectCopiedNotLinked((path) => chownSync(path, 65534, 65534));
    },
  );

  it('still links a source blob this user owns with mode 0644', async () => {
    const { src, dst } = pair();
    const big = layer(src, BIG);
    expect(statSync(src.blobs.path(parseDigest(big.digest))).mode & 0o777).toBe(0o644);
    const r = await placeBlobs(src, dst, [big]);
    expect(r.blobs.linked).toBe(1);
  });
});
