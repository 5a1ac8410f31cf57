// mark.ts on its own: which digests gc keeps (markLive), which index.json entries are orphans
// (findOrphans), how leased digest strings are sorted (leasedRoots), and reads through a dead gc's
// parked copies. gc.test.ts proves the whole collection; this file proves the mark's decisions.
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { Digest } from '../../src/digest.js';
import { findOrphans, leasedRoots, markLive } from '../../src/maintenance/mark.js';
import type { RootPolicy } from '../../src/maintenance/policy.js';
import { ALL_ENTRIES_ARE_ROOTS } from '../../src/maintenance/policy.js';
import type { Descriptor } from '../../src/schema/descriptor.js';
import { releaseLease } from '../../src/store/ingest.js';
import {
  bytesOf,
  freshDir,
  imageBlobs,
  imageIndex,
  imageManifest,
  makeLayout,
  tagged,
  type MadeLayout,
} from '../helpers/make-layout.js';

const NONE = { manifests: [], leaves: [] };

function digestsOf(m: MadeLayout, ...names: string[]): Digest[] {
  return names.map((n) => m.d[n]!.digest as Digest).sort();
}

const sorted = (s: Iterable<Digest>): Digest[] => [...s].sort();

/** image a tagged, image b unlisted, a referrer of a (sig) and a referrer of sig (sigsig). */
function referrerLayout(): MadeLayout {
  return makeLayout({
    blobs: {
      ...imageBlobs('a'),
      ...imageBlobs('b'),
      sig: (d) =>
        imageManifest(d['aconfig']!, [], { subject: d['amanifest'], annotations: { s: '1' } }),
      sigsig: (d) =>
        imageManifest(d['aconfig']!, [], { subject: d['sig'], annotations: { s: '2' } }),
      bsig: (d) =>
        imageManifest(d['bconfig']!, [], { subject: d['bmanifest'], annotations: { s: '3' } }),
    },
    index: (d) =>
      imageIndex([
        tagged(d['amanifest']!, 'v1'),
        { ...d['sigsig']!, annotations: { 'test.subject': d['sig']!.digest } },
        { ...d['sig']!, annotations: { 'test.subject': d['amanifest']!.digest } },
        { ...d['bsig']!, annotations: { 'test.subject': d['bmanifest']!.digest } },
      ]),
  });
}

/** Entries annotated `test.subject` are kept only while that subject is reached. */
const bySubject: RootPolicy = {
  classify: (_layout, index) =>
    index.manifests.map((descriptor) => {
      const subject = descriptor.annotations?.['test.subject'];
      return subject === undefined
        ? { descriptor }
        : { descriptor, keepWhileReachable: subject as Digest };
    }),
};

describe('markLive', () => {
  it('keeps the closure of every index.json entry through nested indexes, nothing else', () => {
    const m = makeLayout({
      blobs: {
        ...imageBlobs('a'),
        inner: (d) => imageIndex([d['amanifest']!]),
        outer: (d) => imageIndex([d['inner']!]),
        ...imageBlobs('b'),
      },
      index: (d) => imageIndex([tagged(d['outer']!, 'v1')]),
    });
    const r = markLive(m.open(), JSON.parse(m.indexText()), NONE);
    expect(sorted(r.live)).toEqual(
      digestsOf(m, 'aconfig', 'alayer', 'amanifest', 'inner', 'outer'),
    );
    expect(r.problems).toEqual([]);
  });

  it('does not follow subject: a referrer keeps nothing alive by pointing at it', () => {
    const m = referrerLayout();
    const index = { schemaVersion: 2 as const, manifests: [m.d['sig']!] };
    const r = markLive(m.open(), index, NONE);
    expect(r.live.has(m.d['amanifest']!.digest as Digest)).toBe(false);
    expect(r.live.has(m.d['aconfig']!.digest as Digest)).toBe(true); // sig's own config
  });

  it('adds leased leaves as they are and leased manifests with their closure', () => {
    const m = referrerLayout();
    const layout = m.open();
    const leased = leasedRoots(layout, [m.d['bmanifest']!.digest, m.d['alayer']!.digest]);
    const r = markLive(layout, { schemaVersion: 2 as const, manifests: [] }, leased);
    expect(sorted(r.live)).toEqual(digestsOf(m, 'alayer', 'bconfig', 'blayer', 'bmanifest'));
  });

  it('treats a missing document as sparse (no problem) and an unreadable one as a problem', () => {
    const m = makeLayout({
      blobs: { ...imageBlobs('a'), ...imageBlobs('b') },
      index: (d) => imageIndex([tagged(d['amanifest']!, 'a'), tagged(d['bmanifest']!, 'b')]),
    });
    const file = (n: string): string => join(m.root, 'blobs', 'sha256', m.d[n]!.digest.slice(7));
    rmSync(file('amanifest'));
    writeFileSync(file('bmanifest'), '{"not":"b"}');
    const r = markLive(m.open(), JSON.parse(m.indexText()), NONE);
    expect(r.problems.map((p) => [p.descriptor.digest, p.error.code])).toEqual([
      [m.d['bmanifest']!.digest, 'E_SIZE_MISMATCH'],
    ]);
    // Both documents are live themselves; what they reference is unknown.
    expect(sorted(r.live)).toEqual(digestsOf(m, 'amanifest', 'bmanifest'));
  });

  it('reads a document missing from blobs/ through a parked copy, with the same checks', () => {
    const m = makeLayout({
      blobs: { ...imageBlobs('a') },
      index: (d) => imageIndex([tagged(d['amanifest']!, 'v1')]),
    });
    const manifest = m.d['amanifest']!;
    const bytes = bytesOf(
      imageManifest(m.d['aconfig']!, [m.d['alayer']!], { annotations: { seed: 'a' } }),
    );
    expect(bytes.byteLength).toBe(manifest.size); // the copy is the manifest itself
    const parkedPath = join(freshDir(), 'parked');
    writeFileSync(parkedPath, bytes);
    rmSync(join(m.root, 'blobs', 'sha256', manifest.digest.slice(7)));
    const layout = m.open();
    const index = JSON.parse(m.indexText());
    const parked = new Map([[manifest.digest as Digest, parkedPath]]);
    const through = markLive(layout, index, NONE, parked);
    expect(through.problems).toEqual([]);
    expect(sorted(through.live)).toEqual(digestsOf(m, 'aconfig', 'alayer', 'amanifest'));
    // Without the copy the config and layer are unknown (sparse), not an error.
    expect(sorted(markLive(layout, index, NONE).live)).toEqual(digestsOf(m, 'amanifest'));
    // A copy that does not hash to the digest is a problem, never trusted.
    writeFileSync(parkedPath, Buffer.from(bytes.toString('utf8').replace('"a"', '"z"')));
    const bad = markLive(layout, index, NONE, parked);
    expect(bad.problems.map((p) => p.error.code)).toEqual(['E_DIGEST_MISMATCH']);
    expect(bad.live.has(m.d['alayer']!.digest as Digest)).toBe(false);
  });
});

describe('findOrphans', () => {
  it('keeps referrers of reached subjects, referrers of referrers, and drops the rest', () => {
    const m = referrerLayout();
    const index = JSON.parse(m.indexText());
    const r = findOrphans(m.open(), index, bySubject, NONE);
    // bsig's subject (image b) is listed nowhere: bsig is the one orphan, at position 3.
    expect([...r.positions]).toEqual([3]);
    expect(r.problems).toEqual([]);
  });

  it('drops a whole chain once its root subject goes', () => {
    const m = referrerLayout();
    const index = JSON.parse(m.indexText());
    index.manifests = index.manifests.slice(1); // untag image a
    const r = findOrphans(m.open(), index, bySubject, NONE);
    expect([...r.positions].sort()).toEqual([0, 1, 2]);
  });

  it('keeps referrers whose subject a live writer leased, or reaches through a leased index', () => {
    const m = referrerLayout();
    const index = JSON.parse(m.indexText());
    const layout = m.open();
    const direct = leasedRoots(layout, [m.d['bmanifest']!.digest]);
    expect([...findOrphans(layout, index, bySubject, direct).positions]).toEqual([]);
    // An index a writer is pushing (leased, listed nowhere yet) that lists image b.
    const wrapper = layout.blobs.putBytes(bytesOf(imageIndex([m.d['bmanifest']!])));
    releaseLease(layout.root); // our own lease would not matter here: leases are passed in
    const through = leasedRoots(layout, [wrapper.digest]);
    expect([...findOrphans(layout, index, bySubject, through).positions]).toEqual([]);
  });

  it('treats every entry as a root under ALL_ENTRIES_ARE_ROOTS', () => {
    const m = referrerLayout();
    const r = findOrphans(m.open(), JSON.parse(m.indexText()), ALL_ENTRIES_ARE_ROOTS, NONE);
    expect(r.positions.size).toBe(0);
  });

  it('matches entries a policy hands back as copies by value, one position each', () => {
    const m = makeLayout({
      blobs: { ...imageBlobs('a'), ...imageBlobs('b') },
      index: (d) => imageIndex([d['bmanifest']!, d['bmanifest']!, tagged(d['amanifest']!, 'v1')]),
    });
    const subject = m.d['bmanifest']!.digest as Digest; // never reached: both copies are orphans
    const copies: RootPolicy = {
      classify: (_l, index) =>
        index.manifests.map((d) =>
          d.digest === subject
            ? { descriptor: structuredClone(d), keepWhileReachable: subject }
            : { descriptor: structuredClone(d) },
        ),
    };
    const r = findOrphans(m.open(), JSON.parse(m.indexText()), copies, NONE);
    expect([...r.positions].sort()).toEqual([0, 1]);
  });

  it('walks extra roots a policy supplies that index.json does not list', () => {
    const m = referrerLayout();
    const index = JSON.parse(m.indexText());
    const extra: RootPolicy = {
      classify: (layout, idx) => [
        ...bySubject.classify(layout, idx),
        { descriptor: m.d['bmanifest'] as Descriptor },
      ],
    };
    expect([...findOrphans(m.open(), index, extra, NONE).positions]).toEqual([]);
  });

  it('reports an unreadable root as a problem instead of guessing', () => {
    const m = referrerLayout();
    writeFileSync(
      join(m.root, 'blobs', 'sha256', m.d['amanifest']!.digest.slice(7)),
      bytesOf('x'.repeat(m.d['amanifest']!.size)),
    );
    const r = findOrphans(m.open(), JSON.parse(m.indexText()), bySubject, NONE);
    expect(r.problems.map((p) => p.error.code)).toContain('E_DIGEST_MISMATCH');
  });
});

describe('leasedRoots', () => {
  it('skips torn lines, keeps every digest as a leaf, and walks only manifests that exist', () => {
    const m = makeLayout({ blobs: { ...imageBlobs('a') } });
    const absent = `sha256:${'e'.repeat(64)}`;
    const r = leasedRoots(m.open(), [
      'sha256:abc', // a torn line of a lease being appended
      '',
      m.d['amanifest']!.digest,
      m.d['alayer']!.digest,
      m.d['aconfig']!.digest,
      absent,
    ]);
    expect(r.leaves).toEqual([
      m.d['amanifest']!.digest,
      m.d['alayer']!.digest,
      m.d['aconfig']!.digest,
      absent,
    ]);
    expect(r.manifests.map((d) => d.digest)).toEqual([m.d['amanifest']!.digest]);
  });
});
