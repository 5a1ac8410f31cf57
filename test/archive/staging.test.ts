import { randomBytes } from 'node:crypto';
import { statSync } from 'node:fs';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { Staging } from '../../src/archive/staging.js';
import { digestOf, parseDigest } from '../../src/internal.js';
import { tmpLayout } from '../helpers/tmp.js';

// Staging takes tar-stream entries; any async iterable of Buffers behaves the same for it.
const body = (s: string | Buffer) => Readable.from([Buffer.from(s)]) as never;

describe('Staging', () => {
  it('links a blob the target already holds (after verifying the archive’s bytes)', async () => {
    const target = tmpLayout();
    const bytes = Buffer.from('shared layer');
    const existing = target.blobs.putBytes(bytes);
    const staging = Staging.open(target);
    try {
      await staging.stageFile('blobs/sha256/x', body(bytes), bytes.length, existing.digest);
      expect(statSync(staging.layout.blobs.path(existing.digest)).ino).toBe(
        statSync(target.blobs.path(existing.digest)).ino,
      );
      await expect(
        staging.stageFile('blobs/sha256/y', body('other bytes!'), bytes.length, existing.digest),
      ).rejects.toMatchObject({ code: 'E_DIGEST_MISMATCH' });
    } finally {
      staging.discard();
    }
  });

  it('hashes unnamed (docker) files, accepts identical duplicates, refuses different ones', async () => {
    const target = tmpLayout();
    const staging = Staging.open(target);
    try {
      const a = await staging.stageFile('x.tar', body('one'), 3);
      expect(a.digest).toBe(digestOf('one'));
      await staging.stageFile('x.tar', body('one'), 3);
      await expect(staging.stageFile('x.tar', body('two'), 3)).rejects.toMatchObject({
        code: 'E_UNSAFE_ENTRY',
      });
      staging.addAlias('id/layer.tar', 'x.tar');
      await expect(staging.stageFile('id/layer.tar', body('one'), 3)).rejects.toMatchObject({
        code: 'E_UNSAFE_ENTRY',
      });
    } finally {
      staging.discard();
    }
    expect(target.blobs.has(parseDigest(digestOf('one')))).toBe(false);
  });

  it('tells a gzip file by its magic bytes even when its first chunk holds only one byte', async () => {
    // tar-stream hands on an entry's data as it finds it in the input: behind a gunzip or a pipe,
    // the first chunk of a body can be a single byte.
    const gz = gzipSync(randomBytes(1536 * 1024)); // over the 1 MiB read-whole threshold
    const staging = Staging.open(tmpLayout());
    try {
      const split = () => Readable.from([gz.subarray(0, 1), gz.subarray(1)]) as never;
      const streamed = await staging.stageFile('big.tar.gz', split(), gz.length);
      expect(streamed.compression).toBe('gzip');
      const verified = await staging.stageFile('big.tar.gz', split(), gz.length);
      expect(verified.compression).toBe('gzip');
      const named = await staging.stageFile('blobs/sha256/x', split(), gz.length, digestOf(gz));
      expect(named.compression).toBe('gzip');
      // The blob is staged now: a second copy is only verified (verifyDrain), not stored again.
      const again = await staging.stageFile('blobs/sha256/y', split(), gz.length, digestOf(gz));
      expect(again.compression).toBe('gzip');
    } finally {
      staging.discard();
    }
  });

  it('caps the JSON held in memory in total, not only per file', async () => {
    // index.json may be 256 MiB, and an archive may hold one in every top folder (the root is only
    // known at the end): without a total, a plain tar of many folders fills the memory.
    const MiB = 1024 * 1024;
    const staging = Staging.open(tmpLayout());
    try {
      // Declared sizes are what the budget counts before reading (tar-stream enforces them).
      await staging.bufferJson('a/index.json', body('{}'), 200 * MiB, 256 * MiB);
      await staging.bufferJson('a/index.json', body('{}'), 200 * MiB, 256 * MiB); // same file again
      await staging.bufferJson('a/manifest.json', body('[]'), 16 * MiB, 16 * MiB);
      await expect(
        staging.bufferJson('b/index.json', body('{}'), 200 * MiB, 256 * MiB),
      ).rejects.toMatchObject({ code: 'E_TOO_LARGE' });
    } finally {
      staging.discard();
    }
  });

  it('keeps JSON files in memory under a cap', async () => {
    const staging = Staging.open(tmpLayout());
    try {
      await staging.bufferJson('index.json', body('{}'), 2, 10);
      expect(staging.json.get('index.json')?.toString()).toBe('{}');
      await expect(staging.bufferJson('manifest.json', body('[]'), 20, 10)).rejects.toMatchObject({
        code: 'E_TOO_LARGE',
      });
    } finally {
      staging.discard();
    }
  });
});
