// park.ts on its own: parkAndRecheck with a second look passed in (gc's sweep and the rollback of
// a failed operation's blobs both use it; sweep.test.ts and the sink/import tests prove those).
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import type { Digest } from '../../src/digest.js';
import { parkAndRecheck } from '../../src/maintenance/park.js';
import { planGarbage } from '../../src/maintenance/sweep.js';
import { imageBlobs, imageIndex, makeLayout, type MadeLayout } from '../helpers/make-layout.js';
import { layoutSnapshot } from '../helpers/snapshot.js';

function graph(): MadeLayout {
  return makeLayout({
    blobs: { ...imageBlobs('a'), idx: (d) => imageIndex([d['amanifest']!]), junk: 'loose' },
  });
}

const dig = (m: MadeLayout, ...names: string[]): Digest[] =>
  names.map((n) => m.d[n]!.digest as Digest);

const ingestNames = (m: MadeLayout): string[] =>
  existsSync(join(m.root, 'ingest')) ? readdirSync(join(m.root, 'ingest')) : [];

describe('parkAndRecheck', () => {
  it('asks the second look with every blob parked, restores its answer and unlinks the rest', async () => {
    const m = graph();
    const layout = m.open();
    const plan = planGarbage(layout, new Set());
    const r = await parkAndRecheck(layout, plan, (parked) => {
      expect(parked.map((p) => p.blob.digest)).toEqual(plan.map((b) => b.digest));
      for (const p of parked) expect(existsSync(p.trashPath)).toBe(true);
      expect(readdirSync(join(m.root, 'blobs', 'sha256'))).toEqual([]);
      return new Set(dig(m, 'amanifest', 'aconfig', 'alayer'));
    });
    expect([...r.restored].sort()).toEqual(dig(m, 'amanifest', 'aconfig', 'alayer').sort());
    expect(r.removed.map((b) => b.digest).sort()).toEqual(dig(m, 'idx', 'junk').sort());
    expect(readdirSync(join(m.root, 'blobs', 'sha256')).sort()).toEqual(
      dig(m, 'amanifest', 'aconfig', 'alayer')
        .map((d) => d.slice(7))
        .sort(),
    );
    expect(ingestNames(m)).toEqual([]);
  });

  it('restores children before parents, so a restored manifest never shows without its content', async () => {
    const m = graph();
    const layout = m.open();
    const order: string[] = [];
    const restore = layout.blobs.restoreFromTrash.bind(layout.blobs);
    vi.spyOn(layout.blobs, 'restoreFromTrash').mockImplementation((path, digest) => {
      order.push(digest);
      restore(path, digest);
    });
    await parkAndRecheck(
      layout,
      planGarbage(layout, new Set()),
      () => new Set(dig(m, 'idx', 'amanifest', 'alayer', 'aconfig')),
    );
    expect(order.indexOf(m.d['idx']!.digest)).toBeGreaterThan(
      order.indexOf(m.d['amanifest']!.digest),
    );
    for (const child of dig(m, 'aconfig', 'alayer'))
      expect(order.indexOf(m.d['amanifest']!.digest)).toBeGreaterThan(order.indexOf(child));
  });

  it('puts everything back and rethrows when the second look fails', async () => {
    const m = graph();
    const layout = m.open();
    const before = layoutSnapshot(m.root);
    await expect(
      parkAndRecheck(layout, planGarbage(layout, new Set()), () => {
        throw Object.assign(new Error('cannot tell'), { code: 'E_TEST' });
      }),
    ).rejects.toMatchObject({ code: 'E_TEST' });
    expect(layoutSnapshot(m.root)).toEqual(before);
    expect(ingestNames(m)).toEqual([]);
  });
});
