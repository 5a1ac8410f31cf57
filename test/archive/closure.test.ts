import { describe, expect, it } from 'vitest';
import { contentClosure } from '../../src/archive/closure.js';
import { IntegrityError, Layout, MediaType, digestOf } from '../../src/internal.js';
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

  it('checks the size every descriptor states, not only the first one met for a digest', () => {
    // Two images share a layer; the second one's descriptor lies about its size.
    const layout = tmpLayout();
    const layer = layout.blobs.putBytes(Buffer.from('shared layer'));
    const honest = { mediaType: MediaType.Layer, digest: layer.digest, size: layer.size };
    const a = imageWith(layout, [honest]);
    const b = imageWith(layout, [{ ...honest, size: layer.size + 100 }]);
    const sizeOf = (d: Parameters<typeof layout.blobs.stat>[0]) => layout.blobs.stat(d)?.size;
    expect(() => contentClosure(layout, [a, b], { sizeOf, missing })).toThrow(
      expect.objectContaining({ code: 'E_SIZE_MISMATCH' }),
    );
    // The same for a manifest named twice (a root entry, and the same digest again).
    expect(() =>
      contentClosure(layout, [a, { ...a, size: a.size + 1 }], { sizeOf, missing }),
    ).toThrow(expect.objectContaining({ code: 'E_SIZE_MISMATCH' }));
  });
});
