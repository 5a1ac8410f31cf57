// The gc/writer protocol (spec-notes/concurrency.md), one interleaving at a time: a writer acting
// in this process at each point between gc's steps, through gc's onPhase hook.
import { existsSync, mkdirSync, readdirSync, renameSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parseDigest, type Digest } from '../../src/digest.js';
import { LockError } from '../../src/errors.js';
import { fsck } from '../../src/maintenance/fsck.js';
import { gc } from '../../src/maintenance/gc.js';
import { planGarbage, sweepGarbage } from '../../src/maintenance/sweep.js';
import { releaseLease } from '../../src/store/ingest.js';
import type { Layout } from '../../src/layout/layout.js';
import {
  bytesOf,
  imageBlobs,
  imageIndex,
  imageManifest,
  makeLayout,
  tagged,
  type MadeLayout,
} from '../helpers/make-layout.js';
import { deadOwnerToken } from './helpers.js';

const roots: string[] = [];
afterEach(() => {
  for (const r of roots.splice(0)) releaseLease(r);
});

/** Image `a` tagged, image `g` (config, layer, manifest) garbage. */
function layoutWithGarbage(): { m: MadeLayout; layout: Layout; contents: Record<string, Buffer> } {
  const blobs = { ...imageBlobs('a'), ...imageBlobs('g') };
  const m = makeLayout({ blobs, index: (d) => imageIndex([tagged(d['amanifest']!, 'a')]) });
  const contents: Record<string, Buffer> = {};
  const d = {};
  for (const [name, make] of Object.entries(blobs)) {
    contents[name] = bytesOf(make(Object.assign(d, m.d)));
  }
  roots.push(m.root);
  return { m, layout: m.open(), contents };
}

/** What a writer does for one blob it will reference: lease, then look, then write if absent. */
function writerPuts(layout: Layout, m: MadeLayout, bytes: Buffer, name: string): boolean {
  return layout.blobs.putBytes(bytes, { digest: m.d[name]!.digest, size: bytes.byteLength })
    .existed;
}

/** The writer's index commit after gc let go of the lock. */
async function writerTags(layout: Layout, m: MadeLayout, tag: string): Promise<void> {
  await layout.updateIndex((index) => {
    index.manifests.push(tagged(m.d['gmanifest']!, tag));
    return { index, result: undefined };
  });
}

function has(layout: Layout, m: MadeLayout, name: string): boolean {
  return layout.blobs.has(parseDigest(m.d[name]!.digest));
}

function trashIn(root: string): string[] {
  return readdirSync(join(root, 'ingest')).filter((n) => n.endsWith('.trash'));
}

const G = ['gconfig', 'glayer', 'gmanifest'];

describe('gc beside a writer, step by step', () => {
  it('writer leases and finds the blobs after the mark, before the park: gc puts them back', async () => {
    const { m, layout, contents } = layoutWithGarbage();
    const existed: boolean[] = [];
    const r = await gc(layout, {
      onPhase: (phase) => {
        if (phase === 'marked')
          for (const n of G) existed.push(writerPuts(layout, m, contents[n]!, n));
      },
    });
    expect(existed).toEqual([true, true, true]); // the writer skipped writing: it relies on gc
    expect([...r.restoredBlobs].sort()).toEqual(G.map((n) => m.d[n]!.digest).sort());
    expect(r.removedBlobs).toEqual([]);
    await writerTags(layout, m, 'g');
    expect((await fsck(layout)).findings).toEqual([]);
    expect(trashIn(m.root)).toEqual([]);
  });

  it('writer leases after the park, before the re-check: it writes its own copy, gc keeps one', async () => {
    const { m, layout, contents } = layoutWithGarbage();
    const existed: boolean[] = [];
    const r = await gc(layout, {
      onPhase: (phase) => {
        if (phase === 'parked')
          for (const n of G) existed.push(writerPuts(layout, m, contents[n]!, n));
      },
    });
    expect(existed).toEqual([false, false, false]); // parked: absent, so the writer wrote them
    expect(r.removedBlobs).toEqual([]);
    for (const n of G) expect(has(layout, m, n)).toBe(true);
    await writerTags(layout, m, 'g');
    expect((await fsck(layout)).findings).toEqual([]);
    expect(trashIn(m.root)).toEqual([]);
  });

  it('writer leases after the re-check: gc deletes, the writer finds nothing and writes', async () => {
    const { m, layout, contents } = layoutWithGarbage();
    const existed: boolean[] = [];
    const r = await gc(layout, {
      onPhase: (phase) => {
        if (phase === 'swept')
          for (const n of G) existed.push(writerPuts(layout, m, contents[n]!, n));
      },
    });
    expect([...r.removedBlobs].sort()).toEqual(G.map((n) => m.d[n]!.digest).sort());
    expect(existed).toEqual([false, false, false]);
    await writerTags(layout, m, 'g');
    expect((await fsck(layout)).findings).toEqual([]);
  });

  it('a leased manifest written after the mark protects the parked blobs it references', async () => {
    const { m, layout } = layoutWithGarbage();
    // A new manifest over g's config and layer; the writer leases only the manifest itself.
    const manifest = bytesOf(
      imageManifest(m.d['gconfig']!, [m.d['glayer']!], { annotations: { n: '2' } }),
    );
    let stored: Digest | undefined;
    const r = await gc(layout, {
      onPhase: (phase) => {
        if (phase === 'parked') stored = layout.blobs.putBytes(manifest).digest;
      },
    });
    expect(has(layout, m, 'gconfig') && has(layout, m, 'glayer')).toBe(true);
    expect(r.removedBlobs).toEqual([m.d['gmanifest']!.digest]);
    await layout.updateIndex((index) => {
      index.manifests.push({
        mediaType: m.d['gmanifest']!.mediaType,
        digest: stored!,
        size: manifest.length,
      });
      return { index, result: undefined };
    });
    expect((await fsck(layout)).findings).toEqual([]);
  });

  it('a gc that crashed with blobs parked: fsck names the copy, the next gc puts needed ones back', async () => {
    const { m, layout } = layoutWithGarbage();
    const park = (name: string): string => {
      const digest = m.d[name]!.digest;
      const trash = `${deadOwnerToken()}.00000000000${G.indexOf(name)}.sha256-${digest.slice(7)}.trash`;
      renameSync(join(m.root, 'blobs', 'sha256', digest.slice(7)), join(m.root, 'ingest', trash));
      return `ingest/${trash}`;
    };
    mkdirSync(join(m.root, 'ingest'), { recursive: true });
    // The crashed gc parked g; a writer had leased g and committed the tag while it was parked.
    const parked = G.map(park);
    await writerTags(layout, m, 'g');
    const before = await fsck(layout);
    // Only the manifest is known missing: what it references cannot be read from it.
    expect(before.findings.map((f) => f.code)).toEqual([
      'MISSING_BLOB',
      'INGEST_ABANDONED',
      'INGEST_ABANDONED',
      'INGEST_ABANDONED',
    ]);
    expect(before.findings[0]!.message).toMatch(/parked a copy in ingest\//);
    const dry = await gc(layout, { dryRun: true });
    expect([...dry.restoredBlobs].sort()).toEqual(G.map((n) => m.d[n]!.digest).sort());
    expect(dry).toMatchObject({ removedBlobs: [], removedIngest: [] });
    const r = await gc(layout);
    expect([...r.restoredBlobs].sort()).toEqual(G.map((n) => m.d[n]!.digest).sort());
    expect(r.removedIngest).toEqual([]);
    for (const p of parked) expect(existsSync(join(m.root, p))).toBe(false);
    expect((await fsck(layout)).findings).toEqual([]);
  });

  it("a crashed gc's parked blob that nothing needs is removed with the abandoned files", async () => {
    const { m, layout } = layoutWithGarbage();
    const digest = m.d['glayer']!.digest;
    mkdirSync(join(m.root, 'ingest'), { recursive: true });
    const trash = `ingest/${deadOwnerToken()}.aaaaaaaaaaaa.sha256-${digest.slice(7)}.trash`;
    renameSync(join(m.root, 'blobs', 'sha256', digest.slice(7)), join(m.root, trash));
    const r = await gc(layout);
    expect(r.removedIngest).toEqual([trash]);
    expect(r.restoredBlobs).toEqual([]);
    expect(has(layout, m, 'glayer')).toBe(false);
  });

  it('losing the lock after parking puts every parked blob back and deletes nothing', async () => {
    const { m, layout } = layoutWithGarbage();
    const live = new Set(
      ['aconfig', 'alayer', 'amanifest'].map((n) => parseDigest(m.d[n]!.digest)),
    );
    const garbage = planGarbage(layout, live);
    expect(garbage.map((g) => g.digest)[0]).toBe(m.d['gmanifest']!.digest); // parents first
    let checks = 0;
    const held = {
      assertHeld(): void {
        if (++checks === 2) throw new LockError('E_LOCK_COMPROMISED', 'lost it');
      },
    };
    let parkedSeen = 0;
    await expect(
      sweepGarbage(layout, garbage, live, held, () => {
        parkedSeen = G.filter((n) => !has(layout, m, n)).length;
      }),
    ).rejects.toMatchObject({ code: 'E_LOCK_COMPROMISED' });
    expect(parkedSeen).toBe(3);
    for (const n of G) expect(has(layout, m, n)).toBe(true);
    expect(trashIn(m.root)).toEqual([]);
  });
});
