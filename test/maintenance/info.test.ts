import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { layoutInfo } from '../../src/internal.js';
import { tmpLayout } from '../helpers/tmp.js';

describe('layoutInfo', () => {
  it('counts entries, tags (fallback tags apart), blobs and bytes', async () => {
    const layout = tmpLayout();
    const blob = layout.blobs.putBytes(Buffer.from('{}'));
    const manifest = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        config: { mediaType: 'application/vnd.oci.empty.v1+json', digest: blob.digest, size: 2 },
        layers: [],
      }),
    );
    await layout.putManifest(manifest, { tag: 'v1' });
    await layout.tag({ tag: 'v1' }, ['v2', `sha256-${'a'.repeat(64)}`]);
    writeFileSync(join(layout.root, 'blobs', 'sha256', 'junk.tmp'), 'x');
    const info = layoutInfo(layout);
    expect(info).toMatchObject({
      layout: layout.root,
      imageLayoutVersion: '1.0.0',
      indexEntries: 3,
      tags: ['v1', 'v2'],
      fallbackTags: 1,
      blobs: { count: 2, totalBytes: 2 + manifest.byteLength },
      strays: [join('blobs', 'sha256', 'junk.tmp')],
    });
    expect(info.ingest.files).toBe(info.ingest.live + info.ingest.abandoned);
  });

  it('fails on a malformed index.json, naming the file', () => {
    const layout = tmpLayout();
    writeFileSync(join(layout.root, 'index.json'), 'not json');
    expect(() => layoutInfo(layout)).toThrow(
      expect.objectContaining({
        code: 'E_INVALID_JSON',
        message: expect.stringContaining('index.json'),
      }),
    );
  });
});
