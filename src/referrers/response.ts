// The referrers response: descriptors shaped as distribution-spec "Listing Referrers" requires, and
// the image index that lists them. The same bytes serve as a fallback-tag index and as a
// subject-annotation response, so converting between those two only relabels an index.json entry.
import { MediaType } from '../media-types.js';
import { canonicalDescriptor, sortedRecord, type Descriptor } from '../schema/descriptor.js';
import type { ImageIndex } from '../schema/manifest.js';
import type { DocInfo } from './documents.js';
import { goJsonStringify } from '../schema/go-json.js';

/**
 * Annotation a file-based referrers response carries when a filter was applied. The HTTP API says so
 * with the `OCI-Filters-Applied: artifactType` header; a JSON file has no headers, so we use the
 * annotation early distribution-spec drafts defined for this (spec-notes/referrers.md "Filters").
 */
export const FILTERS_APPLIED_ANNOTATION = 'org.opencontainers.referrers.filtersApplied';

/**
 * The descriptor a referrers response lists for a referrer: its media type, digest, size, its
 * `artifactType` (else, for an image manifest, its config media type; none for an index without
 * one) and all its top-level annotations. Key order as Go marshals it.
 */
export function referrerDescriptor(doc: DocInfo): Descriptor {
  const d: Descriptor = { mediaType: doc.mediaType, digest: doc.digest, size: doc.size };
  if (doc.annotations !== undefined && Object.keys(doc.annotations).length > 0) {
    d.annotations = sortedRecord(doc.annotations);
  }
  const artifactType =
    doc.artifactType ?? (doc.kind === 'manifest' ? doc.configMediaType : undefined);
  if (artifactType !== undefined) d.artifactType = artifactType;
  return canonicalDescriptor(d);
}

/** Sorted by digest: the one order we write, so equal sets give equal bytes. */
export function byDigest(a: { digest: string }, b: { digest: string }): number {
  return a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0;
}

/** Union by digest; a later descriptor for the same digest replaces an earlier one. Sorted. */
export function mergeByDigest(...lists: readonly Descriptor[][]): Descriptor[] {
  const out = new Map<string, Descriptor>();
  for (const list of lists) for (const d of list) out.set(d.digest, d);
  return [...out.values()].sort(byDigest);
}

/** The referrers response index for `referrers` (sorted by digest, filter recorded when applied). */
export function referrersResponse(
  referrers: readonly Descriptor[],
  options: { artifactType?: string | undefined } = {},
): ImageIndex {
  const at = options.artifactType;
  const manifests = (
    at === undefined ? [...referrers] : referrers.filter((d) => d.artifactType === at)
  )
    .sort(byDigest)
    .map(canonicalDescriptor);
  const index: ImageIndex = { schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests };
  if (at !== undefined) index.annotations = { [FILTERS_APPLIED_ANNOTATION]: 'artifactType' };
  return index;
}

/** The stored bytes of a response index: compact JSON, no trailing newline (as Go marshals it). */
export function responseBytes(referrers: readonly Descriptor[]): Buffer {
  return Buffer.from(goJsonStringify(referrersResponse(referrers)), 'utf8');
}
