import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { setImmediate as tick } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { DEFAULT_EXPANSION_LIMITS } from '../../src/archive/compression.js';
import {
  openArchiveFile,
  readArchive,
  transientChunks,
  type ArchiveInput,
} from '../../src/archive/tar-source.js';
import { gz, makeTar, type TarSpec } from '../helpers/make-tar.js';
import { tmpDir } from '../helpers/tmp.js';

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

describe('readArchive of an archive file (its read buffers reused)', () => {
  const MiB = 1024 * 1024;
  /** Bodies whose ends fall anywhere in a 1 MiB read, a pax long name, empty and tiny files. */
  const specs: TarSpec[] = [
    { name: 'a', body: randomBytes(3 * MiB + 77) },
    { name: 'b', body: randomBytes(700 * 1024) },
    { name: 'empty', body: Buffer.alloc(0) },
    { name: 'c', body: randomBytes(MiB) },
    { name: 'PaxHeader', type: { flag: 'x' }, body: paxRecord('path', `${'n'.repeat(150)}/d`) },
    { name: 'd-short', body: randomBytes(5 * MiB - 3) },
    { name: 'e', body: randomBytes(2 * MiB + 1) },
    { name: 'f', body: 'x' },
    { name: 'g', body: randomBytes(12 * MiB + 511) },
  ];
  const file = (): string => {
    const path = join(tmpDir(), 'a.tar');
    writeFileSync(path, makeTar(specs));
    return path;
  };
  const expected = new Map(
    specs
      .filter((s) => s.name !== 'PaxHeader')
      .map((s) => [s.name === 'd-short' ? `${'n'.repeat(150)}/d` : s.name, Buffer.from(s.body!)]),
  );

  it('hands a transient consumer the same few buffers over and over', async () => {
    const buffers = new Set<ArrayBufferLike>();
    let chunks = 0;
    await readArchive(
      openArchiveFile(file()),
      { limits: DEFAULT_EXPANSION_LIMITS },
      async (_v, body) => {
        for await (const chunk of transientChunks(body)) {
          buffers.add(chunk.buffer);
          chunks += 1;
        }
      },
    );
    expect(chunks).toBeGreaterThan(16);
    // A stream hands out a fresh buffer per read (one per chunk here): the GC's to collect.
    expect(buffers.size).toBeLessThanOrEqual(12);
  });

  it('never overwrites a chunk a consumer may still hold, whichever way it reads', async () => {
    // Three kinds of consumer in turn: one that holds every chunk for as long as transientChunks
    // allows (until it asks for the chunk after next) and checks it only at that last moment; one that keeps the
    // whole body as it came and checks it at the end; one that reads nothing. Each waits between
    // chunks, so the reader runs ahead and reuses whatever it believes is free.
    const seen = new Map<string, Buffer>();
    let turn = 0;
    await readArchive(
      openArchiveFile(file()),
      { limits: DEFAULT_EXPANSION_LIMITS },
      async (v, body) => {
        const want = expected.get(v.path);
        if (v.kind !== 'file' || want === undefined) return;
        const kind = turn++ % 3;
        if (kind === 2) return;
        const kept: Buffer[] = [];
        let offset = 0;
        const iterator = kind === 0 ? transientChunks(body) : body;
        for await (const c of iterator) {
          kept.push(c as Buffer);
          await tick();
          if (kind === 0 && kept.length === 2) {
            // The last moment it may: the chunk before this one, just before asking for the next.
            const oldest = kept.shift()!;
            expect(oldest.equals(want.subarray(offset, offset + oldest.length))).toBe(true);
            offset += oldest.length;
          }
        }
        seen.set(v.path, Buffer.concat(kind === 0 ? [want.subarray(0, offset), ...kept] : kept));
      },
    );
    expect(seen.size).toBe(6);
    for (const [path, bytes] of seen) expect(bytes.equals(expected.get(path)!)).toBe(true);
  });
});

function paxRecord(key: string, value: string): string {
  const body = ` ${key}=${value}\n`;
  let n = body.length + 1;
  while (`${n}${body}`.length !== n) n = `${n}${body}`.length;
  return `${n}${body}`;
}
