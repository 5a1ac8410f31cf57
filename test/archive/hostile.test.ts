// The hostile-tar corpus: every archive here must be refused with a typed error, write nothing
// outside the target, and leave the target byte-for-byte as it was (ingest/ aside) and fsck-clean.
import { existsSync, readFileSync, statfsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { zstdAvailable } from '../../src/archive/compression.js';
import { digestOf, fsck } from '../../src/internal.js';
import {
  gz,
  gzipBomb,
  layoutTar,
  makeTar,
  tarHeader,
  zst,
  zstdBomb,
  type TarSpec,
} from '../helpers/make-tar.js';
import { layoutSnapshot } from '../helpers/snapshot.js';
import { tmpDir } from '../helpers/tmp.js';
import { copyOfPeer, importBytes, peer, treeOf } from './fixtures.js';

const SOURCE = peer('umoci-multitag');
const V2 = 'sha256:9880e5b46a287d73ae769262867dea33b58be48d5b7f227242e372711c2a8ae5';
const blobName = (d: string): string => `blobs/sha256/${d.slice('sha256:'.length)}`;

/** A target layout inside a sandbox dir with a sentinel neighbour; returns a checker. */
function sandbox() {
  const root = tmpDir('ocilayout-hostile-');
  const target = copyOfPeer('umoci-image', root);
  const before = layoutSnapshot(target);
  const outsideBefore = treeOf(root).filter((p) => !p.startsWith('umoci-image'));
  return {
    root,
    target,
    async expectRefused(bytes: Uint8Array, code: string, options = {}) {
      await expect(importBytes(bytes, target, options)).rejects.toMatchObject({ code });
      expect(layoutSnapshot(target)).toEqual(before);
      expect(treeOf(root).filter((p) => !p.startsWith('umoci-image'))).toEqual(outsideBefore);
      expect(treeOf(join(target, 'ingest')).filter((p) => !p.endsWith('.lease'))).toEqual([]);
      const report = await fsck(target);
      expect(report.findings.filter((f) => f.severity === 'error')).toEqual([]);
    },
  };
}

function withExtra(extra: TarSpec[], options = {}): Buffer {
  return layoutTar(SOURCE, { extra, ...options });
}

describe('import refuses hostile archives and leaves the target unchanged', () => {
  it.each([
    ['path traversal', '../evil'],
    ['traversal inside a path', 'blobs/../../evil'],
    ['absolute path', '/tmp/ocilayout-evil-absolute'],
    ['backslash traversal', '..\\..\\evil'],
  ])('%s (%s)', async (_what, name) => {
    const box = sandbox();
    await box.expectRefused(withExtra([{ name, body: 'pwned' }]), 'E_UNSAFE_ENTRY');
    expect(existsSync('/tmp/ocilayout-evil-absolute')).toBe(false);
  });

  it('a symlink, then a write through it', async () => {
    const box = sandbox();
    const outside = join(box.root, 'outside');
    const bytes = makeTar([
      { name: 'escape', type: 'symlink', linkname: outside },
      { name: 'escape/pwned', body: 'pwned' },
      { name: 'blobs', type: 'symlink', linkname: outside },
      { name: 'blobs/sha256/x', body: 'pwned' },
    ]);
    await box.expectRefused(bytes, 'E_UNSAFE_ENTRY');
    expect(existsSync(outside)).toBe(false);
  });

  it('a docker layer alias pointing out of the archive', async () => {
    const box = sandbox();
    await box.expectRefused(
      makeTar([{ name: 'abc/layer.tar', type: 'symlink', linkname: '../../../etc/passwd' }]),
      'E_UNSAFE_ENTRY',
    );
  });

  it.each([
    ['hard link out', { name: 'blobs/sha256/x', type: 'link', linkname: '/etc/passwd' }],
    ['character device', { name: 'dev', type: 'char' }],
    ['block device', { name: 'disk', type: 'block' }],
    ['fifo', { name: 'pipe', type: 'fifo' }],
    ['GNU sparse file', { name: 'sparse', type: { flag: 'S' }, body: 'x' }],
  ] as [string, TarSpec][])('%s', async (_what, spec) => {
    const box = sandbox();
    await box.expectRefused(withExtra([spec]), 'E_UNSAFE_ENTRY');
  });

  it('a pax header renaming an entry to ../', async () => {
    const box = sandbox();
    const record = ' path=../evil\n';
    const pax = `${record.length + String(record.length + 2).length}${record}`;
    const bytes = makeTar([
      { name: 'PaxHeader', type: { flag: 'x' }, body: pax },
      { name: 'innocent', body: 'pwned' },
    ]);
    await box.expectRefused(bytes, 'E_UNSAFE_ENTRY');
  });

  it('a GNU long name with ../', async () => {
    const box = sandbox();
    const bytes = makeTar([
      { name: '././@LongLink', type: { flag: 'L' }, body: `../${'a'.repeat(120)}\0` },
      { name: 'innocent', body: 'pwned' },
    ]);
    await box.expectRefused(bytes, 'E_UNSAFE_ENTRY');
  });

  it('a blob whose content does not match its name', async () => {
    const box = sandbox();
    const bytes = layoutTar(SOURCE, {
      override: { [blobName(V2)]: `${readFileSync(join(SOURCE, blobName(V2)), 'utf8')} ` },
    });
    await box.expectRefused(bytes, 'E_DIGEST_MISMATCH');
  });

  it('a duplicate blob entry with different content', async () => {
    const box = sandbox();
    await box.expectRefused(
      withExtra([{ name: blobName(V2), body: 'other bytes' }]),
      'E_DIGEST_MISMATCH',
    );
  });

  it('a duplicate index.json with different content', async () => {
    const box = sandbox();
    const other = JSON.stringify({ schemaVersion: 2, manifests: [] });
    await box.expectRefused(withExtra([{ name: 'index.json', body: other }]), 'E_UNSAFE_ENTRY');
  });

  it('a duplicate docker layer file with different content', async () => {
    const box = sandbox();
    await box.expectRefused(
      makeTar([
        { name: 'aa.tar', body: 'one' },
        { name: 'aa.tar', body: 'two' },
      ]),
      'E_UNSAFE_ENTRY',
    );
  });

  it('an archive truncated inside an entry', async () => {
    const box = sandbox();
    const full = layoutTar(SOURCE);
    await box.expectRefused(
      full.subarray(0, Math.floor(full.length / 2) + 100),
      'E_CORRUPT_ARCHIVE',
    );
  });

  it('an archive cut exactly at an entry boundary (no end-of-archive blocks)', async () => {
    const box = sandbox();
    const full = layoutTar(SOURCE);
    await box.expectRefused(full.subarray(0, full.length - 1024), 'E_CORRUPT_ARCHIVE');
  });

  it('a truncated gzip stream', async () => {
    const box = sandbox();
    const z = gz(layoutTar(SOURCE));
    await box.expectRefused(z.subarray(0, z.length - 40), 'E_CORRUPT_ARCHIVE');
  });

  it('a header with a bad checksum', async () => {
    const box = sandbox();
    const bytes = Buffer.from(layoutTar(SOURCE));
    bytes[10] = bytes[10]! ^ 0x20; // inside the first header's name
    await box.expectRefused(bytes, 'E_CORRUPT_ARCHIVE');
  });

  it.each([
    ['an empty input', Buffer.alloc(0)],
    ['random bytes', Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919) % 251))],
    ['only end-of-archive blocks', Buffer.alloc(1024)],
  ])('%s', async (_what, bytes) => {
    const box = sandbox();
    await box.expectRefused(bytes, 'E_CORRUPT_ARCHIVE');
  });

  // zstd archives are read where zlib has zstd (Node 22.15+) and refused as a usage error elsewhere;
  // either way, one of each pair below runs and refuses.
  it.runIf(zstdAvailable())('damaged zstd: a bad frame, a truncated stream', async () => {
    const box = sandbox();
    const zstdMagic = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(100)]);
    await box.expectRefused(zstdMagic, 'E_CORRUPT_ARCHIVE');
    const z = zst(layoutTar(SOURCE));
    await box.expectRefused(z.subarray(0, z.length - 40), 'E_CORRUPT_ARCHIVE');
  });

  it.runIf(!zstdAvailable())('a zstd archive on a runtime without zstd (E_USAGE)', async () => {
    const box = sandbox();
    const zstdMagic = Buffer.concat([Buffer.from([0x28, 0xb5, 0x2f, 0xfd]), Buffer.alloc(100)]);
    await box.expectRefused(zstdMagic, 'E_USAGE');
  });

  it('an index.json that names a blob the archive lacks', async () => {
    const box = sandbox();
    const layer = 'sha256:0866fe05a325655cfcf589bebd35ebe79ec59456d9bab004ccaf01af114bf59a';
    expect(existsSync(join(SOURCE, blobName(layer)))).toBe(true);
    await box.expectRefused(layoutTar(SOURCE, { omit: [blobName(layer)] }), 'E_CORRUPT_ARCHIVE');
  });

  it('a missing manifest', async () => {
    const box = sandbox();
    await box.expectRefused(layoutTar(SOURCE, { omit: [blobName(V2)] }), 'E_CORRUPT_ARCHIVE');
  });

  it('a descriptor whose size lies', async () => {
    const box = sandbox();
    const index = readFileSync(join(SOURCE, 'index.json'), 'utf8').replace(
      '"size":345',
      '"size":344',
    );
    await box.expectRefused(
      layoutTar(SOURCE, { override: { 'index.json': index } }),
      'E_SIZE_MISMATCH',
    );
  });

  it.each([
    ['index.json that is not JSON', { 'index.json': '{"schemaVersion":2,' }, 'E_INVALID_JSON'],
    ['index.json of the wrong shape', { 'index.json': '{"schemaVersion":2}' }, 'E_SCHEMA'],
    [
      'an oci-layout of another version',
      { 'oci-layout': '{"imageLayoutVersion":"2.0.0"}' },
      'E_CORRUPT_ARCHIVE',
    ],
  ])('%s', async (_what, override, code) => {
    const box = sandbox();
    await box.expectRefused(layoutTar(SOURCE, { override }), code);
  });

  it('an archive without oci-layout', async () => {
    const box = sandbox();
    await box.expectRefused(layoutTar(SOURCE, { omit: ['oci-layout'] }), 'E_CORRUPT_ARCHIVE');
  });

  it('a directory entry carrying data', async () => {
    const box = sandbox();
    await box.expectRefused(
      withExtra([{ name: 'd/', type: 'dir', size: 512, body: Buffer.alloc(512) }]),
      'E_CORRUPT_ARCHIVE',
    );
  });

  it('a gzip bomb: stops early on the expansion ratio, writes nothing lasting', async () => {
    const box = sandbox();
    const name = blobName(digestOf('never'));
    const bomb = gzipBomb(name, 512 * 1024 * 1024, 512);
    expect(bomb.length).toBeLessThan(1024 * 1024);
    await box.expectRefused(bomb, 'E_TOO_LARGE');
  });

  it.runIf(zstdAvailable())('a zstd bomb: the same ratio guard as gzip', async () => {
    const box = sandbox();
    const bomb = zstdBomb(blobName(digestOf('never')), 512 * 1024 * 1024, 512);
    expect(bomb.length).toBeLessThan(64 * 1024); // zstd packs zeros ~25× tighter than gzip
    await box.expectRefused(bomb, 'E_TOO_LARGE');
  });

  it('an entry claiming more bytes than the disk has free', async () => {
    const box = sandbox();
    const free = statfsFree(box.target);
    const bytes = Buffer.concat([
      tarHeader({ name: blobName(digestOf('x')), size: free * 2 + 1 }),
      Buffer.alloc(1024),
    ]);
    await box.expectRefused(bytes, 'E_TOO_LARGE');
  });

  it('an archive over the caller’s size limit', async () => {
    const box = sandbox();
    await box.expectRefused(layoutTar(SOURCE), 'E_TOO_LARGE', { limits: { maxBytes: 10_000 } });
  });

  it('a conflicting tag, by default', async () => {
    const box = sandbox();
    // umoci-multitag's `latest` names v2; the target's `latest` names v1.
    await box.expectRefused(layoutTar(SOURCE), 'E_CONFLICT');
  });

  it('leaves no new directory behind when the target did not exist', async () => {
    const dir = join(tmpDir(), 'new-layout');
    await expect(
      importBytes(withExtra([{ name: '../evil', body: 'x' }]), dir),
    ).rejects.toMatchObject({
      code: 'E_UNSAFE_ENTRY',
    });
    expect(existsSync(dir)).toBe(false);
  });
});

/** bavail × bsize: the same figure import checks entries against. */
function statfsFree(dir: string): number {
  const s = statfsSync(dir);
  return s.bavail * s.bsize;
}
