// Referrers on a registry, as distribution-spec v1.1 prescribes for clients. Read: the referrers API
// first; on 404 the fallback tag `<alg>-<encoded>`; a tag that holds no valid index means "none".
// Write (no OCI-Subject on push): read the tag's index (404 → empty; not an index → refuse), add
// what is missing (never dropping anyone's entries, never duplicating), push it back to the tag,
// then re-read until it settles with ours listed (concurrent writers race on that tag).
// Decision table: spec-notes/registry.md "Referrers: API or fallback tag".
import type { Digest } from '../digest.js';
import { ConflictError, RegistryError, isOcilayoutError } from '../errors.js';
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
  /** PUTs of the tag: more than one when a racing writer dropped ours and we merged them back. */
  writes: number;
}

export interface FallbackUpdateOptions {
  /**
   * Least wait before each verifying read, in ms (default 100); at least twice our own read→write
   * span (up to 5 s), jittered to 0.5–1.5×. A racing writer's stale write must land inside this
   * window to be seen.
   */
  settleMs?: number | undefined;
  /** PUTs of the tag before giving up with E_CONFLICT (default 12). */
  maxWrites?: number | undefined;
  /** Verifying reads before giving up with E_CONFLICT (default 60). */
  maxReads?: number | undefined;
  /** How to wait (tests). */
  sleep?: ((ms: number) => Promise<void>) | undefined;
}

const DEFAULT_SETTLE_MS = 100;
/** A very slow registry widens the window rather than stalling a copy for minutes. */
const MAX_SETTLE_MS = 5000;
const DEFAULT_MAX_WRITES = 12;
const DEFAULT_MAX_READS = 60;

interface CurrentIndex {
  bytes: Buffer;
  digest: string;
  etag: string | undefined;
  manifests: readonly Descriptor[];
}

/**
 * Add `referrers` to the fallback-tag index of `subject` in `repository`. The referrer manifests
 * must be pushed already (registries refuse an index with unknown children). Throws E_REGISTRY
 * when the tag holds something other than an image index, E_CONFLICT when concurrent writers keep
 * the tag from settling with ours listed.
 *
 * The tag is a read-modify-write that concurrent writers race on (the last PUT wins, dropping
 * what the others added). So: write conditionally (`If-Match` the ETag we read, `If-None-Match: *`
 * to create) for registries that honour it; and, since docker-registry 2.8 ignores preconditions,
 * after every write wait a jittered settle delay, re-read, merge back whatever of ours is missing,
 * and stop only when two reads a settle apart show the same index with all of ours in it.
 * What is left uncovered: spec-notes/registry.md "Concurrent writers of a fallback tag".
 */
export async function updateFallbackTag(
  client: RegistryClient,
  repository: string,
  subject: Digest,
  referrers: readonly Descriptor[],
  options: FallbackUpdateOptions = {},
): Promise<FallbackUpdate> {
  const tag = fallbackTagFor(subject);
  const ours = [...new Map(referrers.map((d) => [d.digest, d])).values()].sort(byDigest);
  const sleep = options.sleep ?? ((ms: number) => new Promise<void>((r) => setTimeout(r, ms)));
  const maxWrites = options.maxWrites ?? DEFAULT_MAX_WRITES;
  const maxReads = options.maxReads ?? DEFAULT_MAX_READS;
  let settle = options.settleMs ?? DEFAULT_SETTLE_MS;

  let readAt = Date.now();
  let current = await readFallbackIndex(client, repository, tag);
  const kept = current?.manifests.length ?? 0;
  const added = new Set<string>();
  let writes = 0;
  let reads = 0;
  let conditional = true; // until the registry shows its preconditions are not the ones we send
  let verified: string | undefined; // digest of the last read that listed all of ours
  for (;;) {
    const have = new Set(current?.manifests.map((d) => d.digest));
    const missing = ours.filter((d) => !have.has(d.digest));
    if (missing.length === 0) {
      if (writes === 0) return { tag, added: [], kept, writes };
      // Stable: unchanged over a settle delay, so no stale write was in flight behind ours.
      if (verified === current?.digest) return { tag, added: [...added].sort(), kept, writes };
      verified = current?.digest;
    } else {
      verified = undefined;
      if (writes >= maxWrites) throw unsettled(client, repository, tag, missing, writes, reads);
      const before = current;
      const conditions = !conditional
        ? {}
        : before === undefined
          ? { ifNoneMatch: '*' as const }
          : { ifMatch: before.etag ?? `"${before.digest}"` };
      writes += 1;
      try {
        await client.putManifest(
          repository,
          tag,
          mergedIndex(before, missing),
          MediaType.ImageIndex,
          conditions,
        );
        for (const d of missing) added.add(d.digest);
        // A racing writer of our kind holds its read this long before its write lands.
        settle = Math.min(MAX_SETTLE_MS, Math.max(settle, 2 * (Date.now() - readAt)));
      } catch (err) {
        if (!(isOcilayoutError(err, 'E_CONFLICT') && err.details['precondition'] === true)) {
          throw err;
        }
        // 412: the tag changed since we read it. Read again and merge, without waiting.
        readAt = Date.now();
        current = await readFallbackIndex(client, repository, tag);
        // Unchanged after all: the registry's validator is not the one we send; stop sending it.
        if (current?.digest === before?.digest) conditional = false;
        continue;
      }
    }
    if (reads >= maxReads) throw unsettled(client, repository, tag, missing, writes, reads);
    await sleep(settle * (0.5 + Math.random()));
    reads += 1;
    readAt = Date.now();
    current = await readFallbackIndex(client, repository, tag);
  }
}

/** The tag's index as read (undefined when absent); refuses a tag that holds anything else. */
async function readFallbackIndex(
  client: RegistryClient,
  repository: string,
  tag: string,
): Promise<CurrentIndex | undefined> {
  let got;
  try {
    got = await client.getManifest(repository, tag);
  } catch (err) {
    if (isOcilayoutError(err, 'E_NOT_FOUND')) return undefined;
    throw refuse(err, client, repository, tag);
  }
  if (got.parsed.kind !== 'index') {
    throw refuse(undefined, client, repository, tag, got.parsed.mediaType);
  }
  return {
    bytes: got.bytes,
    digest: got.descriptor.digest,
    etag: got.etag,
    manifests: got.parsed.doc.manifests,
  };
}

/** `current` with `missing` appended: the document as read (order, fields, others' entries). */
function mergedIndex(current: CurrentIndex | undefined, missing: readonly Descriptor[]): Buffer {
  if (current === undefined)
    return Buffer.from(goJsonStringify(referrersResponse(missing)), 'utf8');
  const raw = JSON.parse(current.bytes.toString('utf8')) as Record<string, unknown> & {
    manifests: unknown[];
  };
  raw.manifests = [...raw.manifests, ...missing.map(canonicalDescriptor)];
  return Buffer.from(goJsonStringify(raw), 'utf8');
}

function unsettled(
  client: RegistryClient,
  repository: string,
  tag: string,
  missing: readonly Descriptor[],
  writes: number,
  reads: number,
): ConflictError {
  return new ConflictError(
    'E_CONFLICT',
    `${client.registry}/${repository}:${tag} kept changing under concurrent writers (${writes} writes, ${reads} re-reads); ` +
      (missing.length > 0
        ? `${missing.length} of our referrers are not listed`
        : 'our referrers are listed but the index did not settle'),
    {
      registry: client.registry,
      repository,
      tag,
      missing: missing.map((d) => d.digest),
      writes,
      reads,
    },
    { hint: 'run the copy again when the other writers are done: it adds only what is missing' },
  );
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
