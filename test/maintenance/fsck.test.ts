import { execFileSync } from 'node:child_process';
import { mkdirSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MediaType } from '../../src/media-types.js';
import { fsck, type FsckReport } from '../../src/maintenance/fsck.js';
import { finding } from '../../src/maintenance/findings.js';
import type { Finding, FsckCheck } from '../../src/maintenance/policy.js';
import { Layout } from '../../src/layout/layout.js';
import { leaseDigest, newPartPath, releaseLease } from '../../src/store/ingest.js';
import {
  freshDir,
  imageBlobs,
  imageIndex,
  imageManifest,
  makeLayout,
  tagged,
  type MadeLayout,
} from '../helpers/make-layout.js';
import { layoutSnapshot } from '../helpers/snapshot.js';
import { deadIngestFile } from './helpers.js';

function codes(r: FsckReport): string[] {
  return r.findings.map((f) => f.code).sort();
}

function only(r: FsckReport, code: string): Finding {
  const found = r.findings.filter((f) => f.code === code);
  expect(found, JSON.stringify(r.findings)).toHaveLength(1);
  return found[0]!;
}

/** A tagged image (config, layer, manifest) inside an index that is itself tagged. */
function imageLayout(extra: Parameters<typeof makeLayout>[0] = {}): MadeLayout {
  return makeLayout({
    blobs: {
      ...imageBlobs('a'),
      index: (d) => imageIndex([d['amanifest']!]),
      ...extra.blobs,
    },
    index: (d) => imageIndex([tagged(d['amanifest']!, 'v1'), tagged(d['index']!, 'multi')]),
    ...(extra.files === undefined ? {} : { files: extra.files }),
  });
}

function blobFile(m: MadeLayout, name: string): string {
  const digest = m.d[name]!.digest;
  return join(m.root, 'blobs', 'sha256', digest.slice('sha256:'.length));
}

describe('fsck', () => {
  it('passes a sound layout and counts what it checked', async () => {
    const m = imageLayout();
    const r = await fsck(m.root);
    expect(r.findings).toEqual([]);
    expect(r.ok).toBe(true);
    expect(r.checked.blobs).toBe(4);
    // index.json: 2 entries; manifest: config + layer; index: one manifest (checked again).
    expect(r.checked.descriptors).toBe(5);
  });

  it('finds a corrupted blob (same size, other bytes)', async () => {
    const m = imageLayout();
    writeFileSync(blobFile(m, 'alayer'), 'LAYER OF a');
    const r = await fsck(m.root);
    const f = only(r, 'BLOB_DIGEST_MISMATCH');
    expect(f).toMatchObject({ severity: 'error', digest: m.d['alayer']!.digest });
    expect(r.ok).toBe(false);
    expect(codes(r)).toEqual(['BLOB_DIGEST_MISMATCH']);
  });

  it('finds a truncated blob: content and size both wrong', async () => {
    const m = imageLayout();
    truncateSync(blobFile(m, 'alayer'), 3);
    const r = await fsck(m.root);
    expect(codes(r)).toEqual(['BLOB_DIGEST_MISMATCH', 'DESCRIPTOR_SIZE_MISMATCH']);
    expect(only(r, 'DESCRIPTOR_SIZE_MISMATCH').message).toContain('blob has 3');
  });

  it('finds a corrupted large blob through the chunked path, and passes an intact one', async () => {
    const big = Buffer.alloc(5 * 1024 * 1024 + 17, 7);
    const m = makeLayout({
      blobs: {
        big,
        other: Buffer.alloc(3 * 1024 * 1024, 1),
        config: { os: 'linux' },
        manifest: (d) => imageManifest(d['config']!, [d['big']!, d['other']!]),
      },
      index: (d) => imageIndex([tagged(d['manifest']!, 'v1')]),
    });
    expect((await fsck(m.root)).ok).toBe(true);
    const corrupt = Buffer.from(big);
    corrupt[4 * 1024 * 1024 + 3] = 8; // in the second 4 MiB chunk
    writeFileSync(blobFile(m, 'big'), corrupt);
    const r = await fsck(m.root);
    expect(only(r, 'BLOB_DIGEST_MISMATCH').digest).toBe(m.d['big']!.digest);
    expect(r.checked.bytes).toBe(
      big.length + 3 * 1024 * 1024 + m.d['config']!.size + m.d['manifest']!.size,
    );
  });

  it('reports a missing blob as an error, or a warning for a sparse layout or a foreign layer', async () => {
    const m = makeLayout({
      blobs: { ...imageBlobs('a') },
      index: (d) => imageIndex([tagged(d['amanifest']!, 'v1')]),
    });
    execFileSync('rm', [blobFile(m, 'alayer')]);
    const strict = await fsck(m.root);
    expect(only(strict, 'MISSING_BLOB')).toMatchObject({
      severity: 'error',
      digest: m.d['alayer']!.digest,
    });
    const sparse = await fsck(m.root, { allowMissing: true });
    expect(only(sparse, 'MISSING_BLOB').severity).toBe('warning');
    expect(sparse.ok).toBe(true);

    const foreign = { ...m.d['alayer']!, urls: ['https://example.com/layer'] };
    const f = makeLayout({
      blobs: {
        config: { os: 'windows' },
        manifest: (d) => imageManifest(d['config']!, [foreign]),
      },
      index: (d) => imageIndex([tagged(d['manifest']!, 'v1')]),
    });
    const r = await fsck(f.root);
    expect(only(r, 'MISSING_BLOB')).toMatchObject({ severity: 'warning' });
    expect(r.ok).toBe(true);
  });

  it('finds a descriptor whose size is wrong', async () => {
    const m = makeLayout({
      blobs: { ...imageBlobs('a') },
      index: (d) =>
        imageIndex([tagged({ ...d['amanifest']!, size: d['amanifest']!.size + 1 }, 'v1')]),
    });
    const r = await fsck(m.root);
    expect(codes(r)).toEqual(['DESCRIPTOR_SIZE_MISMATCH']);
    expect(r.ok).toBe(false);
  });

  it('finds a manifest that is not JSON, and one that does not match the schema', async () => {
    const m = makeLayout({
      blobs: { junk: 'not json {', bad: { schemaVersion: 2, layers: 'nope' } },
      index: (d) =>
        imageIndex([
          tagged({ ...d['junk']!, mediaType: MediaType.ImageManifest }, 'junk'),
          tagged({ ...d['bad']!, mediaType: MediaType.ImageManifest }, 'bad'),
        ]),
    });
    const r = await fsck(m.root);
    const invalid = r.findings.filter((f) => f.code === 'MANIFEST_INVALID');
    expect(invalid.map((f) => f.digest).sort()).toEqual(
      [m.d['junk']!.digest, m.d['bad']!.digest].sort(),
    );
    expect(invalid.every((f) => f.severity === 'error')).toBe(true);
  });

  it("finds a descriptor mediaType that contradicts the document's own", async () => {
    const m = makeLayout({
      blobs: { ...imageBlobs('a') },
      index: (d) =>
        imageIndex([tagged({ ...d['amanifest']!, mediaType: MediaType.DockerManifest }, 'v1')]),
    });
    const r = await fsck(m.root);
    expect(only(r, 'MEDIA_TYPE_MISMATCH').message).toContain(MediaType.ImageManifest);
  });

  it('finds invalid and unverifiable digests in descriptors', async () => {
    const m = makeLayout({
      index: imageIndex([
        { mediaType: MediaType.ImageManifest, digest: 'sha256:abc', size: 1 },
        { mediaType: MediaType.ImageManifest, digest: `blake3:${'a'.repeat(64)}`, size: 1 },
      ]),
    });
    const r = await fsck(m.root);
    expect(only(r, 'DESCRIPTOR_INVALID_DIGEST').severity).toBe('error');
    expect(only(r, 'DESCRIPTOR_UNSUPPORTED_ALGORITHM').severity).toBe('warning');
  });

  it('warns about stray and unverifiable files in blobs/ without failing', async () => {
    const m = imageLayout({
      files: {
        'blobs/sha256/notadigest': 'x',
        'blobs/sha256/ABCDEF': 'x',
        [`blobs/blake3/${'b'.repeat(64)}`]: 'x',
        'blobs/README': 'x',
      },
    });
    const r = await fsck(m.root);
    expect(codes(r)).toEqual(['BLOB_STRAY', 'BLOB_STRAY', 'BLOB_STRAY', 'BLOB_UNVERIFIABLE']);
    expect(r.findings.map((f) => f.path).sort()).toEqual([
      'blobs/README',
      `blobs/blake3/${'b'.repeat(64)}`,
      'blobs/sha256/ABCDEF',
      'blobs/sha256/notadigest',
    ]);
    expect(r.ok).toBe(true);
  });

  it('reports a symlinked blob pointing outside the layout, without following it', async () => {
    const m = imageLayout();
    const outside = join(freshDir(), 'secret');
    writeFileSync(outside, 'layer of a'); // would even hash right if followed
    execFileSync('rm', [blobFile(m, 'alayer')]);
    symlinkSync(outside, blobFile(m, 'alayer'));
    const r = await fsck(m.root);
    const f = only(r, 'BLOB_NOT_REGULAR');
    expect(f).toMatchObject({ severity: 'error', digest: m.d['alayer']!.digest });
    expect(f.message).toContain(`a symlink to ${outside}`);
    expect(codes(r)).toEqual(['BLOB_NOT_REGULAR']); // not also MISSING_BLOB or a size mismatch
  });

  it('reports a FIFO named like a blob instead of hanging on it', async () => {
    const m = imageLayout();
    execFileSync('rm', [blobFile(m, 'alayer')]);
    execFileSync('mkfifo', [blobFile(m, 'alayer')]);
    const r = await fsck(m.root);
    expect(only(r, 'BLOB_NOT_REGULAR').message).toContain('special file');
  });

  it('reports a malformed index.json as a finding and still checks the blobs', async () => {
    const m = makeLayout({ blobs: { ...imageBlobs('a') }, index: '{"schemaVersion": 2, "manif' });
    writeFileSync(blobFile(m, 'alayer'), 'LAYER OF a');
    const r = await fsck(m.root);
    expect(codes(r)).toEqual(['BLOB_DIGEST_MISMATCH', 'INDEX_INVALID_JSON']);
    const schema = await fsck(makeLayout({ index: { schemaVersion: 2, manifests: 'x' } }).root);
    expect(codes(schema)).toEqual(['INDEX_SCHEMA']);
  });

  it('reports a missing or wrong oci-layout and skips the checks that need it', async () => {
    const m = makeLayout({
      blobs: { ...imageBlobs('a') },
      index: (d) => imageIndex([tagged(d['amanifest']!, 'v1')]),
      ociLayout: null,
    });
    expect(codes(await fsck(m.root))).toEqual(['CHECKS_SKIPPED', 'LAYOUT_HEADER_MISSING']);
    const v2 = makeLayout({ ociLayout: { imageLayoutVersion: '2.0.0' } });
    expect(codes(await fsck(v2.root))).toEqual(['CHECKS_SKIPPED', 'LAYOUT_VERSION_UNSUPPORTED']);
    const junk = makeLayout({ ociLayout: 'nope' });
    expect(codes(await fsck(junk.root))).toEqual(['CHECKS_SKIPPED', 'LAYOUT_HEADER_INVALID']);
  });

  it('throws E_NOT_A_LAYOUT for a directory that is no layout at all', async () => {
    await expect(fsck(freshDir())).rejects.toMatchObject({ code: 'E_NOT_A_LAYOUT' });
    await expect(fsck(join(freshDir(), 'nope'))).rejects.toMatchObject({ code: 'E_NOT_A_LAYOUT' });
  });

  it("warns about a dead writer's ingest files and a stale lock, not a live writer's", async () => {
    const m = imageLayout();
    const dead = deadIngestFile(m.root, '.part');
    const layout = m.open();
    const live = newPartPath(m.root);
    writeFileSync(live, 'being written');
    leaseDigest(m.root, m.d['alayer']!.digest);
    try {
      mkdirSync(join(m.root, '.ocilayout-index.lock'));
      const old = new Date(Date.now() - 5 * 60_000);
      utimesSync(join(m.root, '.ocilayout-index.lock'), old, old);
      const r = await fsck(layout);
      expect(codes(r)).toEqual(['INGEST_ABANDONED', 'LOCK_STALE']);
      expect(only(r, 'INGEST_ABANDONED').path).toBe(dead);
      expect(r.ok).toBe(true);
    } finally {
      releaseLease(m.root);
    }
  });

  it('reports a lock that can never go stale by its date: one dated in the future (warning)', async () => {
    const m = imageLayout();
    const lockDir = join(m.root, '.ocilayout-index.lock');
    mkdirSync(lockDir);
    // proper-lockfile dates a fresh lock up to ~1 s ahead: not a finding.
    const fresh = new Date(Date.now() + 1005);
    utimesSync(lockDir, fresh, fresh);
    expect(codes(await fsck(m.root))).toEqual([]);
    const future = new Date(Date.now() + 3600_000);
    utimesSync(lockDir, future, future);
    const r = await fsck(m.root);
    expect(codes(r)).toEqual(['LOCK_IN_FUTURE']);
    expect(only(r, 'LOCK_IN_FUTURE')).toMatchObject({
      severity: 'warning',
      path: '.ocilayout-index.lock',
      message: expect.stringMatching(/dated 3[56]\d\d s in the future/),
    });
    expect(r.ok).toBe(true);
  });

  it.each([
    ['a dangling symlink', (p: string) => symlinkSync('nowhere', p), 'a symlink'],
    ['a regular file', (p: string) => writeFileSync(p, ''), 'not a directory'],
  ])('reports %s at the lock path as an error writers refuse', async (_n, plant, what) => {
    const m = imageLayout();
    plant(join(m.root, '.ocilayout-index.lock'));
    const r = await fsck(m.root);
    expect(codes(r)).toEqual(['LOCK_NOT_DIRECTORY']);
    expect(only(r, 'LOCK_NOT_DIRECTORY')).toMatchObject({
      severity: 'error',
      path: '.ocilayout-index.lock',
      message: expect.stringContaining(`is ${what}`),
    });
    expect(r.ok).toBe(false);
  });

  it('runs plug-in checks on the parsed index, and turns a crashing check into a finding', async () => {
    const m = imageLayout();
    const seen: number[] = [];
    const counting: FsckCheck = (layout, index) => {
      seen.push(index.manifests.length);
      expect(layout.root).toBe(m.root);
      // Plug-in checks report codes of the one table, with its severity.
      return [finding('REFERRER_DESCRIPTOR_STALE', 'hello')];
    };
    const crashing: FsckCheck = function crashing() {
      throw new Error('boom');
    };
    const r = await fsck(m.root, { checks: [counting, crashing] });
    expect(seen).toEqual([2]);
    expect(codes(r)).toEqual(['CHECK_FAILED', 'REFERRER_DESCRIPTOR_STALE']);
    expect(only(r, 'CHECK_FAILED').message).toContain('crashing failed: boom');
  });

  it('writes nothing, even into a broken layout with abandoned files', async () => {
    const m = imageLayout();
    truncateSync(blobFile(m, 'alayer'), 1);
    deadIngestFile(m.root, '.part');
    writeFileSync(join(m.root, 'blobs', 'sha256', 'stray'), 'x');
    const before = layoutSnapshot(m.root, { ignoreIngest: false });
    const r = await fsck(Layout.open(m.root), { checks: [() => []] });
    expect(r.ok).toBe(false);
    expect(layoutSnapshot(m.root, { ignoreIngest: false })).toEqual(before);
  });
});
