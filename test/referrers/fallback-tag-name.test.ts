import { describe, expect, it } from 'vitest';
import { isFallbackTagName } from '../../src/referrers/fallback-tag-name.js';

const hex64 = 'a'.repeat(64);

describe('isFallbackTagName', () => {
  it.each([`sha256-${hex64}`, `sha512-${hex64}`, `sha512-${hex64}${hex64}`])('matches %s', (t) => {
    expect(isFallbackTagName(t)).toBe(true);
  });

  it.each([
    'v1',
    'latest',
    `sha256-${'a'.repeat(63)}`,
    `sha256-${'A'.repeat(64)}`,
    `sha256-${hex64}x`,
    `sha384-${hex64}`,
    `blake3-${hex64}`,
    `sha256:${hex64}`,
    `sha512-${'a'.repeat(100)}`,
  ])('does not match %s', (t) => {
    expect(isFallbackTagName(t)).toBe(false);
  });
});
