// Property: for random layouts with random referrer graphs (referrers of images, of an index, of a
// sha512 manifest, of other referrers; each recorded in one or more conventions or tagged), converting
// through any sequence of conventions never changes the referrer set of any subject, fsck finds no
// error after any step, and returning to a convention gives back byte-identical index.json.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  CONVENTION_NAMES,
  convert,
  fsck,
  recordReferrers,
  referrerFsckChecks,
  type ConventionName,
  type Descriptor,
} from '../../src/internal.js';
import { tmpLayout } from '../helpers/tmp.js';
import {
  SBOM,
  SIG,
  indexText,
  putArtifact,
  putImage,
  putIndex,
  referrerSets,
  setEntries,
  tagEntry,
} from '../referrers/helpers.js';

type Where = ConventionName | 'tagged';

const scenario = fc.record({
  images: fc.integer({ min: 1, max: 3 }),
  indexSubject: fc.boolean(),
  sha512: fc.boolean(),
  referrers: fc.array(
    fc.record({
      parent: fc.nat(),
      type: fc.constantFrom(SIG, SBOM),
      where: fc.subarray<Where>(['fallback-tag', 'subject-annotation', 'per-manifest', 'tagged'], {
        minLength: 1,
      }),
    }),
    { maxLength: 6 },
  ),
  steps: fc.array(fc.constantFrom(...CONVENTION_NAMES), { minLength: 1, maxLength: 4 }),
});

describe('convert (property)', () => {
  it('keeps every subject’s referrer set through any sequence of conversions', async () => {
    await fc.assert(
      fc.asyncProperty(scenario, async (s) => {
        const layout = tmpLayout();
        const nodes: Descriptor[] = [];
        const entries: Descriptor[] = [];
        for (let i = 0; i < s.images; i++) {
          const img = putImage(layout, `img${i}`);
          nodes.push(img);
          entries.push(tagEntry(img, `img${i}`));
        }
        if (s.indexSubject) {
          const idx = putIndex(layout, [nodes[0]!]);
          nodes.push(idx);
          entries.push(tagEntry(idx, 'multi'));
        }
        if (s.sha512) {
          const big = putImage(layout, 'sha512', { algorithm: 'sha512' });
          nodes.push(big);
          entries.push(tagEntry(big, 's512'));
        }
        await setEntries(layout, entries);
        const model: Record<string, string[]> = {};
        for (const [i, r] of s.referrers.entries()) {
          const subject = nodes[r.parent % nodes.length]!;
          const referrer = putArtifact(layout, subject, r.type, { i: String(i) });
          nodes.push(referrer);
          (model[subject.digest] ??= []).push(referrer.digest);
          for (const w of r.where) {
            if (w === 'tagged') {
              await layout.tag({ digest: referrer.digest }, [`ref${i}`]);
            } else {
              await recordReferrers(layout, [{ subject, referrer }], { convention: w });
            }
          }
        }
        for (const k of Object.keys(model)) model[k]!.sort();
        expect(referrerSets(layout)).toEqual(model);

        await convert(layout, s.steps[0]!);
        const canonical = indexText(layout);
        for (const step of s.steps) {
          await convert(layout, step);
          expect(referrerSets(layout)).toEqual(model);
          const report = await fsck(layout, { checks: referrerFsckChecks });
          expect(report.findings.filter((f) => f.severity === 'error')).toEqual([]);
        }
        await convert(layout, s.steps[0]!);
        expect(indexText(layout)).toBe(canonical);
      }),
      { numRuns: 30 },
    );
  }, 120_000);
});
