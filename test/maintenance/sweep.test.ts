// sweep.ts on its own: planGarbage (what is garbage, parents first, special files left alone) and
// sweepGarbage (park, second look at the leases, restore what a writer now needs, unlink the rest;
// on failure put everything back). gc.test.ts and gc-interleaving.test.ts prove it inside gc.
import { existsSync, readdirSync, symlinkSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { Digest } from '../../src/digest.js';
import { planGarbage, sweepGarbage } from '../../src/maintenance/sweep.js';
import { leaseDigest, releaseLease } from '../../src/store/ingest.js';
import type { HeldLock } from '../../src/store/lock.js';
import { INDEX_LOCK } from '../../src/store/paths.js';
import { compileChildLib, type ChildLib } from '../helpers/child-lib.js';
import {
  bytesOf,
  imageBlobs,
  imageIndex,
  imageManifest,
  makeLayout,
  type MadeLayout,
} from '../helpers/make-layout.js';
import { layoutSnapshot } from '../helpers/snapshot.js';

const HELD: HeldLock = { assertHeld: () => undefined };

const dig = (m: MadeLayout, ...names: string[]): Digest[] =>
  names.map((n) => m.d[n]!.digest as Digest);

function blobFile(m: MadeLayout, name: string): string {
  return join(m.root, 'blobs', 'sha256', m.d[name]!.digest.slice(7));
}

function ingestNames(m: MadeLayout): string[] {
  return existsSync(join(m.root, 'ingest')) ? readdirSync(join(m.root, 'ingest')) : [];
}

/** Everything garbage: an index over image a, and a loose blob. */
function allGarbage(): MadeLayout {
  return makeLayout({
    blobs: {
      ...imageBlobs('a'),
      idx: (d) => imageIndex([d['amanifest']!]),
      junk: 'loose bytes',
      cfg: { not: 'a manifest', layers: 'no list' },
    },
  });
}

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) releaseLease(r);
});

describe('planGarbage', () => {
  it('lists every blob not live, each document before what it references', () => {
    const m = allGarbage();
    const plan = planGarbage(m.open(), new Set(dig(m, 'junk')));
    const order = plan.map((b) => b.digest);
    expect([...order].sort()).toEqual(
      dig(m, 'aconfig', 'alayer', 'amanifest', 'idx', 'cfg').sort(),
    );
    const at = (n: string): number => order.indexOf(m.d[n]!.digest as Digest);
    expect(at('idx')).toBeLessThan(at('amanifest'));
    expect(at('amanifest')).toBeLessThan(at('alayer'));
    expect(at('amanifest')).toBeLessThan(at('aconfig'));
  });

  it('records sizes and the children of documents only', () => {
    const m = allGarbage();
    const plan = new Map(planGarbage(m.open(), new Set()).map((b) => [b.digest, b]));
    expect(plan.get(m.d['idx']!.digest as Digest)).toEqual({
      digest: m.d['idx']!.digest,
      size: m.d['idx']!.size,
      children: dig(m, 'amanifest'),
    });
    expect(plan.get(m.d['amanifest']!.digest as Digest)!.children).toEqual(
      dig(m, 'aconfig', 'alayer'),
    );
    // A config that merely has a `layers` key, a layer, a loose blob: reference nothing.
    for (const n of ['cfg', 'alayer', 'junk', 'aconfig'])
      expect(plan.get(m.d[n]!.digest as Digest)!.children).toEqual([]);
  });

  it('leaves a symlink where a blob belongs to fsck and a human', () => {
    const m = allGarbage();
    unlinkSync(blobFile(m, 'junk'));
    symlinkSync('/etc/hostname', blobFile(m, 'junk'));
    const plan = planGarbage(m.open(), new Set());
    expect(plan.map((b) => b.digest)).not.toContain(m.d['junk']!.digest);
    expect(plan).toHaveLength(5);
  });
});

describe('sweepGarbage', () => {
  it('deletes every garbage blob and leaves nothing parked', async () => {
    const m = allGarbage();
    const layout = m.open();
    const plan = planGarbage(layout, new Set(dig(m, 'junk')));
    const r = await sweepGarbage(layout, plan, new Set(dig(m, 'junk')), HELD);
    expect(r.removed).toEqual(plan);
    expect(r.restored).toEqual([]);
    expect(readdirSync(join(m.root, 'blobs', 'sha256'))).toEqual([m.d['junk']!.digest.slice(7)]);
    expect(ingestNames(m)).toEqual([]);
  });

  it('is not disturbed by a blob someone else deleted after the plan', async () => {
    const m = allGarbage();
    const layout = m.open();
    const plan = planGarbage(layout, new Set());
    unlinkSync(blobFile(m, 'alayer'));
    const r = await sweepGarbage(layout, plan, new Set(), HELD);
    expect(r.removed.map((b) => b.digest)).not.toContain(m.d['alayer']!.digest);
    expect(r.removed).toHaveLength(plan.length - 1);
  });

  it('restores what a writer leased while the blobs were parked, with what it references', async () => {
    const m = allGarbage();
    const layout = m.open();
    const plan = planGarbage(layout, new Set());
    roots.push(m.root);
    const r = await sweepGarbage(layout, plan, new Set(), HELD, () => {
      expect(existsSync(blobFile(m, 'amanifest'))).toBe(false); // parked, not yet deleted
      leaseDigest(m.root, m.d['amanifest']!.digest);
    });
    expect([...r.restored].sort()).toEqual(dig(m, 'aconfig', 'alayer', 'amanifest').sort());
    expect(r.removed.map((b) => b.digest).sort()).toEqual(dig(m, 'cfg', 'idx', 'junk').sort());
    for (const n of ['amanifest', 'aconfig', 'alayer'])
      expect(existsSync(blobFile(m, n))).toBe(true);
    expect(ingestNames(m).filter((n) => !n.endsWith('.lease'))).toEqual([]);
  });

  it('restores parked content a manifest written after the mark references', async () => {
    const m = allGarbage();
    const layout = m.open();
    const plan = planGarbage(layout, new Set());
    roots.push(m.root);
    const late = bytesOf(imageManifest(m.d['aconfig']!, [m.d['junk']!]));
    const r = await sweepGarbage(layout, plan, new Set(), HELD, () => {
      // A writer commits a new manifest over two parked blobs and leases only the manifest.
      const stored = layout.blobs.putBytes(late);
      leaseDigest(m.root, stored.digest);
    });
    expect([...r.restored].sort()).toEqual(dig(m, 'aconfig', 'junk').sort());
    expect(existsSync(blobFile(m, 'junk'))).toBe(true);
    expect(existsSync(blobFile(m, 'alayer'))).toBe(false);
  });

  it('puts everything back and rethrows when a step before the unlinks fails', async () => {
    const m = allGarbage();
    const layout = m.open();
    const before = layoutSnapshot(m.root);
    const plan = planGarbage(layout, new Set());
    await expect(
      sweepGarbage(layout, plan, new Set(), HELD, () => {
        throw Object.assign(new Error('interrupted'), { code: 'E_TEST' });
      }),
    ).rejects.toMatchObject({ code: 'E_TEST' });
    expect(layoutSnapshot(m.root)).toEqual(before);
    expect(ingestNames(m)).toEqual([]);
  });

  it('refuses to start, or to delete, once the lock is lost', async () => {
    const m = allGarbage();
    const layout = m.open();
    const before = layoutSnapshot(m.root);
    const plan = planGarbage(layout, new Set());
    const lost = (afterCalls: number): HeldLock => {
      let calls = 0;
      return {
        assertHeld: () => {
          if (++calls > afterCalls)
            throw Object.assign(new Error('lock lost'), { code: 'E_LOCK_COMPROMISED' });
        },
      };
    };
    for (const n of [0, 1]) {
      await expect(sweepGarbage(layout, plan, new Set(), lost(n))).rejects.toMatchObject({
        code: 'E_LOCK_COMPROMISED',
      });
      expect(layoutSnapshot(m.root)).toEqual(before);
    }
  });

  it('parks and deletes many blobs (past the event-loop yield interval)', async () => {
    const blobs: Record<string, string> = {};
    for (let i = 0; i < 300; i++) blobs[`b${i}`] = `blob ${i}`;
    const m = makeLayout({ blobs });
    writeFileSync(join(m.root, 'keep'), 'not a blob');
    const layout = m.open();
    const r = await sweepGarbage(layout, planGarbage(layout, new Set()), new Set(), HELD);
    expect(r.removed).toHaveLength(300);
    expect(readdirSync(join(m.root, 'blobs', 'sha256'))).toEqual([]);
  });
});

describe('sweepGarbage when the process exits mid-sweep', () => {
  let lib: ChildLib;
  beforeAll(() => {
    lib = compileChildLib(['maintenance/gc.ts']);
  });
  afterAll(() => lib.dispose());

  it('puts every parked blob back on a signal before the decision', async () => {
    const m = allGarbage();
    const before = layoutSnapshot(m.root);
    // gc parks everything, then the CLI's SIGTERM handler (process.exit) runs while it waits.
    const script = lib.script(
      'gc-signalled',
      `import { Layout } from './layout/layout.js';
import { gc } from './maintenance/gc.js';
process.on('SIGTERM', () => process.exit(143));
await gc(Layout.open(process.argv[2]), {
  onPhase: (phase) => {
    if (phase !== 'parked') return;
    console.log('parked');
    process.kill(process.pid, 'SIGTERM');
    return new Promise(() => setInterval(() => {}, 1000));
  },
});
`,
    );
    const r = await lib.run(script, [m.root]);
    expect(r).toMatchObject({ code: 143, stdout: 'parked\n' });
    expect(ingestNames(m)).toEqual([]);
    expect(existsSync(join(m.root, INDEX_LOCK))).toBe(false);
    expect(layoutSnapshot(m.root)).toEqual(before);
  });
});
