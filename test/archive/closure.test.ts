import { describe, expect, it } from 'vitest';
import { contentClosure } from '../../src/archive/closure.js';
import { IntegrityError, Layout, MediaType, digestOf } from '../../src/index.js';
import { tmpLayout } from '../helpers/tmp.js';

function imageWith(layout: Layout, layers: object[]) {
  const config = layout.blobs.putBytes(Buffer.from('{}'));
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ImageManifest,
      config: { mediaType: MediaType.ImageConfig, digest: config.digest, size: config.size },
      layers,
    }),
  );
  const m = layout.blobs.putBytes(manifest);
  return { mediaType: MediaType.ImageManifest, digest: m.digest, size: m.size };
}

describe('contentClosure', () => {
  const missing = () => new IntegrityError('E_CORRUPT_ARCHIVE', 'missing');

  it('lists every reachable blob with its size; external (urls) layers are not required', () => {
    const layout = tmpLayout();
    const external = {
      mediaType: MediaType.Layer,
      digest: digestOf('far away'),
      size: 8,
      urls: ['https://x'],
    };
    const root = imageWith(layout, [external]);
    const c = contentClosure(layout, [root], {
      sizeOf: (d) => layout.blobs.stat(d)?.size,
      missing,
    });
    expect(c.blobs.size).toBe(2);
    expect(c.external).toEqual([external]);
  });

  it('refuses an absent blob and a wrong size', () => {
    const layout = tmpLayout();
    const root = imageWith(layout, [
      { mediaType: MediaType.Layer, digest: digestOf('absent'), size: 6 },
    ]);
    expect(() =>
      contentClosure(layout, [root], { sizeOf: (d) => layout.blobs.stat(d)?.size, missing }),
    ).toThrow(expect.objectContaining({ code: 'E_CORRUPT_ARCHIVE' }));
    const lying = { ...root, size: root.size + 1 };
    expect(() =>
      contentClosure(layout, [lying], { sizeOf: (d) => layout.blobs.stat(d)?.size, missing }),
    ).toThrow(expect.objectContaining({ code: 'E_SIZE_MISMATCH' }));
  });
});
