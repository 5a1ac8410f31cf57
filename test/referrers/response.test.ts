// response.ts: the referrers-response descriptors and index (distribution-spec "Listing
// Referrers"), in the one order and byte form we write, so equal sets give equal bytes.
import { describe, expect, it } from 'vitest';
import { digestOf } from '../../src/digest.js';
import { MediaType } from '../../src/media-types.js';
import type { DocInfo } from '../../src/referrers/documents.js';
import {
  byDigest,
  FILTERS_APPLIED_ANNOTATION,
  mergeByDigest,
  referrerDescriptor,
  referrersResponse,
  responseBytes,
} from '../../src/referrers/response.js';

const doc = (over: Partial<DocInfo>): DocInfo => ({
  digest: digestOf('doc'),
  size: 10,
  mediaType: MediaType.ImageManifest,
  kind: 'manifest',
  artifactType: undefined,
  configMediaType: 'application/x.config',
  annotations: undefined,
  subject: digestOf('subject'),
  children: [],
  blobs: [],
  ...over,
});

const d = (n: string, artifactType?: string) => ({
  mediaType: MediaType.ImageManifest,
  digest: digestOf(n),
  size: n.length,
  ...(artifactType === undefined ? {} : { artifactType }),
});

describe('referrerDescriptor', () => {
  it('uses artifactType, else a manifest’s config media type, else none for an index', () => {
    expect(referrerDescriptor(doc({ artifactType: 'x/sig' })).artifactType).toBe('x/sig');
    expect(referrerDescriptor(doc({})).artifactType).toBe('application/x.config');
    expect(
      referrerDescriptor(doc({ kind: 'index', mediaType: MediaType.ImageIndex })).artifactType,
    ).toBeUndefined();
  });

  it('carries all annotations, sorted, and none when empty', () => {
    const r = referrerDescriptor(doc({ annotations: { z: '1', a: '2' } }));
    expect(Object.keys(r.annotations!)).toEqual(['a', 'z']);
    expect(referrerDescriptor(doc({ annotations: {} })).annotations).toBeUndefined();
    expect(Object.keys(referrerDescriptor(doc({ annotations: { a: '1' } })))).toEqual([
      'mediaType',
      'digest',
      'size',
      'annotations',
      'artifactType',
    ]);
  });
});

describe('ordering and merging', () => {
  it('sorts by digest and lets a later descriptor of a digest replace an earlier one', () => {
    const [a, b, c] = [d('a'), d('b'), d('c')].sort(byDigest);
    expect([c!, a!, b!].sort(byDigest)).toEqual([a, b, c]);
    const newer = { ...b!, annotations: { v: '2' } };
    expect(mergeByDigest([c!, b!], [newer, a!])).toEqual([a, newer, c]);
    expect(byDigest(a!, a!)).toBe(0);
  });
});

describe('referrersResponse', () => {
  it('lists every referrer sorted, as an OCI image index', () => {
    const refs = [d('x', 'sig'), d('y', 'sbom'), d('z')];
    const r = referrersResponse(refs);
    expect(r).toEqual({
      schemaVersion: 2,
      mediaType: MediaType.ImageIndex,
      manifests: [...refs].sort(byDigest),
    });
  });

  it('filters by artifactType and records that it did', () => {
    const refs = [d('x', 'sig'), d('y', 'sbom'), d('w', 'sig')];
    const r = referrersResponse(refs, { artifactType: 'sig' });
    expect(r.manifests.map((m) => m.artifactType)).toEqual(['sig', 'sig']);
    expect(r.annotations).toEqual({ [FILTERS_APPLIED_ANNOTATION]: 'artifactType' });
    expect(referrersResponse(refs).annotations).toBeUndefined();
  });

  it('writes compact JSON with no trailing newline; equal sets give equal bytes', () => {
    const a = responseBytes([d('x'), d('y')]);
    expect(a.equals(responseBytes([d('y'), d('x')]))).toBe(true);
    expect(a.toString()).toBe(JSON.stringify(JSON.parse(a.toString())));
    expect(a.toString().endsWith('}')).toBe(true);
  });
});
