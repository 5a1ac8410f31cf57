// blob-files.ts on its own: scanBlobFiles judges every file under blobs/ by its name, its type and
// its content, and returns findings (never throws for a bad file); unusable files are named so
// reachability does not report them twice.
import { spawnSync } from 'node:child_process';
import { mkdirSync, rmSync, symlinkSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { digestOf, type Digest } from '../../src/digest.js';
import { scanBlobFiles } from '../../src/maintenance/blob-files.js';
import { freshDir, makeLayout } from '../helpers/make-layout.js';

const codes = (s: { findings: { code: string }[] }): string[] => s.findings.map((f) => f.code);

describe('scanBlobFiles', () => {
  it('hashes every blob, small and large, and finds nothing in a sound layout', async () => {
    const big = Buffer.alloc(9 * 1024 * 1024 + 3, 5); // > 2 chunks of the large path
    const m = makeLayout({ blobs: { a: 'small', big }, algorithm: 'sha256' });
    const s = await scanBlobFiles(m.root);
    expect(s.findings).toEqual([]);
    expect(s.blobs).toBe(2);
    expect(s.bytes).toBe(5 + big.length);
    expect(s.unusable.size).toBe(0);
  });

  it('reports content that does not hash to its name, small or large', async () => {
    const big = Buffer.alloc(2 * 1024 * 1024, 1);
    const m = makeLayout({ blobs: { a: 'small', big } });
    writeFileSync(join(m.root, 'blobs/sha256', m.d['a']!.digest.slice(7)), 'SMALL');
    truncateSync(join(m.root, 'blobs/sha256', m.d['big']!.digest.slice(7)), big.length - 1);
    const s = await scanBlobFiles(m.root);
    expect(codes(s)).toEqual(['BLOB_DIGEST_MISMATCH', 'BLOB_DIGEST_MISMATCH']);
    expect(s.findings.map((f) => f.digest).sort()).toEqual(
      [m.d['a']!.digest, m.d['big']!.digest].sort(),
    );
    expect(s.unusable.size).toBe(0); // corrupt, but readable
  });

  it('checks big blobs several at a time, yet reports in file order', async () => {
    // Big enough for the hash workers; corrupt ones interleaved with a stray name, so a finding
    // that arrived out of order would show.
    const size = 33 * 1024 * 1024;
    const blobs: Record<string, Buffer> = {};
    for (let i = 0; i < 5; i++) blobs[`b${i}`] = Buffer.alloc(size, i + 1);
    const m = makeLayout({ blobs });
    const dir = join(m.root, 'blobs', 'sha256');
    const names = Object.keys(blobs).sort((x, y) => m.d[x]!.digest.localeCompare(m.d[y]!.digest));
    truncateSync(join(dir, m.d[names[1]!]!.digest.slice(7)), size - 1);
    truncateSync(join(dir, m.d[names[4]!]!.digest.slice(7)), 10);
    // Sorts between names[2] and names[3]: "not named by a digest".
    const between = `${m.d[names[2]!]!.digest.slice(7, 20)}-stray`;
    writeFileSync(join(dir, between), 'x');
    const s = await scanBlobFiles(m.root);
    expect(s.findings.map((f) => [f.code, f.digest ?? f.path])).toEqual([
      ['BLOB_DIGEST_MISMATCH', m.d[names[1]!]!.digest],
      ['BLOB_STRAY', join('blobs', 'sha256', between)],
      ['BLOB_DIGEST_MISMATCH', m.d[names[4]!]!.digest],
    ]);
    expect(s.blobs).toBe(5);
    expect(s.bytes).toBe(3 * size + (size - 1) + 10);
  });

  it('reports symlinks, directories and FIFOs as not regular, without following or blocking', async () => {
    const m = makeLayout();
    const dir = join(m.root, 'blobs', 'sha256');
    const [l, d, f] = ['link', 'dir', 'fifo'].map((n) => digestOf(n)) as [Digest, Digest, Digest];
    writeFileSync(join(m.root, 'target'), 'link');
    symlinkSync(join(m.root, 'target'), join(dir, l.slice(7)));
    mkdirSync(join(dir, d.slice(7)));
    expect(spawnSync('mkfifo', [join(dir, f.slice(7))]).status).toBe(0);
    const s = await scanBlobFiles(m.root);
    expect(codes(s)).toEqual(['BLOB_NOT_REGULAR', 'BLOB_NOT_REGULAR', 'BLOB_NOT_REGULAR']);
    expect([...s.unusable].sort()).toEqual([l, d, f].sort());
    expect(s.findings.find((x) => x.digest === l)!.message).toContain('symlink');
    expect(s.blobs).toBe(0);
  });

  it('tells strays and unverifiable algorithms apart from blobs', async () => {
    const m = makeLayout({ blobs: { a: 'ok' } });
    writeFileSync(join(m.root, 'blobs/sha256/not-a-digest'), 'x');
    writeFileSync(join(m.root, 'blobs/sha256', 'AB'.repeat(32)), 'x'); // uppercase hex
    writeFileSync(join(m.root, 'blobs/sha256', 'ab'.repeat(31)), 'x'); // wrong length
    mkdirSync(join(m.root, 'blobs/blake3'));
    writeFileSync(join(m.root, 'blobs/blake3', 'c'.repeat(64)), 'x');
    writeFileSync(join(m.root, 'blobs/README'), 'x'); // a file where an algorithm dir belongs
    const s = await scanBlobFiles(m.root);
    expect(codes(s).sort()).toEqual([
      'BLOB_STRAY',
      'BLOB_STRAY',
      'BLOB_STRAY',
      'BLOB_STRAY',
      'BLOB_UNVERIFIABLE',
    ]);
    expect(s.findings.every((f) => f.severity === 'warning')).toBe(true);
    expect(s.blobs).toBe(1);
  });

  it('refuses to look through a symlinked blobs/ or blobs/<alg>/', async () => {
    const elsewhere = makeLayout({ blobs: { a: 'x' } });
    const m = makeLayout();
    rmSync(join(m.root, 'blobs/sha256'), { recursive: true });
    symlinkSync(join(elsewhere.root, 'blobs/sha256'), join(m.root, 'blobs/sha256'));
    expect(codes(await scanBlobFiles(m.root))).toEqual(['BLOBS_DIR_UNSAFE']);
    const n = makeLayout();
    rmSync(join(n.root, 'blobs'), { recursive: true });
    symlinkSync(join(elsewhere.root, 'blobs'), join(n.root, 'blobs'));
    const s = await scanBlobFiles(n.root);
    expect(codes(s)).toEqual(['BLOBS_DIR_UNSAFE']);
    expect(s.blobs).toBe(0);
  });

  it('reports a missing blobs/ as a finding', async () => {
    const root = freshDir();
    const s = await scanBlobFiles(root);
    expect(codes(s)).toEqual(['BLOBS_DIR_MISSING']);
    expect(s.findings[0]!.severity).toBe('error');
  });
});
