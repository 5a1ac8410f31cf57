import { describe, expect, it } from 'vitest';
import {
  DescriptorSchema,
  canonicalDescriptor,
  sameContent,
  sortedRecord,
  type Descriptor,
} from '../../src/schema/descriptor.js';

const D = `sha256:${'a'.repeat(64)}`;

describe('DescriptorSchema', () => {
  it('accepts a full descriptor and keeps unknown fields (loose)', () => {
    const d = {
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: D,
      size: 12,
      urls: ['https://example.com/blob'],
      annotations: { a: '' },
      data: 'e30=',
      platform: { architecture: 'arm64', os: 'linux', variant: 'v8', 'os.features': ['x'] },
      artifactType: 'application/vnd.example',
      'vnd.example.extra': { kept: true },
    };
    expect(DescriptorSchema.parse(d)).toEqual(d);
  });

  it.each([
    ['no mediaType', { digest: D, size: 1 }],
    ['empty mediaType', { mediaType: '', digest: D, size: 1 }],
    ['no digest', { mediaType: 'a/b', size: 1 }],
    ['digest outside the grammar', { mediaType: 'a/b', digest: 'sha256/../x', size: 1 }],
    ['fractional size', { mediaType: 'a/b', digest: D, size: 1.5 }],
    ['negative size', { mediaType: 'a/b', digest: D, size: -1 }],
    ['size as a string', { mediaType: 'a/b', digest: D, size: '1' }],
    [
      'platform without os',
      { mediaType: 'a/b', digest: D, size: 1, platform: { architecture: 'amd64' } },
    ],
    ['non-string annotation', { mediaType: 'a/b', digest: D, size: 1, annotations: { a: true } }],
  ])('rejects %s', (_name, d) => {
    expect(DescriptorSchema.safeParse(d).success).toBe(false);
  });

  it('accepts digests of algorithms we cannot verify (checked later by parseDigest)', () => {
    expect(
      DescriptorSchema.safeParse({ mediaType: 'a/b', digest: `blake3:${'b'.repeat(64)}`, size: 1 })
        .success,
    ).toBe(true);
  });
});

describe('canonicalDescriptor', () => {
  it('orders keys like Go’s image-spec Descriptor, sorts annotations, keeps unknowns after', () => {
    const messy = {
      'vnd.extra': 1,
      artifactType: 'application/vnd.example',
      platform: { os: 'linux', architecture: 'amd64' },
      annotations: { z: '1', a: '2', 'org.m': '3' },
      size: 3,
      data: 'YWJj',
      digest: D,
      urls: ['u'],
      mediaType: 'a/b',
    } as Descriptor;
    const c = canonicalDescriptor(messy);
    expect(Object.keys(c)).toEqual([
      'mediaType',
      'digest',
      'size',
      'urls',
      'annotations',
      'data',
      'platform',
      'artifactType',
      'vnd.extra',
    ]);
    expect(Object.keys(c.annotations!)).toEqual(['a', 'org.m', 'z']);
    expect(c).toEqual(messy);
  });

  it('omits absent optional fields', () => {
    expect(JSON.stringify(canonicalDescriptor({ size: 1, digest: D, mediaType: 'a/b' }))).toBe(
      `{"mediaType":"a/b","digest":"${D}","size":1}`,
    );
  });
});

describe('sortedRecord / sameContent', () => {
  it('sorts keys by code unit, like Go sorts map keys for ASCII', () => {
    expect(Object.keys(sortedRecord({ b: 1, B: 2, a: 3, _: 4 }))).toEqual(['B', '_', 'a', 'b']);
  });

  it('compares identity only (digest, size, media type)', () => {
    const a = { mediaType: 'a/b', digest: D, size: 1 };
    expect(sameContent(a, { ...a, annotations: { x: 'y' } } as Descriptor)).toBe(true);
    expect(sameContent(a, { ...a, size: 2 })).toBe(false);
    expect(sameContent(a, { ...a, mediaType: 'a/c' })).toBe(false);
  });
});
