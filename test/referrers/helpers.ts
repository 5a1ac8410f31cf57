// Building small layouts with referrers in code, and reading back what discovery finds.
import { cpSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  Annotation,
  EMPTY_DIGEST,
  EMPTY_JSON,
  Layout,
  MediaType,
  buildArtifactManifest,
  fallbackTagFor,
  recordReferrers,
  referrerGraph,
  type ConventionName,
  type Descriptor,
  type IndexFile,
} from '../../src/internal.js';
import { tmpDir, tmpLayout } from '../helpers/tmp.js';

export const SIG = 'application/vnd.example.signature.v1+json';
export const SBOM = 'application/spdx+json';

/** Store a tiny image (config + layer + manifest) named `name`; unlisted. sha512 on request. */
export function putImage(
  layout: Layout,
  name: string,
  options: { algorithm?: 'sha256' | 'sha512' } = {},
): Descriptor {
  const config = layout.blobs.putBytes(
    Buffer.from(JSON.stringify({ architecture: 'amd64', os: 'linux', name })),
  );
  const layer = layout.blobs.putBytes(Buffer.from(`layer of ${name}`));
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ImageManifest,
    config: { mediaType: MediaType.ImageConfig, digest: config.digest, size: config.size },
    layers: [{ mediaType: MediaType.Layer, digest: layer.digest, size: layer.size }],
  };
  const bytes = Buffer.from(JSON.stringify(manifest));
  const stored = layout.blobs.putBytes(bytes, { algorithm: options.algorithm ?? 'sha256' });
  return { mediaType: MediaType.ImageManifest, digest: stored.digest, size: stored.size };
}

/** Store an image index over `children`; unlisted. */
export function putIndex(
  layout: Layout,
  children: Descriptor[],
  extra: Record<string, unknown> = {},
): Descriptor {
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ImageIndex,
      manifests: children,
      ...extra,
    }),
  );
  const stored = layout.blobs.putBytes(bytes);
  return { mediaType: MediaType.ImageIndex, digest: stored.digest, size: stored.size };
}

/** Store an artifact manifest with `subject`; unlisted. */
export function putArtifact(
  layout: Layout,
  subject: Descriptor,
  artifactType: string,
  annotations: Record<string, string> = {},
): Descriptor {
  layout.blobs.putBytes(Buffer.from(EMPTY_JSON), { digest: EMPTY_DIGEST, size: 2 });
  const layer = layout.blobs.putBytes(
    Buffer.from(`${artifactType} of ${subject.digest} ${JSON.stringify(annotations)}`),
  );
  const { bytes } = buildArtifactManifest({
    artifactType,
    layers: [{ mediaType: 'application/octet-stream', digest: layer.digest, size: layer.size }],
    annotations,
    subject,
  });
  const stored = layout.blobs.putBytes(bytes);
  return {
    mediaType: MediaType.ImageManifest,
    digest: stored.digest,
    size: stored.size,
    artifactType,
  };
}

/** Replace index.json's entries (under the lock, like any writer). */
export async function setEntries(
  layout: Layout,
  entries: Descriptor[],
  extra: Partial<IndexFile> = {},
): Promise<void> {
  await layout.updateIndex((index) => {
    index.manifests = entries;
    Object.assign(index, extra);
    return { index, result: undefined };
  });
}

export function tagEntry(d: Descriptor, tag: string): Descriptor {
  return {
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
    annotations: { [Annotation.RefName]: tag },
  };
}

export function untaggedEntry(d: Descriptor, annotations?: Record<string, string>): Descriptor {
  return {
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
    ...(annotations ? { annotations } : {}),
  };
}

/** A new layout: image `a` tagged v1, and one SIG artifact on it recorded in `convention`. */
export async function signedImage(
  convention: ConventionName,
  options: { olaregKeys?: boolean } = {},
): Promise<{ layout: Layout; img: Descriptor; sig: Descriptor }> {
  const layout = tmpLayout();
  const img = putImage(layout, 'a');
  await setEntries(layout, [tagEntry(img, 'v1')]);
  const sig = putArtifact(layout, img, SIG);
  await recordReferrers(layout, [{ subject: img, referrer: sig }], { convention, ...options });
  return { layout, img, sig };
}

/**
 * A new layout with images x and y tagged, and x's fallback tag naming an index that lists a
 * referrer of y (a stale listing) and a descriptor whose blob is absent (a dangling one).
 */
export async function staleFallbackLayout(): Promise<{
  layout: Layout;
  x: Descriptor;
  y: Descriptor;
  ofY: Descriptor;
  missing: Descriptor;
}> {
  const layout = tmpLayout();
  const x = putImage(layout, 'x');
  const y = putImage(layout, 'y');
  const ofY = putArtifact(layout, y, SIG);
  const missing = { mediaType: ofY.mediaType, digest: `sha256:${'e'.repeat(64)}`, size: 10 };
  const stale = putIndex(layout, [ofY, missing]);
  await setEntries(layout, [
    tagEntry(x, 'x'),
    tagEntry(y, 'y'),
    tagEntry(stale, fallbackTagFor(x.digest)),
  ]);
  return { layout, x, y, ofY, missing };
}

/** subject → sorted referrer digests, over the whole layout (what convert must preserve). */
export function referrerSets(
  layout: Layout,
  options: { scanBlobs?: boolean } = {},
): Record<string, string[]> {
  const g = referrerGraph(layout, options);
  const out: Record<string, string[]> = {};
  for (const s of g.subjects()) out[s] = g.referrersOf(s).map((d) => d.digest);
  return out;
}

/** A writable copy of a fixture layout under testdata/. */
export function copyFixture(rel: string): Layout {
  const dest = join(tmpDir(), 'layout');
  cpSync(new URL(`../../testdata/${rel}`, import.meta.url).pathname, dest, { recursive: true });
  return Layout.open(dest);
}

/** index.json as we would serialise it (a peer's file may differ in whitespace only). */
export function indexText(layout: Layout): string {
  return JSON.stringify(layout.readIndex());
}

/** Store a cosign-shaped manifest (image config, one layer of `layerType`, no `subject`). */
function putCosign(
  layout: Layout,
  layerType: string,
  payload: string,
  layerAnnotations: Record<string, string>,
): Descriptor {
  const config = layout.blobs.putBytes(Buffer.from('{"architecture":"","os":""}'));
  const layer = layout.blobs.putBytes(Buffer.from(payload));
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ImageManifest,
      config: { mediaType: MediaType.ImageConfig, digest: config.digest, size: config.size },
      layers: [
        {
          mediaType: layerType,
          digest: layer.digest,
          size: layer.size,
          annotations: layerAnnotations,
        },
      ],
    }),
  );
  const stored = layout.blobs.putBytes(bytes);
  return { mediaType: MediaType.ImageManifest, digest: stored.digest, size: stored.size };
}

/** A layout with image `a` tagged v1, a cosign `.sig` and a DSSE `.att` tagged next to it. */
export async function cosignLayout(): Promise<{
  layout: Layout;
  img: Descriptor;
  sig: Descriptor;
  att: Descriptor;
}> {
  const layout = tmpLayout();
  const img = putImage(layout, 'a');
  const tag = img.digest.replace(':', '-');
  const sig = putCosign(
    layout,
    'application/vnd.dev.cosign.simplesigning.v1+json',
    JSON.stringify({ critical: { image: { 'docker-manifest-digest': img.digest } } }),
    { 'dev.cosignproject.cosign/signature': 'MEUCIQDsig==' },
  );
  const att = putCosign(
    layout,
    'application/vnd.dsse.envelope.v1+json',
    JSON.stringify({ payloadType: 'application/vnd.in-toto+json', payload: '', signatures: [] }),
    { predicateType: 'https://slsa.dev/provenance/v1' },
  );
  await setEntries(layout, [
    tagEntry(img, 'v1'),
    tagEntry(sig, `${tag}.sig`),
    tagEntry(att, `${tag}.att`),
  ]);
  return { layout, img, sig, att };
}

/** What testdata/cosign/expected.json says of a cosign fixture (as its generator meant it). */
export interface CosignFixture {
  index: string;
  /** `os/arch[/variant]` → platform manifest digest. */
  platforms: Record<string, string>;
  /** cosign tag → the digest it names and the signature/attestation manifest it tags. */
  tags: Record<string, { subject: string; referrer: string }>;
}

/** A copy of testdata/cosign/<name> (tag v1: a multi-platform index signed by cosign), and what it holds. */
export function cosignFixture(name = 'multi-platform'): { layout: Layout; fx: CosignFixture } {
  const all = JSON.parse(
    readFileSync(new URL('../../testdata/cosign/expected.json', import.meta.url), 'utf8'),
  ) as Record<string, CosignFixture>;
  return { layout: copyFixture(`cosign/${name}`), fx: all[name]! };
}

/** The cosign tags of index.json, sorted. */
export function cosignTagsIn(layout: Layout): string[] {
  return layout
    .readIndex()
    .manifests.map((e) => e.annotations?.[Annotation.RefName] ?? '')
    .filter((t) => /\.(sig|att|sbom)$/.test(t))
    .sort();
}
