// Every fixture in testdata/referrers and every peer fixture with referrers: discovery finds exactly
// what its writer recorded, and converting into every convention and back keeps that set.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { CONVENTION_NAMES, convert, fsck, referrerFsckChecks } from '../../src/internal.js';
import { copyFixture, indexText, referrerSets } from './helpers.js';

interface Expected {
  referrers: Record<string, string[]>;
}
const read = (rel: string): Record<string, Expected> =>
  JSON.parse(readFileSync(new URL(`../../testdata/${rel}`, import.meta.url), 'utf8')) as Record<
    string,
    Expected
  >;

const fixtures: [string, Expected][] = [
  ...Object.entries(read('referrers/expected.json')).map(([n, e]): [string, Expected] => [
    `referrers/${n}`,
    e,
  ]),
  ...Object.entries(read('peers/expected.json'))
    .filter(([, e]) => Object.keys(e.referrers).length > 0)
    .map(([n, e]): [string, Expected] => [`peers/${n}`, e]),
];

const sorted = (r: Record<string, string[]>): Record<string, string[]> =>
  Object.fromEntries(Object.entries(r).map(([k, v]) => [k, [...v].sort()]));

describe.each(fixtures)('%s', (fixture, expected) => {
  const scanBlobs = fixture.endsWith('crafted-none');

  it('discovers exactly the referrers its writer recorded', () => {
    const layout = copyFixture(fixture);
    expect(referrerSets(layout, { scanBlobs })).toEqual(sorted(expected.referrers));
  });

  it.each(CONVENTION_NAMES)(
    'converts to %s and back to the others without losing a referrer',
    async (to) => {
      const layout = copyFixture(fixture);
      await convert(layout, to, { adoptUnlisted: scanBlobs });
      expect(referrerSets(layout)).toEqual(sorted(expected.referrers));
      const report = await fsck(layout, { checks: referrerFsckChecks });
      expect(report.findings.filter((f) => f.severity === 'error')).toEqual([]);
      const canonical = indexText(layout);
      for (const other of CONVENTION_NAMES.filter((c) => c !== to)) {
        await convert(layout, other);
        expect(referrerSets(layout)).toEqual(sorted(expected.referrers));
      }
      await convert(layout, to);
      expect(indexText(layout)).toBe(canonical);
    },
  );
});
