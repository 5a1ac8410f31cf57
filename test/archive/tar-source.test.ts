import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { DEFAULT_EXPANSION_LIMITS } from '../../src/archive/compression.js';
import { readArchive, type ArchiveInput } from '../../src/archive/tar-source.js';
import { gz, makeTar } from '../helpers/make-tar.js';

const input = (bytes: Buffer, chunk = 1000): ArchiveInput => {
  const parts: Buffer[] = [];
  for (let i = 0; i < bytes.length; i += chunk) parts.push(bytes.subarray(i, i + chunk));
  return { stream: Readable.from(parts), name: 'test.tar', size: bytes.length };
};

describe('readArchive', () => {
  const tarBytes = makeTar([
    { name: './dir/', type: 'dir' },
    { name: './dir/a', body: 'alpha' },
    { name: 'b', body: Buffer.alloc(3000, 1) },
  ]);

  it('hands over judged entries in archive order, bodies intact, from tiny or gzip chunks', async () => {
    for (const bytes of [tarBytes, gz(tarBytes)]) {
      const seen: string[] = [];
      const progress: number[] = [];
      const summary = await readArchive(
        input(bytes, 7),
        { limits: DEFAULT_EXPANSION_LIMITS, onProgress: (n) => progress.push(n) },
        async (verdict, body) => {
          const chunks: Buffer[] = [];
          for await (const c of body) chunks.push(c as Buffer);
          seen.push(`${verdict.kind}:${verdict.path}:${Buffer.concat(chunks).length}`);
        },
      );
      expect(seen).toEqual(['directory:dir:0', 'file:dir/a:5', 'file:b:3000']);
      expect(summary.entries).toBe(3);
      expect(progress.at(-1)).toBe(bytes.length);
    }
  });

  it('drains bodies the handler leaves unread', async () => {
    const seen: string[] = [];
    await readArchive(input(tarBytes), { limits: DEFAULT_EXPANSION_LIMITS }, (v) => {
      seen.push(v.path);
      return Promise.resolve();
    });
    expect(seen).toEqual(['dir', 'dir/a', 'b']);
  });

  it('refuses more entries than allowed, and entries larger than the free space', async () => {
    await expect(
      readArchive(input(tarBytes), { limits: DEFAULT_EXPANSION_LIMITS, maxEntries: 2 }, () =>
        Promise.resolve(),
      ),
    ).rejects.toMatchObject({ code: 'E_TOO_LARGE' });
    await expect(
      readArchive(input(tarBytes), { limits: DEFAULT_EXPANSION_LIMITS, freeBytes: () => 100 }, () =>
        Promise.resolve(),
      ),
    ).rejects.toMatchObject({ code: 'E_TOO_LARGE', details: { entry: 'b' } });
  });

  it('surfaces the handler’s error and stops reading', async () => {
    const boom = new Error('handler failed');
    await expect(
      readArchive(input(tarBytes), { limits: DEFAULT_EXPANSION_LIMITS }, () =>
        Promise.reject(boom),
      ),
    ).rejects.toBe(boom);
  });
});
