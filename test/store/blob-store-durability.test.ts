// Batched durability (PutOptions.deferFileSync): blobs are usable at once and flush() makes them
// durable in one go, including blobs gc removed meanwhile.
import { readFileSync } from 'node:fs';
import { Readable } from 'node:stream';
import { describe, expect, it, vi } from 'vitest';
import * as childProcess from 'node:child_process';
import { digestOf } from '../../src/internal.js';
import { tmpLayout } from '../helpers/tmp.js';

vi.mock('node:child_process', { spy: true });

describe('BlobStore deferFileSync', () => {
  it('makes deferred blobs visible and verified at once, and flushes them with one filesystem sync', async () => {
    const layout = tmpLayout();
    const spawn = vi.mocked(childProcess.spawnSync);
    spawn.mockClear();
    const small = Array.from({ length: 12 }, (_, i) =>
      layout.blobs.putBytes(Buffer.from(`small ${i}`), {}, { deferFileSync: true }),
    );
    const big = await layout.blobs.put(
      Readable.from([Buffer.alloc(3 << 20, 7)]),
      {},
      { deferFileSync: true },
    );
    for (const r of [...small, big]) {
      expect(r.existed).toBe(false);
      expect(digestOf(readFileSync(layout.blobs.path(r.digest)))).toBe(r.digest);
    }
    layout.blobs.flush();
    const syncs = spawn.mock.calls.filter(([cmd]) => cmd === 'sync');
    expect(syncs).toHaveLength(1);
    expect(syncs[0]![1]).toEqual(['--file-system', layout.root]);
    layout.blobs.flush(); // nothing left to sync
    expect(spawn.mock.calls.filter(([cmd]) => cmd === 'sync')).toHaveLength(1);
  });

  it('tolerates a deferred blob removed before the flush, and syncs few files one by one', () => {
    const layout = tmpLayout();
    const spawn = vi.mocked(childProcess.spawnSync);
    spawn.mockClear();
    const a = layout.blobs.putBytes(Buffer.from('a'), {}, { deferFileSync: true });
    const b = layout.blobs.putBytes(Buffer.from('b'), {}, { deferFileSync: true });
    expect(layout.blobs.delete(a.digest)).toBe(true);
    expect(() => layout.blobs.flush()).not.toThrow();
    expect(spawn.mock.calls.filter(([cmd]) => cmd === 'sync')).toHaveLength(0);
    expect(layout.blobs.has(b.digest)).toBe(true);
  });
});
