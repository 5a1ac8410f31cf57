import { describe, expect, it } from 'vitest';
import { referrerSummary } from '../../src/internal.js';
import { copyFixture } from './helpers.js';

describe('referrerSummary', () => {
  it('counts each convention of the mixed fixture and the referrers discovery finds', () => {
    const s = referrerSummary(copyFixture('referrers/mixed'));
    expect(s.inUse).toEqual(['fallback-tag', 'subject-annotation', 'per-manifest']);
    expect(s.conventions).toEqual({
      'fallback-tag': { entries: 1, subjects: 1, referrers: 1 },
      'subject-annotation': { entries: 1, subjects: 1, referrers: 1 },
      'per-manifest': { entries: 3, subjects: 2, referrers: 3 },
    });
    expect(s).toMatchObject({ subjects: 2, referrers: 4, problems: 0, convertFlags: [] });
  });

  it('reports olareg convert flags, BuildKit attestations and unlisted referrers', () => {
    expect(referrerSummary(copyFixture('peers/olareg-style')).convertFlags).toEqual([
      'org.opencontainers.image.referrer.convert',
      'org.olareg.referrer.convert',
    ]);
    expect(referrerSummary(copyFixture('peers/buildkit-style')).legacyAttestations).toBe(1);
    expect(
      referrerSummary(copyFixture('referrers/crafted-none'), { scanBlobs: true }).unlisted,
    ).toBe(1);
  });
});
