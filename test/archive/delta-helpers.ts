// Fixtures for delta archives: images of random layers built with the library, where an update
// changes some layers and keeps the rest.
import { randomBytes } from 'node:crypto';
import { Layout, MediaType, type Descriptor } from '../../src/internal.js';

/** Store `layers` (random bytes, as plain layers: nothing here unpacks them) plus a config and a manifest, tagged `tag`. */
export async function putImage(dir: string, tag: string, layers: Buffer[]): Promise<Descriptor> {
  const layout = Layout.init(dir).layout;
  const layerDescs = layers.map((bytes) => {
    const r = layout.blobs.putBytes(bytes);
    return { mediaType: MediaType.Layer, digest: r.digest, size: r.size };
  });
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: layerDescs.map((d) => d.digest) },
      config: { Labels: { tag } },
    }),
  );
  const c = layout.blobs.putBytes(config);
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ImageManifest,
    config: { mediaType: MediaType.ImageConfig, digest: c.digest, size: c.size },
    layers: layerDescs,
  };
  return layout.putManifest(Buffer.from(JSON.stringify(manifest)), { tag });
}

export function randomLayers(count: number, size: number): Buffer[] {
  return Array.from({ length: count }, () => randomBytes(size));
}
