// A source layout for registry copy tests, built with the library itself: a two-platform index
// tagged v1 (linux/amd64, linux/arm64), a signature on the index, an SBOM on the amd64 manifest and
// a signature on that SBOM (a referrer of a referrer), recorded in the given convention.
import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  attach,
  Layout,
  MediaType,
  type ConventionName,
  type Descriptor,
} from '../../src/internal.js';

export interface Fixture {
  layout: Layout;
  index: Descriptor;
  amd64: Descriptor;
  arm64: Descriptor;
  /** Referrer digests by role. */
  sig: string;
  sbom: string;
  sbomSig: string;
  /** Every blob of the image (configs, layers, manifests, index). */
  imageBlobs: string[];
}

async function platformImage(
  layout: Layout,
  arch: string,
  layerSize: number,
): Promise<{ desc: Descriptor; blobs: string[] }> {
  const layer = layout.blobs.putBytes(randomBytes(layerSize));
  const config = layout.blobs.putBytes(
    Buffer.from(
      JSON.stringify({ architecture: arch, os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }),
    ),
  );
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ImageManifest,
      config: { mediaType: MediaType.ImageConfig, digest: config.digest, size: config.size },
      layers: [{ mediaType: MediaType.LayerGzip, digest: layer.digest, size: layer.size }],
    }),
  );
  const desc = await layout.putManifest(manifest, { unlisted: true });
  return {
    desc: { ...desc, platform: { os: 'linux', architecture: arch } },
    blobs: [layer.digest, config.digest, desc.digest],
  };
}

export async function makeFixture(
  dir: string,
  convention: ConventionName = 'fallback-tag',
  layerSize = 200_000,
): Promise<Fixture> {
  const layout = Layout.init(join(dir, 'src')).layout;
  const amd = await platformImage(layout, 'amd64', layerSize);
  const arm = await platformImage(layout, 'arm64', layerSize);
  const indexBytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ImageIndex,
      manifests: [amd.desc, arm.desc],
      annotations: { 'org.example.note': 'fixture' },
    }),
  );
  const index = await layout.putManifest(indexBytes, { tag: 'v1' });
  const file = (name: string, text: string): { path: string } => {
    const path = join(dir, name);
    writeFileSync(path, text);
    return { path };
  };
  const sig = await attach(
    layout,
    { digest: index.digest },
    [file('sig.txt', 'signature of index')],
    {
      artifactType: 'application/vnd.example.signature',
      annotations: { 'org.example.signer': 'alice' },
      convention,
    },
  );
  const sbom = await attach(
    layout,
    { digest: amd.desc.digest },
    [file('sbom.json', '{"sbom":1}')],
    {
      artifactType: 'application/spdx+json',
      convention,
    },
  );
  const sbomSig = await attach(
    layout,
    { digest: sbom.descriptor.digest },
    [file('sbomsig.txt', 'sig of sbom')],
    {
      artifactType: 'application/vnd.example.signature',
      convention,
    },
  );
  return {
    layout,
    index,
    amd64: amd.desc,
    arm64: arm.desc,
    sig: sig.descriptor.digest,
    sbom: sbom.descriptor.digest,
    sbomSig: sbomSig.descriptor.digest,
    imageBlobs: [...amd.blobs, ...arm.blobs, index.digest],
  };
}
