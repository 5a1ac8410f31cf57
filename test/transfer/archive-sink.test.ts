// archive-sink.ts: an archive destination is a private layout the layout sink fills, tarred by
// export's own writer. What it writes (export's bytes, deterministically), and what a failure
// leaves: never a partial archive at the destination path, never the private layout.
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { exportArchive } from '../../src/transfer/export.js';
import { Layout } from '../../src/layout/layout.js';
import { MediaType } from '../../src/media-types.js';
import { copyRefs } from '../../src/transfer/endpoints.js';
import { multiPlatformLayout } from '../helpers/make-layout.js';
import { tmpDir } from '../helpers/tmp.js';

/** Our temp names (the private layout, export's temp file) in `dir`. */
const ours = (dir: string): string[] => readdirSync(dir).filter((n) => n.startsWith('.ocilayout-'));

describe('an archive as a copy destination', () => {
  it('writes the bytes `export --ref TAG` writes, every time', async () => {
    const made = multiPlatformLayout(join(tmpDir(), 'src'));
    const dir = tmpDir();
    await exportArchive(made.root, join(dir, 'export.tar'), { refs: ['v1'] });
    const expected = readFileSync(join(dir, 'export.tar'));
    for (const name of ['a.tar', 'b.tar']) {
      await copyRefs(`${made.root}:v1`, `oci-archive:${join(dir, name)}`);
      expect(readFileSync(join(dir, name)).equals(expected)).toBe(true);
    }
    expect(ours(dir)).toEqual([]);
  });

  it.each([
    ['a directory', (p: string): void => mkdirSync(p)],
    ['a symlink', (p: string): void => symlinkSync('/etc/passwd', p)],
  ])('refuses %s at the destination path before placing anything', async (_n, make) => {
    const made = multiPlatformLayout(join(tmpDir(), 'src'));
    const dir = tmpDir();
    make(join(dir, 'out.tar'));
    let events = 0;
    await expect(
      copyRefs(`${made.root}:v1`, `oci-archive:${join(dir, 'out.tar')}`, {
        onEvent: () => void events++,
      }),
    ).rejects.toMatchObject({ code: 'E_UNSAFE_ENTRY' });
    expect(events).toBe(1); // the plan event only
    expect(ours(dir)).toEqual([]);
  });

  it('a stream that fails midway is E_IO, and the private layout goes', async () => {
    const made = multiPlatformLayout(join(tmpDir(), 'src'));
    const before = ours(tmpdir());
    let written = 0;
    const stdout = new Writable({
      write(chunk: Buffer, _enc, done) {
        written += chunk.byteLength;
        done(written > 2048 ? new Error('EPIPE') : null);
      },
    });
    stdout.on('error', () => undefined); // the copy's own rejection reports it
    await expect(copyRefs(`${made.root}:v1`, 'oci-archive:-', { stdout })).rejects.toMatchObject({
      code: 'E_IO',
    });
    expect(ours(tmpdir()).filter((n) => !before.includes(n))).toEqual([]);
  });

  it('replaces an archive already there only once the new one is complete', async () => {
    const made = multiPlatformLayout(join(tmpDir(), 'src'));
    const dir = tmpDir();
    const file = join(dir, 'out.tar');
    writeFileSync(file, 'old');
    await expect(copyRefs(`${made.root}:v9`, `oci-archive:${file}`)).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
    });
    expect(readFileSync(file, 'utf8')).toBe('old');
    await copyRefs(`${made.root}:v1`, `oci-archive:${file}:latest`);
    expect(readFileSync(file).subarray(0, 6).toString()).toBe('blobs/');
    expect(ours(dir)).toEqual([]);
  });
});

describe('verification into an archive', () => {
  it('a corrupt big source blob is caught while the tar is written: no archive', async () => {
    const src = Layout.init(join(tmpDir(), 'src')).layout;
    const big = src.blobs.putBytes(randomBytes(3 * 1024 * 1024));
    const config = src.blobs.putBytes(Buffer.from('{"architecture":"amd64","os":"linux"}'));
    await src.putManifest(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.ImageManifest,
          config: { mediaType: MediaType.ImageConfig, digest: config.digest, size: config.size },
          layers: [{ mediaType: MediaType.LayerGzip, digest: big.digest, size: big.size }],
        }),
      ),
      { tag: 'v1' },
    );
    // Same size, other bytes: only hashing can tell.
    const path = src.blobs.path(big.digest);
    chmodSync(path, 0o644);
    writeFileSync(path, randomBytes(big.size));
    chmodSync(path, 0o444);
    const dir = tmpDir();
    for (const link of [true, false]) {
      await expect(
        copyRefs(`${src.root}:v1`, `oci-archive:${join(dir, 'out.tar')}`, { link }),
      ).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH' });
      expect(readdirSync(dir)).toEqual([]);
    }
  });
});
