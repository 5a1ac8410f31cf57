// convention.ts: the registry of conventions, and classification of index.json entries into each
// convention's bookkeeping (claims never overlap; plain entries are nobody's).
import { describe, expect, it } from 'vitest';
import { Annotation } from '../../src/media-types.js';
import { ConventionContext } from '../../src/referrers/context.js';
import {
  CONVENTION_NAMES,
  CONVENTIONS,
  classifyIndex,
  detectConventions,
  isConventionName,
} from '../../src/referrers/convention.js';
import { recordReferrers } from '../../src/referrers/record.js';
import { putArtifact, putImage, setEntries, signedImage, SIG, SBOM, tagEntry } from './helpers.js';
import { tmpLayout } from '../helpers/tmp.js';

describe('the registry', () => {
  it('holds each named convention under its own name', () => {
    expect(Object.keys(CONVENTIONS).sort()).toEqual([...CONVENTION_NAMES].sort());
    for (const name of CONVENTION_NAMES) expect(CONVENTIONS[name].name).toBe(name);
  });

  it.each([
    ['fallback-tag', true],
    ['per-manifest', true],
    ['subject-annotation', true],
    ['auto', false],
    ['', false],
    ['Fallback-Tag', false],
  ])('isConventionName(%j) is %s', (s, want) => {
    expect(isConventionName(s)).toBe(want);
  });
});

describe('classifyIndex', () => {
  it.each(CONVENTION_NAMES)('claims %s bookkeeping for its subject and nothing else', async (c) => {
    const { layout, img, sig } = await signedImage(c);
    const index = layout.readIndex();
    const found = classifyIndex(index, new ConventionContext(layout));
    expect(found).toHaveLength(1);
    expect(found[0]).toMatchObject({ convention: c, subject: img.digest });
    expect(found[0]!.listed.map((d) => d.digest)).toEqual([sig.digest]);
    expect(index.manifests).toContain(found[0]!.entry); // the entry object itself
    expect(found[0]!.entry.annotations?.[Annotation.RefName]).not.toBe('v1');
  });

  it('finds every convention in a mixed layout, in index.json order', async () => {
    const layout = tmpLayout();
    const [a, b, c] = ['a', 'b', 'c'].map((n) => putImage(layout, n)) as [never, never, never];
    await setEntries(layout, [tagEntry(a, 'a'), tagEntry(b, 'b'), tagEntry(c, 'c')]);
    await recordReferrers(layout, [{ subject: c, referrer: putArtifact(layout, c, SBOM) }], {
      convention: 'per-manifest',
    });
    await recordReferrers(layout, [{ subject: a, referrer: putArtifact(layout, a, SIG) }], {
      convention: 'subject-annotation',
    });
    await recordReferrers(layout, [{ subject: b, referrer: putArtifact(layout, b, SIG) }], {
      convention: 'fallback-tag',
    });
    const found = classifyIndex(layout.readIndex(), new ConventionContext(layout));
    expect(found.map((f) => f.convention)).toEqual([
      'per-manifest',
      'subject-annotation',
      'fallback-tag',
    ]);
    expect(detectConventions(layout)).toEqual([
      'fallback-tag',
      'subject-annotation',
      'per-manifest',
    ]);
  });

  it('finds nothing in a layout without referrers, and reads a given index over the file', async () => {
    const { layout } = await signedImage('fallback-tag');
    expect(detectConventions(layout)).toEqual(['fallback-tag']);
    const plain = { schemaVersion: 2 as const, manifests: [layout.readIndex().manifests[0]!] };
    expect(detectConventions(layout, plain)).toEqual([]);
    expect(classifyIndex(plain, new ConventionContext(layout))).toEqual([]);
  });
});
