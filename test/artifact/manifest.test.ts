import { describe, expect, it } from 'vitest';
import {
  DEFAULT_ARTIFACT_TYPE,
  buildArtifactManifest,
  emptyDescriptor,
  fileLayer,
} from '../../src/artifact/manifest.js';
import { digestOf } from '../../src/digest.js';
import { Annotation, EMPTY_DIGEST, EMPTY_JSON, MediaType } from '../../src/media-types.js';
import { parseManifest } from '../../src/schema/manifest.js';

const layer = fileLayer({ digest: digestOf('hello'), size: 5 }, 'text/plain', 'hello.txt');

describe('emptyDescriptor', () => {
  it('is the image-spec empty descriptor: {} with its digest, size 2 and data e30=', () => {
    expect(digestOf(EMPTY_JSON)).toBe(EMPTY_DIGEST);
    expect(emptyDescriptor()).toEqual({
      mediaType: MediaType.Empty,
      digest: EMPTY_DIGEST,
      size: 2,
      data: 'e30=',
    });
  });
});

describe('fileLayer', () => {
  it('titles the layer with the file name', () => {
    expect(layer).toEqual({
      mediaType: 'text/plain',
      digest: digestOf('hello'),
      size: 5,
      annotations: { [Annotation.Title]: 'hello.txt' },
    });
  });
});

describe('buildArtifactManifest', () => {
  it('uses the empty config and a default artifactType when given neither (image-spec MUST)', () => {
    const { manifest, bytes } = buildArtifactManifest({ layers: [layer] });
    expect(manifest.config).toEqual(emptyDescriptor());
    expect(manifest.artifactType).toBe(DEFAULT_ARTIFACT_TYPE);
    const parsed = parseManifest(bytes, 'artifact');
    expect(parsed).toMatchObject({ kind: 'manifest', mediaType: MediaType.ImageManifest });
  });

  it('adds one empty layer when there are no files (image-spec SHOULD)', () => {
    const { manifest } = buildArtifactManifest({ layers: [], artifactType: 'application/vnd.x' });
    expect(manifest.layers).toEqual([emptyDescriptor()]);
  });

  it('keeps a given config and adds no artifactType for a non-empty config', () => {
    const config = {
      mediaType: 'application/vnd.example.config+json',
      digest: digestOf('c'),
      size: 1,
    };
    const { manifest } = buildArtifactManifest({ layers: [layer], config });
    expect(manifest.config).toEqual(config);
    expect('artifactType' in manifest).toBe(false);
  });

  it('writes keys in Go struct order and annotation keys sorted, like oras', () => {
    const { bytes } = buildArtifactManifest({
      artifactType: 'application/vnd.example.sig',
      layers: [{ ...layer, annotations: { z: '1', a: '2' } }],
      subject: {
        mediaType: MediaType.ImageManifest,
        digest: digestOf('subject'),
        size: 9,
        annotations: { dropped: 'yes' },
        artifactType: 'dropped/too',
      },
      annotations: { 'org.z': '1', 'org.a': '2' },
    });
    const doc = JSON.parse(bytes.toString('utf8'));
    expect(Object.keys(doc)).toEqual([
      'schemaVersion',
      'mediaType',
      'artifactType',
      'config',
      'layers',
      'subject',
      'annotations',
    ]);
    expect(Object.keys(doc.config)).toEqual(['mediaType', 'digest', 'size', 'data']);
    expect(Object.keys(doc.layers[0].annotations)).toEqual(['a', 'z']);
    expect(Object.keys(doc.annotations)).toEqual(['org.a', 'org.z']);
    // The subject is identity only.
    expect(doc.subject).toEqual({
      mediaType: MediaType.ImageManifest,
      digest: digestOf('subject'),
      size: 9,
    });
    expect(bytes.toString('utf8')).not.toContain('\n');
  });

  it('escapes <, > and & in strings as Go does, so the digest matches an oras push', () => {
    const { bytes, manifest } = buildArtifactManifest({
      layers: [layer],
      annotations: { 'org.example.note': 'a <b> & c' },
    });
    const text = bytes.toString('utf8');
    expect(text).toContain('"org.example.note":"a \\u003cb\\u003e \\u0026 c"');
    expect(JSON.parse(text)).toEqual(manifest);
  });

  it('is deterministic: same inputs, same bytes, whatever the input key order', () => {
    const a = buildArtifactManifest({ layers: [layer], annotations: { b: '2', a: '1' } });
    const b = buildArtifactManifest({
      annotations: { a: '1', b: '2' },
      layers: [
        {
          annotations: layer.annotations,
          size: layer.size,
          digest: layer.digest,
          mediaType: layer.mediaType,
        },
      ],
    });
    expect(b.bytes.equals(a.bytes)).toBe(true);
  });

  it('omits empty annotations', () => {
    expect(
      'annotations' in buildArtifactManifest({ layers: [layer], annotations: {} }).manifest,
    ).toBe(false);
  });
});
