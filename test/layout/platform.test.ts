// platform.ts: the one --platform parser/matcher of src/, and resolveImageManifest, which picks one image manifest from a reference: the manifest
// itself, or the one index child whose platform matches (os/arch matches any variant).
import { describe, expect, it } from 'vitest';
import {
  formatPlatform,
  parsePlatform,
  platformMatches,
  resolveImageManifest,
} from '../../src/layout/platform.js';
import {
  imageBlobs,
  imageIndex,
  makeLayout,
  tagged,
  type MadeLayout,
} from '../helpers/make-layout.js';

const plat = (os: string, architecture: string, variant?: string) => ({
  os,
  architecture,
  ...(variant === undefined ? {} : { variant }),
});

/** multi: amd64, arm/v6, arm/v7, and a nested index for s390x; dup: two amd64 entries. */
function layout(): MadeLayout {
  return makeLayout({
    blobs: {
      ...imageBlobs('a'),
      ...imageBlobs('b'),
      ...imageBlobs('c'),
      inner: (d) => imageIndex([d['amanifest']!]),
      multi: (d) =>
        imageIndex([
          { ...d['amanifest']!, platform: plat('linux', 'amd64') },
          { ...d['bmanifest']!, platform: plat('linux', 'arm', 'v6') },
          { ...d['cmanifest']!, platform: plat('linux', 'arm', 'v7') },
          { ...d['inner']!, platform: plat('linux', 's390x') },
          d['amanifest']!, // no platform: never matches
        ]),
      dup: (d) =>
        imageIndex([
          { ...d['amanifest']!, platform: plat('linux', 'amd64') },
          { ...d['bmanifest']!, platform: plat('linux', 'amd64') },
        ]),
    },
    index: (d) =>
      imageIndex([
        tagged(d['amanifest']!, 'one'),
        tagged(d['multi']!, 'multi'),
        tagged(d['dup']!, 'dup'),
      ]),
  });
}

describe('resolveImageManifest', () => {
  it('returns a manifest as it is, whatever the platform', () => {
    const m = layout();
    for (const p of [undefined, 'linux/arm64']) {
      const r = resolveImageManifest(m.open(), { tag: 'one' }, p);
      expect(r.descriptor.digest).toBe(m.d['amanifest']!.digest);
      expect(r.manifest.config.digest).toBe(m.d['aconfig']!.digest);
    }
  });

  it.each([
    ['linux/amd64', 'amanifest'],
    ['linux/arm/v6', 'bmanifest'],
    ['linux/arm/v7', 'cmanifest'],
  ])('picks the child for %s', (platform, name) => {
    const m = layout();
    const r = resolveImageManifest(m.open(), { tag: 'multi' }, platform);
    expect(r.descriptor.digest).toBe(m.d[name]!.digest);
    expect(r.descriptor.platform).toBeDefined();
  });

  it.each([
    ['no platform', undefined],
    ['an unmatched platform', 'linux/ppc64le'],
    ['os/arch matching two variants', 'linux/arm'],
    ['a variant prefix', 'linux/arm/v'],
    ['an architecture prefix', 'linux/amd'],
    ['a nested index', 'linux/s390x'],
  ])('refuses %s (E_INVALID_REFERENCE)', (_name, platform) => {
    const m = layout();
    expect(() => resolveImageManifest(m.open(), { tag: 'multi' }, platform)).toThrow(
      expect.objectContaining({ code: 'E_INVALID_REFERENCE' }),
    );
  });

  it.each(['linux', 'linux/arm/v7/x', 'linux//arm'])(
    'refuses a malformed platform %j (E_USAGE), even for a single manifest',
    (platform) => {
      const m = layout();
      for (const tag of ['multi', 'one']) {
        expect(() => resolveImageManifest(m.open(), { tag }, platform)).toThrow(
          expect.objectContaining({ code: 'E_USAGE' }),
        );
      }
    },
  );

  it('refuses two children of the same platform', () => {
    const m = layout();
    expect(() => resolveImageManifest(m.open(), { tag: 'dup' }, 'linux/amd64')).toThrow(
      expect.objectContaining({
        code: 'E_INVALID_REFERENCE',
        details: expect.objectContaining({ platform: 'linux/amd64' }),
      }),
    );
  });
});

describe('parsePlatform / formatPlatform', () => {
  it.each([
    ['linux/amd64', { os: 'linux', architecture: 'amd64' }],
    ['linux/arm/v7', { os: 'linux', architecture: 'arm', variant: 'v7' }],
    ['windows/amd64/10.0.17763', { os: 'windows', architecture: 'amd64', variant: '10.0.17763' }],
  ])('reads %s and writes it back', (text, spec) => {
    expect(parsePlatform(text)).toEqual(spec);
    expect(formatPlatform(spec)).toBe(text);
  });

  it.each(['linux', 'linux/', '/amd64', 'a/b/c/d', 'linux/amd 64', 'linux/amd64/', ''])(
    'refuses %j (E_USAGE)',
    (text) => {
      expect(() => parsePlatform(text)).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
    },
  );

  it('leaves out an empty variant', () => {
    expect(formatPlatform({ os: 'linux', architecture: 'arm', variant: '' })).toBe('linux/arm');
  });
});

describe('platformMatches', () => {
  const arm7 = { os: 'linux', architecture: 'arm', variant: 'v7' };
  it('matches any variant when none is wanted, else exactly', () => {
    expect(platformMatches(arm7, { os: 'linux', architecture: 'arm' })).toBe(true);
    expect(platformMatches(arm7, arm7)).toBe(true);
    expect(platformMatches(arm7, { ...arm7, variant: 'v6' })).toBe(false);
    expect(platformMatches(arm7, { os: 'linux', architecture: 'arm64' })).toBe(false);
    expect(platformMatches(arm7, { os: 'windows', architecture: 'arm' })).toBe(false);
    expect(platformMatches(undefined, { os: 'linux', architecture: 'arm' })).toBe(false);
  });
});
