import { describe, expect, it } from 'vitest';
import { MediaType, digestOf, parseDigest } from '../../src/internal.js';
import { parseDoc } from '../../src/referrers/documents.js';

const doc = (value: unknown, hint?: string) => {
  const bytes = Buffer.from(typeof value === 'string' ? value : JSON.stringify(value));
  return parseDoc(parseDigest(digestOf(bytes)), bytes, hint);
};
const CFG = { mediaType: MediaType.ImageConfig, digest: digestOf('c'), size: 1 };

describe('parseDoc', () => {
  it('reads a umoci manifest without mediaType, taking the pointing descriptor’s type', () => {
    const r = doc({ schemaVersion: 2, config: CFG, layers: [] }, MediaType.ImageManifest);
    expect(r).toMatchObject({
      ok: true,
      doc: { kind: 'manifest', mediaType: MediaType.ImageManifest },
    });
  });

  it('ignores a hint that contradicts the shape', () => {
    const r = doc({ schemaVersion: 2, config: CFG, layers: [] }, MediaType.ImageIndex);
    expect(r).toMatchObject({
      ok: true,
      doc: { kind: 'manifest', mediaType: MediaType.ImageManifest },
    });
  });

  it('keeps only a valid subject digest, and only string annotations', () => {
    const bad = doc({
      schemaVersion: 2,
      config: CFG,
      layers: [],
      subject: { digest: 'nope' },
      annotations: { a: 1 },
    });
    expect(bad).toMatchObject({ ok: true, doc: { subject: undefined, annotations: undefined } });
  });

  it('lists well-formed children of an index only', () => {
    const r = doc({
      schemaVersion: 2,
      mediaType: MediaType.ImageIndex,
      manifests: [CFG, { digest: 'x' }],
    });
    expect(r.ok && r.doc.children).toEqual([CFG]);
  });

  it.each([
    ['not JSON', '{', 'E_INVALID_JSON'],
    ['an array', '[]', 'E_SCHEMA'],
    [
      'a pre-1.1 ORAS artifact manifest',
      { mediaType: 'application/vnd.oci.artifact.manifest.v1+json', blobs: [] },
      'E_SCHEMA',
    ],
  ])('refuses %s', (_what, value, code) => {
    expect(doc(value)).toMatchObject({ ok: false, error: { code } });
  });
});
