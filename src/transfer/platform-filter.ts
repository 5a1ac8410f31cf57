// `copy --platform OS/ARCH[/VARIANT]`: keep only the matching manifests of a multi-arch index. The result
// is a new index (new bytes, new digest): every other field of the source index is kept as is.
// BuildKit attestation entries stay when the manifest they describe stays.
import { digestOf } from '../digest.js';
import { NotFoundError } from '../errors.js';
import { Annotation } from '../media-types.js';
import { formatPlatform, platformMatches, type PlatformSpec } from '../layout/platform.js';
import type { Descriptor } from '../schema/descriptor.js';
import type { ImageIndex } from '../schema/manifest.js';
import { goJsonStringify } from '../schema/go-json.js';

export interface FilteredIndex {
  bytes: Buffer;
  descriptor: Descriptor;
  kept: Descriptor[];
}

/**
 * The index with only the entries for `wanted` platforms (and the attestations of those entries).
 * Throws E_NOT_FOUND naming the platforms the index does have when nothing matches.
 */
export function filterIndex(
  bytes: Buffer,
  index: ImageIndex,
  source: Descriptor,
  wanted: readonly PlatformSpec[],
): FilteredIndex {
  const isMatch = (d: Descriptor): boolean => wanted.some((w) => platformMatches(d.platform, w));
  const keptDigests = new Set(index.manifests.filter(isMatch).map((d) => d.digest));
  if (keptDigests.size === 0) {
    const have = index.manifests
      .map((d) => (d.platform === undefined ? undefined : formatPlatform(d.platform)))
      .filter((p): p is string => p !== undefined && p !== 'unknown/unknown');
    throw new NotFoundError(
      'E_NOT_FOUND',
      `no manifest for ${wanted.map(formatPlatform).join(', ')} in index ${source.digest}`,
      { digest: source.digest, available: have },
      { hint: `the index has: ${[...new Set(have)].join(', ') || 'no platform entries'}` },
    );
  }
  const keep = index.manifests.map((d) => {
    const describes = d.annotations?.[Annotation.DockerReferenceDigest];
    return keptDigests.has(d.digest) || (describes !== undefined && keptDigests.has(describes));
  });
  const kept = index.manifests.filter((_, i) => keep[i]);
  // Rewrite the document as read (key order, unknown fields), dropping only the other entries.
  const raw = JSON.parse(bytes.toString('utf8')) as Record<string, unknown> & {
    manifests: unknown[];
  };
  raw.manifests = raw.manifests.filter((_, i) => keep[i]);
  const out = Buffer.from(goJsonStringify(raw), 'utf8');
  const descriptor: Descriptor = {
    mediaType: source.mediaType,
    digest: digestOf(out),
    size: out.byteLength,
  };
  if (index.artifactType !== undefined) descriptor.artifactType = index.artifactType;
  return { bytes: out, descriptor, kept };
}
