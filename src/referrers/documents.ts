// Reading manifests and indexes for referrer work: synchronous, cached per digest, digest-verified,
// and checked by hand rather than by zod, because discovery reads every listed manifest of a layout
// (performance goal: within 2x of a bare readFileSync + JSON.parse loop, see
// spec-notes/performance.md). Knows no conventions.
import { tryParseDigest, type Digest } from '../digest.js';
import { IntegrityError, OcilayoutError, asOcilayoutError } from '../errors.js';
import type { Layout } from '../layout/layout.js';
import { MAX_MANIFEST_BYTES, MediaType, isIndexMediaType } from '../media-types.js';
import type { Annotations, Descriptor } from '../schema/descriptor.js';

/** The parts of a manifest or index that referrer bookkeeping needs. */
export interface DocInfo {
  digest: Digest;
  size: number;
  /** The document's own `mediaType`, else the media type of the descriptor that led here. */
  mediaType: string;
  kind: 'manifest' | 'index';
  artifactType: string | undefined;
  /** Image manifests only: `config.mediaType` (the referrers API's artifactType fallback). */
  configMediaType: string | undefined;
  annotations: Annotations | undefined;
  /** The `subject` digest, when present and valid. */
  subject: Digest | undefined;
  /** Indexes only: the listed descriptors that are well formed. */
  children: Descriptor[];
  /** Image manifests only: digests of config and layers (never manifests; the blob scan skips them). */
  blobs: string[];
}

export type DocResult =
  { ok: true; doc: DocInfo } | { ok: false; missing: boolean; error: OcilayoutError };

/** A cache of parsed documents over one layout; blobs are immutable, so entries never go stale. */
export class DocReader {
  private readonly cache = new Map<string, DocResult>();
  constructor(readonly layout: Layout) {}

  /** Read the manifest or index `digest` (hint: the media type of the descriptor pointing to it). */
  read(digest: string, hintMediaType?: string): DocResult {
    const hit = this.cache.get(digest);
    if (hit !== undefined) return hit;
    const result = this.load(digest, hintMediaType);
    this.cache.set(digest, result);
    return result;
  }

  /** The document when readable, else undefined. */
  doc(digest: string, hintMediaType?: string): DocInfo | undefined {
    const r = this.read(digest, hintMediaType);
    return r.ok ? r.doc : undefined;
  }

  /** True once `digest` has been read (successfully or not). */
  seen(digest: string): boolean {
    return this.cache.has(digest);
  }

  /** Parse bytes already read (the blob scan sniffs them first); caches the result. */
  accept(digest: Digest, bytes: Buffer): DocResult {
    const result = parseDoc(digest, bytes, undefined);
    this.cache.set(digest, result);
    return result;
  }

  private load(raw: string, hint: string | undefined): DocResult {
    const digest = tryParseDigest(raw);
    if (digest === undefined) {
      return fail(false, new IntegrityError('E_SCHEMA', `invalid digest ${JSON.stringify(raw)}`));
    }
    let bytes: Buffer;
    try {
      bytes = this.layout.blobs.readBytes(digest, MAX_MANIFEST_BYTES);
    } catch (err) {
      const e = asOcilayoutError(err);
      return fail(e.code === 'E_NOT_FOUND', e);
    }
    return parseDoc(digest, bytes, hint);
  }
}

function fail(missing: boolean, error: OcilayoutError): DocResult {
  return { ok: false, missing, error };
}

/** Turn verified bytes into a DocInfo, or a failure when they are not a manifest or index. */
export function parseDoc(digest: Digest, bytes: Buffer, hint: string | undefined): DocResult {
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    return fail(false, new IntegrityError('E_INVALID_JSON', `${digest} is not JSON`, { digest }));
  }
  if (!isRecord(json)) {
    return fail(false, new IntegrityError('E_SCHEMA', `${digest} is not an object`, { digest }));
  }
  const own = typeof json['mediaType'] === 'string' ? json['mediaType'] : undefined;
  const isIndex =
    Array.isArray(json['manifests']) &&
    (own === undefined ? !isRecord(json['config']) : isIndexMediaType(own));
  if (!isIndex && !isRecord(json['config'])) {
    return fail(
      false,
      new IntegrityError('E_SCHEMA', `${digest} is neither a manifest nor an index`, { digest }),
    );
  }
  const config = isIndex ? undefined : (json['config'] as Record<string, unknown>);
  const subject = isRecord(json['subject']) ? tryParseDigest(json['subject']['digest']) : undefined;
  const doc: DocInfo = {
    digest,
    size: bytes.byteLength,
    mediaType: own ?? mediaTypeFromHint(hint, isIndex),
    kind: isIndex ? 'index' : 'manifest',
    artifactType: nonEmptyString(json['artifactType']),
    configMediaType: config === undefined ? undefined : nonEmptyString(config['mediaType']),
    annotations: annotationsOf(json['annotations']),
    subject,
    children: isIndex ? (json['manifests'] as unknown[]).filter(isDescriptor) : [],
    blobs: isIndex ? [] : blobDigests(config, json['layers']),
  };
  return { ok: true, doc };
}

/** umoci and others omit `mediaType`; trust the pointing descriptor only when it agrees on the kind. */
function mediaTypeFromHint(hint: string | undefined, isIndex: boolean): string {
  if (hint !== undefined && isIndexMediaType(hint) === isIndex) return hint;
  return isIndex ? MediaType.ImageIndex : MediaType.ImageManifest;
}

function blobDigests(config: Record<string, unknown> | undefined, layers: unknown): string[] {
  const out: string[] = [];
  if (config !== undefined && typeof config['digest'] === 'string') out.push(config['digest']);
  if (Array.isArray(layers)) {
    for (const l of layers)
      if (isRecord(l) && typeof l['digest'] === 'string') out.push(l['digest']);
  }
  return out;
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function nonEmptyString(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

/** Annotations when every value is a string (the spec's only shape); otherwise none. */
function annotationsOf(v: unknown): Annotations | undefined {
  if (!isRecord(v)) return undefined;
  for (const value of Object.values(v)) if (typeof value !== 'string') return undefined;
  return v as Annotations;
}

/** The three required descriptor fields, well typed (the rest is carried as is). */
function isDescriptor(v: unknown): v is Descriptor {
  return (
    isRecord(v) &&
    typeof v['mediaType'] === 'string' &&
    typeof v['digest'] === 'string' &&
    typeof v['size'] === 'number'
  );
}
