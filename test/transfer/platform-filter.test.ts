// platform-filter.ts: filterIndex, which keeps the matching entries (with the BuildKit
// attestations that describe them) and rewrites nothing else.
import { describe, expect, it } from 'vitest';
import { digestOf } from '../../src/digest.js';
import { Annotation, MediaType } from '../../src/media-types.js';
import { filterIndex } from '../../src/transfer/platform-filter.js';
import type { Descriptor } from '../../src/schema/descriptor.js';
import { parseManifest, type ImageIndex } from '../../src/schema/manifest.js';

describe('filterIndex', () => {
  const m = (
    n: string,
    platform?: Descriptor['platform'],
    annotations?: Record<string, string>,
  ) => ({
    mediaType: MediaType.ImageManifest,
    digest: digestOf(n),
    size: n.length,
    ...(platform === undefined ? {} : { platform }),
    ...(annotations === undefined ? {} : { annotations }),
  });
  const amd = m('amd', { os: 'linux', architecture: 'amd64' });
  const arm = m('arm', { os: 'linux', architecture: 'arm64' });
  const att = m(
    'att',
    { os: 'unknown', architecture: 'unknown' },
    {
      [Annotation.DockerReferenceDigest]: arm.digest,
      [Annotation.DockerReferenceType]: 'attestation-manifest',
    },
  );
  const doc = {
    schemaVersion: 2,
    mediaType: MediaType.ImageIndex,
    manifests: [amd, arm, att],
    annotations: { 'org.example': 'kept' },
    'x-extension': [1, 2],
  };
  const bytes = Buffer.from(JSON.stringify(doc, null, 2));
  const source: Descriptor = {
    mediaType: MediaType.ImageIndex,
    digest: digestOf(bytes),
    size: bytes.length,
  };
  const index = parseManifest(bytes, 'index').doc as ImageIndex;

  it('keeps matching entries and their attestations, and every other field', () => {
    const f = filterIndex(bytes, index, source, [{ os: 'linux', architecture: 'arm64' }]);
    expect(f.kept).toEqual([arm, att]);
    expect(JSON.parse(f.bytes.toString())).toEqual({ ...doc, manifests: [arm, att] });
    expect(f.descriptor).toEqual({
      mediaType: MediaType.ImageIndex,
      digest: digestOf(f.bytes),
      size: f.bytes.length,
    });
    expect(f.descriptor.digest).not.toBe(source.digest);
  });

  it('keeps the union of several platforms, in index order', () => {
    const f = filterIndex(bytes, index, source, [
      { os: 'linux', architecture: 'arm64' },
      { os: 'linux', architecture: 'amd64' },
    ]);
    expect(f.kept).toEqual([amd, arm, att]);
  });

  it("carries the index's artifactType to the new descriptor", () => {
    const withType = { ...doc, artifactType: 'application/x.bundle' };
    const b = Buffer.from(JSON.stringify(withType));
    const parsed = parseManifest(b, 'index').doc as ImageIndex;
    const f = filterIndex(b, parsed, { ...source, digest: digestOf(b) }, [
      { os: 'linux', architecture: 'amd64' },
    ]);
    expect(f.descriptor.artifactType).toBe('application/x.bundle');
  });

  it('refuses a platform the index lacks (E_NOT_FOUND), naming those it has', () => {
    expect(() =>
      filterIndex(bytes, index, source, [{ os: 'linux', architecture: 's390x' }]),
    ).toThrow(
      expect.objectContaining({
        code: 'E_NOT_FOUND',
        details: { digest: source.digest, available: ['linux/amd64', 'linux/arm64'] },
      }),
    );
  });
});
