// Referrers on a registry, as distribution-spec v1.1 prescribes for clients. Read: the referrers API
// first; on 404 the fallback tag `<alg>-<encoded>`; a tag that holds no valid index means "none".
// Write (no OCI-Subject on push): read the tag's index (404 → empty; not an index → refuse), add
// what is missing (never dropping anyone's entries, never duplicating), push it back to the tag.
// Decision table: spec-notes/registry.md "Referrers: API or fallback tag".
import type { Digest } from '../digest.js';
import { RegistryError, isOcilayoutError } from '../errors.js';
import { MediaType, isIndexMediaType } from '../media-types.js';
import { fallbackTagFor } from '../referrers/fallback-tag.js';
import { byDigest, referrersResponse } from '../referrers/response.js';
import { canonicalDescriptor, sortedRecord, type Descriptor } from '../schema/descriptor.js';
import { effectiveArtifactType, type ParsedManifest } from '../schema/manifest.js';
import type { RegistryClient } from './client.js';
import { goJsonStringify } from '../schema/go-json.js';

export type ReferrersVia = 'api' | 'fallback-tag' | 'layout';

export interface RemoteReferrers {
  descriptors: Descriptor[];
  via: ReferrersVia;
  /** Why the fallback tag was ignored, when it was (not an index). */
  warning?: string | undefined;
}

/** Referrers of `subject` in `repository`: API, else the fallback tag (spec "Listing Referrers"). */
export async function listRemoteReferrers(
  client: RegistryClient,
  repository: string,
  subject: Digest,
): Promise<RemoteReferrers> {
  const api = await client.referrers(repository, subject);
  if (api !== undefined) return { descriptors: api.manifests, via: 'api' };
  const tag = fallbackTagFor(subject);
  let got;
  try {
    got = await client.getManifest(repository, tag);
  } catch (err) {
    if (isOcilayoutError(err, 'E_NOT_FOUND')) return { descriptors: [], via: 'fallback-tag' };
    if (isOcilayoutError(err) && (err.code === 'E_SCHEMA' || err.code === 'E_INVALID_JSON')) {
      return {
        descriptors: [],
        via: 'fallback-tag',
        warning: `${repository}:${tag} is not an image index; assuming no referrers`,
      };
    }
    throw err;
  }
  if (got.parsed.kind !== 'index') {
    return {
      descriptors: [],
      via: 'fallback-tag',
      warning: `${repository}:${tag} holds a ${got.parsed.mediaType}, not an image index; assuming no referrers`,
    };
  }
  return { descriptors: got.parsed.doc.manifests, via: 'fallback-tag' };
}

/**
 * The descriptor the referrers API (and a fallback index) lists for a referrer: media type,
 * digest, size, artifactType (else a manifest's config media type), and all its annotations.
 */
export function listingDescriptor(desc: Descriptor, parsed: ParsedManifest): Descriptor {
  const d: Descriptor = { mediaType: parsed.mediaType, digest: desc.digest, size: desc.size };
  const annotations = parsed.doc.annotations;
  if (annotations !== undefined && Object.keys(annotations).length > 0) {
    d.annotations = sortedRecord(annotations);
  }
  const at = effectiveArtifactType(parsed);
  if (at !== undefined) d.artifactType = at;
  return canonicalDescriptor(d);
}

export interface FallbackUpdate {
  tag: string;
  /** Descriptors added by us; empty when the tag already listed them all (nothing pushed). */
  added: string[];
  /** Entries that were there before and are kept. */
  kept: number;
}

/**
 * Add `referrers` to the fallback-tag index of `subject` in `repository` (read, merge, write).
 * The referrer manifests must be pushed already (registries refuse an index with unknown children).
 * Throws E_REGISTRY when the tag holds something other than an image index.
 */
export async function updateFallbackTag(
  client: RegistryClient,
  repository: string,
  subject: Digest,
  referrers: readonly Descriptor[],
): Promise<FallbackUpdate> {
  const tag = fallbackTagFor(subject);
  let current: { bytes: Buffer; parsed: ParsedManifest } | undefined;
  try {
    current = await client.getManifest(repository, tag);
  } catch (err) {
    if (!isOcilayoutError(err, 'E_NOT_FOUND')) throw refuse(err, client, repository, tag);
  }
  if (current !== undefined && current.parsed.kind !== 'index') {
    throw refuse(undefined, client, repository, tag, current.parsed.mediaType);
  }
  const existing = current?.parsed.kind === 'index' ? current.parsed.doc.manifests : [];
  const have = new Set(existing.map((d) => d.digest));
  const missing = referrers.filter((d) => !have.has(d.digest)).sort(byDigest);
  const unique = [...new Map(missing.map((d) => [d.digest, d])).values()];
  if (unique.length === 0) return { tag, added: [], kept: existing.length };
  let bytes: Buffer;
  if (current === undefined) {
    bytes = Buffer.from(goJsonStringify(referrersResponse(unique)), 'utf8');
  } else {
    // Keep the document as read (its order, its fields, others' entries); append ours.
    const raw = JSON.parse(current.bytes.toString('utf8')) as Record<string, unknown> & {
      manifests: unknown[];
    };
    raw.manifests = [...raw.manifests, ...unique.map(canonicalDescriptor)];
    bytes = Buffer.from(goJsonStringify(raw), 'utf8');
  }
  await client.putManifest(repository, tag, bytes, MediaType.ImageIndex);
  return { tag, added: unique.map((d) => d.digest), kept: existing.length };
}

function refuse(
  cause: unknown,
  client: RegistryClient,
  repository: string,
  tag: string,
  mediaType?: string,
): unknown {
  if (
    cause !== undefined &&
    !(isOcilayoutError(cause) && ['E_SCHEMA', 'E_INVALID_JSON'].includes(cause.code))
  ) {
    return cause;
  }
  const what =
    mediaType !== undefined && !isIndexMediaType(mediaType)
      ? `a ${mediaType}`
      : 'something that is not an image index';
  return new RegistryError(
    'E_REGISTRY',
    `${client.registry}/${repository}:${tag} holds ${what}; refusing to overwrite it with a referrers index`,
    { registry: client.registry, repository, tag },
    {
      cause,
      hint: 'the tag looks like a referrers fallback tag but is used for other content; use --referrers-mode api, or remove that tag',
    },
  );
}
