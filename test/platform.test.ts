// platform.ts: resolveImageManifest picks one image manifest from a reference: the manifest
// itself, or the one index child whose platform matches (os/arch matches any variant).
import { describe, expect, it } from 'vitest';
import { resolveImageManifest } from '../src/platform.js';
import {
  imageBlobs,
  imageIndex,
  makeLayout,
  tagged,
  type MadeLayout,
} from './helpers/make-layout.js';

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
