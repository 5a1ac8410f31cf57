// policy.ts: the default root policy, under which every index.json entry is a plain root (what
// umoci, regclient and skopeo do); conventions supply their own policies through src/index.ts.
import { describe, expect, it } from 'vitest';
import { ALL_ENTRIES_ARE_ROOTS } from '../../src/maintenance/policy.js';
import { imageBlobs, imageIndex, makeLayout, tagged } from '../helpers/make-layout.js';

describe('ALL_ENTRIES_ARE_ROOTS', () => {
  it('classifies every entry, in order, as an unconditional root', () => {
    const m = makeLayout({
      blobs: { ...imageBlobs('a'), ...imageBlobs('b') },
      index: (d) => imageIndex([tagged(d['amanifest']!, 'v1'), d['bmanifest']!, d['amanifest']!]),
    });
    const index = JSON.parse(m.indexText());
    const entries = ALL_ENTRIES_ARE_ROOTS.classify(m.open(), index);
    expect(entries.map((e) => e.descriptor)).toEqual(index.manifests);
    expect(entries.every((e) => e.keepWhileReachable === undefined)).toBe(true);
    expect(ALL_ENTRIES_ARE_ROOTS.classify(m.open(), { schemaVersion: 2, manifests: [] })).toEqual(
      [],
    );
  });
});
