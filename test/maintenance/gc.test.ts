import { spawn, spawnSync } from 'node:child_process';
import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  renameSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { parseDigest, type Digest } from '../../src/digest.js';
import { fsck } from '../../src/maintenance/fsck.js';
import { gc } from '../../src/maintenance/gc.js';
import type { RootPolicy } from '../../src/maintenance/policy.js';
import type { Layout } from '../../src/layout/layout.js';
import type { Descriptor } from '../../src/schema/descriptor.js';
import { leaseDigest, newPartPath, releaseLease } from '../../src/store/ingest.js';
import {
  imageBlobs,
  imageIndex,
  makeLayout,
  tagged,
  type MadeLayout,
} from '../helpers/make-layout.js';
import { layoutSnapshot } from '../helpers/snapshot.js';
import { tmpLayout } from '../helpers/tmp.js';
import { deadIngestFile, deadOwnerToken, pushImage } from './helpers.js';

function blobsOf(root: string): string[] {
  const out: string[] = [];
  for (const alg of readdirSync(join(root, 'blobs'))) {
    for (const hex of readdirSync(join(root, 'blobs', alg))) out.push(`${alg}:${hex}`);
  }
  return out.sort();
}

function digests(m: MadeLayout, ...names: string[]): string[] {
  return names.map((n) => m.d[n]!.digest).sort();
}

/** image a behind two nested indexes (tagged outer), image b and a loose blob unreferenced. */
function nestedLayout(): MadeLayout {
  return makeLayout({
    blobs: {
      ...imageBlobs('a'),
      inner: (d) => imageIndex([d['amanifest']!]),
      outer: (d) => imageIndex([d['inner']!]),
      ...imageBlobs('b'),
      junk: 'nobody points here',
    },
    index: (d) => imageIndex([tagged(d['outer']!, 'v1')]),
  });
}

describe('gc', () => {
  it('keeps everything reachable through nested indexes and removes the rest, manifests first', async () => {
    const m = nestedLayout();
    const r = await gc(m.open());
    expect([...r.removedBlobs].sort()).toEqual(
      digests(m, 'bconfig', 'blayer', 'bmanifest', 'junk'),
    );
    const order = r.removedBlobs;
    expect(order.indexOf(m.d['bmanifest']!.digest as Digest)).toBeLessThan(
      order.indexOf(m.d['blayer']!.digest as Digest),
    );
    expect(order.indexOf(m.d['bmanifest']!.digest as Digest)).toBeLessThan(
      order.indexOf(m.d['bconfig']!.digest as Digest),
    );
    expect(blobsOf(m.root)).toEqual(digests(m, 'aconfig', 'alayer', 'amanifest', 'inner', 'outer'));
    const freed = ['bconfig', 'blayer', 'bmanifest', 'junk'].reduce((n, k) => n + m.d[k]!.size, 0);
    expect(r.bytesFreed).toBe(freed);
    expect(r.removedEntries).toEqual([]);
    expect((await fsck(m.root)).findings).toEqual([]);
    // Idempotent: a second run finds nothing.
    expect((await gc(m.open())).removedBlobs).toEqual([]);
  });

  it('deletes a garbage index before the index and manifests it lists', async () => {
    const m = makeLayout({
      blobs: {
        ...imageBlobs('a'),
        inner: (d) => imageIndex([d['amanifest']!]),
        outer: (d) => imageIndex([d['inner']!]),
      },
    });
    const r = await gc(m.open());
    const at = (n: string): number => r.removedBlobs.indexOf(m.d[n]!.digest as Digest);
    expect(at('outer')).toBeLessThan(at('inner'));
    expect(at('inner')).toBeLessThan(at('amanifest'));
    expect(at('amanifest')).toBeLessThan(at('alayer'));
    expect(blobsOf(m.root)).toEqual([]);
  });

  it('collects an image once its tag is gone, shared blobs excepted', async () => {
    const layout = tmpLayout();
    const one = await pushImage(layout, ['shared', 'only in one'], { tag: 'one' });
    const two = await pushImage(layout, ['shared', 'only in two'], { tag: 'two' });
    await layout.untag('two');
    const r = await gc(layout);
    expect([...r.removedBlobs].sort()).toEqual([two.manifest.digest, two.layers[1]!.digest].sort());
    expect(layout.blobs.has(parseDigest(one.layers[0]!.digest))).toBe(true);
    expect((await fsck(layout)).ok).toBe(true);
  });

  it('--dry-run reports the same plan and changes nothing, not even the lock', async () => {
    const m = nestedLayout();
    const part = deadIngestFile(m.root, '.part', 'x'.repeat(10));
    const before = layoutSnapshot(m.root, { ignoreIngest: false });
    const dry = await gc(m.open(), { dryRun: true });
    expect(layoutSnapshot(m.root, { ignoreIngest: false })).toEqual(before);
    expect(dry.dryRun).toBe(true);
    expect(dry.removedIngest).toEqual([part]);
    const real = await gc(m.open());
    expect(real.removedBlobs).toEqual(dry.removedBlobs);
    expect(real.removedIngest).toEqual(dry.removedIngest);
    expect(real.bytesFreed).toBe(dry.bytesFreed);
  });

  it("removes a dead writer's ingest files and old foreign ones, never a live writer's", async () => {
    const m = nestedLayout();
    const layout = m.open();
    const deadPart = deadIngestFile(m.root, '.part');
    const deadLease = deadIngestFile(m.root, '.lease', `${m.d['bmanifest']!.digest}\n`);
    const deadTmp = `.tmp-${deadOwnerToken()}.abcdef012345.index.json`;
    writeFileSync(join(m.root, deadTmp), '{}');
    const foreignOld = 'ingest/sha256-0000_oras123';
    const foreignNew = 'ingest/sha256-1111_oras456';
    writeFileSync(join(m.root, foreignOld), 'old');
    writeFileSync(join(m.root, foreignNew), 'new');
    const twoDaysAgo = new Date(Date.now() - 48 * 3600_000);
    utimesSync(join(m.root, foreignOld), twoDaysAgo, twoDaysAgo);
    mkdirSync(join(m.root, 'ingest', 'containerd-ref'));
    writeFileSync(join(m.root, 'ingest', 'containerd-ref', 'data'), 'fresh data');
    utimesSync(join(m.root, 'ingest', 'containerd-ref'), twoDaysAgo, twoDaysAgo);
    const livePart = newPartPath(m.root);
    writeFileSync(livePart, 'being written');
    const foreignTmp = '.tmp-someone-else';
    writeFileSync(join(m.root, foreignTmp), 'not ours');
    try {
      const r = await gc(layout);
      expect(r.removedIngest).toEqual([deadTmp, deadLease, deadPart, foreignOld].sort());
      for (const p of r.removedIngest) expect(existsSync(join(m.root, p))).toBe(false);
      for (const p of [foreignNew, 'ingest/containerd-ref/data', foreignTmp]) {
        expect(existsSync(join(m.root, p))).toBe(true);
      }
      expect(existsSync(livePart)).toBe(true);
      // The dead writer's lease protected nothing: its digest went.
      expect(r.removedBlobs).toContain(m.d['bmanifest']!.digest);
    } finally {
      unlinkSync(livePart);
    }
  });

  it('keeps what a live writer leased, with the closure of a leased manifest', async () => {
    const m = nestedLayout();
    leaseDigest(m.root, m.d['bmanifest']!.digest);
    leaseDigest(m.root, m.d['junk']!.digest);
    try {
      const r = await gc(m.open());
      expect(r.removedBlobs).toEqual([]);
    } finally {
      releaseLease(m.root);
    }
    expect((await gc(m.open())).removedBlobs).toHaveLength(4);
  });

  it('does not fail when another process deleted a garbage blob between mark and sweep', async () => {
    const m = nestedLayout();
    const r = await gc(m.open(), {
      onPhase: (phase) => {
        if (phase === 'marked')
          unlinkSync(join(m.root, 'blobs', 'sha256', m.d['junk']!.digest.slice(7)));
      },
    });
    expect([...r.removedBlobs].sort()).toEqual(digests(m, 'bconfig', 'blayer', 'bmanifest'));
  });

  it('refuses to delete anything when a reachable manifest cannot be read', async () => {
    const m = nestedLayout();
    writeFileSync(join(m.root, 'blobs', 'sha256', m.d['inner']!.digest.slice(7)), '{"broken"');
    const before = layoutSnapshot(m.root, { ignoreIngest: false });
    await expect(gc(m.open())).rejects.toMatchObject({ code: 'E_FSCK_FINDINGS' });
    await expect(gc(m.open(), { dryRun: true })).rejects.toMatchObject({ code: 'E_FSCK_FINDINGS' });
    expect(layoutSnapshot(m.root, { ignoreIngest: false })).toEqual(before);
  });

  it('tolerates a sparse layout: a missing manifest hides nothing that exists', async () => {
    const m = nestedLayout();
    unlinkSync(join(m.root, 'blobs', 'sha256', m.d['amanifest']!.digest.slice(7)));
    const r = await gc(m.open());
    // a's config and layer were reachable only through the missing manifest.
    expect(r.removedBlobs).toContain(m.d['alayer']!.digest);
  });

  it("never reads through a dead gc's 'parked copy' that is a FIFO (it would block gc forever)", async () => {
    // A hostile layout: a missing manifest, and a FIFO in ingest/ named as a crashed gc's parked
    // copy of it. A helper opens the FIFO for writing after a while, so a gc that opens it for
    // reading fails (empty read) instead of hanging the test run.
    const m = nestedLayout();
    const hex = m.d['amanifest']!.digest.slice(7);
    unlinkSync(join(m.root, 'blobs', 'sha256', hex));
    mkdirSync(join(m.root, 'ingest'), { recursive: true });
    const fifo = `ingest/${deadOwnerToken()}.aaaaaaaaaaaa.sha256-${hex}.trash`;
    expect(spawnSync('mkfifo', [join(m.root, fifo)]).status).toBe(0);
    const writer = spawn('sh', ['-c', 'sleep 3; exec 3>"$0"', join(m.root, fifo)], {
      stdio: 'ignore',
    });
    try {
      const r = await gc(m.open());
      expect(r.restoredBlobs).toEqual([]);
      expect(r.removedIngest).toContain(fifo);
      expect(existsSync(join(m.root, 'blobs', 'sha256', hex))).toBe(false);
    } finally {
      writer.kill();
    }
  });

  it("never links a dead gc's 'parked copy' that is a symlink into blobs/", async () => {
    const m = nestedLayout();
    const hex = m.d['alayer']!.digest.slice(7);
    const outside = join(m.root, '..', `outside-${hex.slice(0, 8)}`);
    writeFileSync(outside, 'layer of a'); // the layer's bytes, somewhere outside the layout
    onTestFinished(() => rmSync(outside, { force: true }));
    unlinkSync(join(m.root, 'blobs', 'sha256', hex));
    mkdirSync(join(m.root, 'ingest'), { recursive: true });
    const link = `ingest/${deadOwnerToken()}.aaaaaaaaaaaa.sha256-${hex}.trash`;
    symlinkSync(outside, join(m.root, link));
    const r = await gc(m.open());
    expect(r.restoredBlobs).toEqual([]);
    expect(r.removedIngest).toContain(link);
    expect(existsSync(join(m.root, 'blobs', 'sha256', hex))).toBe(false);
    expect(readFileSync(outside, 'utf8')).toBe('layer of a');
  });

  it("keeps a dead gc's parked copy of a live blob that it cannot put back", async () => {
    // blobs/ holds something odd where the live layer belongs (a symlink): gc leaves both to fsck
    // and a human, and must not delete the parked copy, the only good one, as an abandoned file.
    const m = nestedLayout();
    const hex = m.d['alayer']!.digest.slice(7);
    mkdirSync(join(m.root, 'ingest'), { recursive: true });
    const trash = `ingest/${deadOwnerToken()}.aaaaaaaaaaaa.sha256-${hex}.trash`;
    renameSync(join(m.root, 'blobs', 'sha256', hex), join(m.root, trash));
    symlinkSync('/dev/null', join(m.root, 'blobs', 'sha256', hex));
    const r = await gc(m.open());
    expect(r.restoredBlobs).toEqual([]);
    expect(r.removedIngest).not.toContain(trash);
    expect(readFileSync(join(m.root, trash), 'utf8')).toBe('layer of a');
  });

  it('refuses a malformed index.json and leaves it alone', async () => {
    const m = makeLayout({ blobs: { junk: 'x' }, index: '{"manifests": ' });
    const before = layoutSnapshot(m.root, { ignoreIngest: false });
    await expect(gc(m.open())).rejects.toMatchObject({ code: 'E_INVALID_JSON' });
    expect(layoutSnapshot(m.root, { ignoreIngest: false })).toEqual(before);
  });
});

/** Entries annotated `test.subject` are referrer bookkeeping kept while that subject lives. */
const bySubjectAnnotation: RootPolicy = {
  classify: (_layout, index) =>
    index.manifests.map((descriptor) => {
      const subject = descriptor.annotations?.['test.subject'];
      return subject === undefined
        ? { descriptor }
        : { descriptor, keepWhileReachable: parseDigest(subject) };
    }),
};

async function attach(layout: Layout, subject: Descriptor, text: string): Promise<Descriptor> {
  const sig = await pushImage(layout, [text], { subject, unlisted: true });
  await layout.updateIndex((index) => {
    index.manifests.push({ ...sig.manifest, annotations: { 'test.subject': subject.digest } });
    return { index, result: undefined };
  });
  return sig.manifest;
}

describe('gc with a RootPolicy', () => {
  it('keeps a referrer entry while its subject is reachable', async () => {
    const layout = tmpLayout();
    const image = await pushImage(layout, ['app'], { tag: 'v1' });
    const sig = await attach(layout, image.manifest, 'signature');
    const r = await gc(layout, { policy: bySubjectAnnotation });
    expect(r).toMatchObject({ removedBlobs: [], removedEntries: [] });
    expect(layout.blobs.has(parseDigest(sig.digest))).toBe(true);
  });

  it("drops an orphan's entry in one commit and collects its content, unless keepOrphans", async () => {
    const layout = tmpLayout();
    const image = await pushImage(layout, ['app'], { tag: 'v1' });
    const sig = await attach(layout, image.manifest, 'signature');
    await layout.untag('v1');
    const kept = await gc(layout, { policy: bySubjectAnnotation, keepOrphans: true });
    expect(kept.removedEntries).toEqual([]);
    expect(kept.removedBlobs).toContain(image.manifest.digest);
    expect(kept.removedBlobs).not.toContain(sig.digest);

    const r = await gc(layout, { policy: bySubjectAnnotation });
    expect(r.removedEntries.map((e) => e.digest)).toEqual([sig.digest]);
    expect(r.removedBlobs).toContain(sig.digest);
    expect(layout.readIndex().manifests).toEqual([]);
    expect((await fsck(layout)).ok).toBe(true);
  });

  it('keeps referrers of referrers through the fixpoint, whatever the entry order', async () => {
    const layout = tmpLayout();
    const image = await pushImage(layout, ['app'], { tag: 'v1' });
    const sig = await attach(layout, image.manifest, 'signature');
    const sigOfSig = await attach(layout, sig, 'countersignature');
    // Put the referrer of the referrer first, so one pass over the entries is not enough.
    await layout.updateIndex((index) => {
      index.manifests.reverse();
      return { index, result: undefined };
    });
    expect((await gc(layout, { policy: bySubjectAnnotation })).removedEntries).toEqual([]);
    await layout.untag('v1');
    const r = await gc(layout, { policy: bySubjectAnnotation });
    expect(r.removedEntries.map((e) => e.digest).sort()).toEqual(
      [sig.digest, sigOfSig.digest].sort(),
    );
    expect(layout.blobs.list().blobs).toEqual([]);
  });

  it('matches entries a policy hands back as copies', async () => {
    const layout = tmpLayout();
    const image = await pushImage(layout, ['app'], { tag: 'v1' });
    await attach(layout, image.manifest, 'signature');
    const copying: RootPolicy = {
      classify: (l, index) =>
        bySubjectAnnotation
          .classify(l, index)
          .map((e) => ({ ...e, descriptor: structuredClone(e.descriptor) })),
    };
    await layout.untag('v1');
    const r = await gc(layout, { policy: copying });
    expect(r.removedEntries).toHaveLength(1);
    expect(layout.readIndex().manifests).toEqual([]);
  });

  it('keeps a referrer whose subject a live writer has leased', async () => {
    const layout = tmpLayout();
    const image = await pushImage(layout, ['app'], { tag: 'v1' });
    await attach(layout, image.manifest, 'signature');
    await layout.untag('v1');
    leaseDigest(layout.root, image.manifest.digest);
    try {
      const r = await gc(layout, { policy: bySubjectAnnotation });
      expect(r).toMatchObject({ removedEntries: [], removedBlobs: [] });
    } finally {
      releaseLease(layout.root);
    }
  });
});
