// A full disk while a command creates a new layout: it fails with a typed error and leaves nothing
// of what it made (no half layout that fsck would reject, no empty layout either).
import { randomBytes } from 'node:crypto';
import { readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Layout, exportArchive, pushFiles } from '../../src/internal.js';
import { runCli } from '../helpers/run-cli.js';
import { mountSmallFs, smallFsUnavailable } from '../helpers/small-fs.js';
import { tmpDir } from '../helpers/tmp.js';

const unavailable = smallFsUnavailable();
if (unavailable !== undefined) console.warn(`SKIP full-disk tests: ${unavailable}`);

describe.skipIf(unavailable !== undefined)('a full disk under a new layout', () => {
  const big = (): string => {
    const file = join(tmpDir(), 'big.bin');
    writeFileSync(file, Buffer.alloc(1024 * 1024, 7));
    return file;
  };

  it('push into a directory that did not exist: E_IO, and the directory is gone again', async () => {
    const fs = mountSmallFs('256k');
    const r = await runCli(['push', `${join(fs.dir, 'new')}:v1`, big()]);
    expect(r.code, r.stderr).toBe(9);
    expect(r.stderr).toContain('E_IO');
    expect(readdirSync(fs.dir)).toEqual([]);
  });

  it('copy --no-link of a big blob (a kernel-side copy) onto a full disk: E_IO, no part, no blob', async () => {
    const src = join(tmpDir(), 'src');
    const layer = join(tmpDir(), 'layer.bin');
    writeFileSync(layer, randomBytes(2 * 1024 * 1024));
    await pushFiles(Layout.init(src).layout, [{ path: layer }], { tag: 'v1' });
    const fs = mountSmallFs('1m');
    const dst = join(fs.dir, 'new');
    const r = await runCli(['copy', '--no-link', `${src}:v1`, dst]);
    expect(r.code, r.stderr).toBe(9);
    expect(r.stderr).toContain('E_IO');
    expect(r.stderr).toContain('ENOSPC');
    expect(readdirSync(join(dst, 'ingest'))).toEqual([]);
    expect(readdirSync(join(dst, 'blobs', 'sha256'))).toEqual([]);
  });

  it('import into a directory that did not exist: refused, and the directory is gone again', async () => {
    const src = join(tmpDir(), 'src');
    await pushFiles(Layout.init(src).layout, [{ path: big() }], { tag: 'v1' });
    const archive = join(tmpDir(), 'a.tar');
    await exportArchive(src, archive);
    const fs = mountSmallFs('256k');
    const r = await runCli(['import', archive, join(fs.dir, 'new')]);
    expect(r.code, r.stderr).not.toBe(0);
    expect(r.stderr).toMatch(/E_TOO_LARGE|E_IO/);
    expect(readdirSync(fs.dir)).toEqual([]);
  });
});
