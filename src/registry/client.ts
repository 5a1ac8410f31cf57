// A distribution-spec v1.1 client for one registry: manifests (by Accept, verified, capped), tags,
// the referrers API, blob existence. Blob transfer lives in blob-pull.ts and blob-push.ts.
import {
  algorithmOf,
  digestOf,
  isSupportedAlgorithm,
  parseDigest,
  tryParseDigest,
  type Digest,
} from '../digest.js';
import {
  ConflictError,
  IntegrityError,
  NotFoundError,
  RegistryError,
  UnsafeInputError,
} from '../errors.js';
import { successors } from '../layout/graph.js';
import { MAX_MANIFEST_BYTES, MediaType, isManifestMediaType } from '../media-types.js';
import type { Descriptor } from '../schema/descriptor.js';
import { ImageIndexSchema, parseManifest, type ParsedManifest } from '../schema/manifest.js';
import { repositoryScope } from './auth.js';
import { withRetry, type AttemptOutcome } from './retry.js';
import {
  RegistryTransport,
  bodyChunks,
  type RegistryRequest,
  type RegistryResponse,
  type ResponseHeaders,
  type TransportOptions,
} from './transport.js';

/** Every manifest type we can copy; schema1 is deliberately absent (deprecated, unsigned digests). */
const MANIFEST_ACCEPT = [
  MediaType.ImageManifest,
  MediaType.ImageIndex,
  MediaType.DockerManifest,
  MediaType.DockerManifestList,
].join(', ');

export interface FetchedManifest {
  descriptor: Descriptor;
  bytes: Buffer;
  parsed: ParsedManifest;
  /** The `ETag` the registry sent with it (for a conditional write), when it sent one. */
  etag?: string | undefined;
}

/**
 * HTTP preconditions for a manifest PUT (RFC 9110 §13.1): replace only the version we read
 * (`ifMatch`: its ETag), or create only when nothing is there (`ifNoneMatch: '*'`). Registries
 * are free to ignore them (distribution-spec says nothing; docker-registry 2.8 does ignore them).
 */
export interface PutConditions {
  ifMatch?: string | undefined;
  ifNoneMatch?: '*' | undefined;
}

export interface PutManifestResult {
  digest: Digest;
  /** The `OCI-Subject` header: present only when the registry processed `subject` (referrers API). */
  ociSubject: string | undefined;
}

export interface ReferrersPage {
  manifests: Descriptor[];
  /** The registry applied the artifactType filter itself (`OCI-Filters-Applied`). */
  filtered: boolean;
}

const MAX_PAGES = 10_000;

export function pullScope(repository: string): string {
  return repositoryScope(repository, ['pull']);
}
export function pushScope(repository: string): string {
  return repositoryScope(repository, ['pull', 'push']);
}

export class RegistryClient {
  readonly transport: RegistryTransport;

  constructor(
    readonly registry: string,
    options: TransportOptions = {},
  ) {
    this.transport = new RegistryTransport(registry, options);
  }

  /**
   * GET a manifest or index by tag or digest. Refuses over 4 MiB (E_TOO_LARGE), verifies the bytes
   * against a requested digest and against Docker-Content-Digest (E_DIGEST_MISMATCH), validates
   * the schema. Throws E_NOT_FOUND when the registry has no such manifest.
   */
  async getManifest(repository: string, reference: string): Promise<FetchedManifest> {
    const what = `manifest ${repository}${refSuffix(reference)}`;
    const got = await this.getCapped(
      {
        path: `/v2/${repository}/manifests/${reference}`,
        headers: { accept: MANIFEST_ACCEPT },
        scopes: [pullScope(repository)],
        what,
      },
      MAX_MANIFEST_BYTES,
      `${what} on ${this.registry}`,
    );
    if (got === undefined) {
      throw new NotFoundError(
        'E_NOT_FOUND',
        `${what} not found on ${this.registry}`,
        { registry: this.registry, repository, reference },
        {
          hint: `check the name and tag, e.g. \`skopeo list-tags docker://${this.registry}/${repository}\``,
        },
      );
    }
    const { bytes, headers } = got;
    const digest = this.verifyManifestDigest(bytes, reference, headers, what);
    const contentType = mediaTypeOf(headers.get('content-type'));
    const parsed = parseManifest(bytes, `${what} on ${this.registry}`, contentType);
    const descriptor: Descriptor = { mediaType: parsed.mediaType, digest, size: bytes.byteLength };
    if (parsed.doc.artifactType !== undefined) descriptor.artifactType = parsed.doc.artifactType;
    return { descriptor, bytes, parsed, etag: headers.get('etag') ?? undefined };
  }

  /** HEAD a manifest: its digest, media type and size, or undefined when absent. */
  async headManifest(
    repository: string,
    reference: string,
  ): Promise<
    | { digest: Digest | undefined; mediaType: string | undefined; size: number | undefined }
    | undefined
  > {
    const headers = await this.head({
      path: `/v2/${repository}/manifests/${reference}`,
      headers: { accept: MANIFEST_ACCEPT },
      scopes: [pullScope(repository)],
      what: `manifest ${repository}${refSuffix(reference)}`,
    });
    if (headers === undefined) return undefined;
    const length = headers.get('content-length');
    return {
      digest: tryParseDigest(headers.get('docker-content-digest')),
      mediaType: mediaTypeOf(headers.get('content-type')),
      size: length === null ? undefined : Number(length),
    };
  }

  /**
   * PUT manifest bytes under a tag or their digest. Returns the digest and the `OCI-Subject`
   * header (its presence is how a registry says it maintains the referrers API for us). Throws
   * E_TOO_LARGE (over 4 MiB, or HTTP 413), E_DIGEST_MISMATCH (the registry stored other bytes),
   * E_CONFLICT with `details.precondition` (HTTP 412: a registry that honours `conditions` says
   * the tag changed since we read it; nothing was written).
   */
  async putManifest(
    repository: string,
    reference: string,
    bytes: Uint8Array,
    mediaType: string,
    conditions: PutConditions = {},
  ): Promise<PutManifestResult> {
    const what = `manifest ${repository}${refSuffix(reference)}`;
    // A refusal naming a child as unknown is retried while every child answers HEAD:
    // distribution's filesystem storage rewrites a stored manifest in place (truncate, then
    // write), so while another client PUTs the same child the registry can read it as missing or
    // corrupt. A child that is really missing fails at once.
    return withRetry(
      this.transport.retryPolicy,
      async (): Promise<AttemptOutcome<PutManifestResult>> => {
        try {
          return {
            done: true,
            value: await this.putManifestOnce(repository, reference, bytes, mediaType, conditions),
          };
        } catch (err) {
          if (!namesUnknownChild(err)) throw err;
          if (!(await this.childrenPresent(repository, bytes, mediaType, what))) throw err;
          return { done: false, error: err };
        }
      },
      ({ attempt, delayMs, error }) =>
        this.transport.reportRetry({
          what,
          attempt,
          delayMs,
          reason: error instanceof Error ? error.message : String(error),
        }),
    );
  }

  /** Whether every config, layer and child manifest of a manifest answers HEAD in `repository`. */
  private async childrenPresent(
    repository: string,
    bytes: Uint8Array,
    mediaType: string,
    what: string,
  ): Promise<boolean> {
    for (const child of successors(parseManifest(bytes, what, mediaType))) {
      const digest = parseDigest(child.digest);
      const found = isManifestMediaType(child.mediaType)
        ? (await this.headManifest(repository, digest)) !== undefined
        : (await this.blobSize(repository, digest)) !== undefined;
      if (!found) return false;
    }
    return true;
  }

  private async putManifestOnce(
    repository: string,
    reference: string,
    bytes: Uint8Array,
    mediaType: string,
    conditions: PutConditions,
  ): Promise<PutManifestResult> {
    const what = `manifest ${repository}${refSuffix(reference)}`;
    if (bytes.byteLength > MAX_MANIFEST_BYTES) {
      throw new UnsafeInputError(
        'E_TOO_LARGE',
        `${what} is ${bytes.byteLength} bytes, over the 4 MiB manifest limit registries must accept`,
        { registry: this.registry, repository, size: bytes.byteLength },
      );
    }
    const digest = digestOf(bytes);
    const conditional = conditions.ifMatch !== undefined || conditions.ifNoneMatch !== undefined;
    const res = await this.transport.request({
      method: 'PUT',
      path: `/v2/${repository}/manifests/${reference}`,
      headers: {
        'content-type': mediaType,
        ...(conditions.ifMatch === undefined ? {} : { 'if-match': conditions.ifMatch }),
        ...(conditions.ifNoneMatch === undefined
          ? {}
          : { 'if-none-match': conditions.ifNoneMatch }),
      },
      body: () => bytes,
      scopes: [pushScope(repository)],
      expect: conditional ? [200, 201, 202, 204, 412, 413] : [200, 201, 202, 204, 413],
      what,
    });
    await res.body?.cancel();
    if (conditional && res.status === 412) {
      throw new ConflictError(
        'E_CONFLICT',
        `${this.registry} refused ${what}: it changed since it was read (HTTP 412)`,
        { registry: this.registry, repository, reference, precondition: true },
      );
    }
    if (res.status === 413) {
      throw new UnsafeInputError(
        'E_TOO_LARGE',
        `${this.registry} refused ${what}: ${bytes.byteLength} bytes is over its manifest size limit (HTTP 413)`,
        { registry: this.registry, repository, size: bytes.byteLength },
      );
    }
    const echoed = tryParseDigest(res.headers.get('docker-content-digest'));
    if (echoed !== undefined && algorithmOf(echoed) === 'sha256' && echoed !== digest) {
      throw new IntegrityError(
        'E_DIGEST_MISMATCH',
        `${this.registry} stored ${what} as ${echoed}, but the bytes we sent hash to ${digest}`,
        { registry: this.registry, repository, expected: digest, found: echoed },
      );
    }
    return { digest, ociSubject: res.headers.get('oci-subject') ?? undefined };
  }

  /** Every tag of a repository, following `Link: <…>; rel="next"` pages. */
  async listTags(repository: string, pageSize = 1000): Promise<string[]> {
    const tags: string[] = [];
    let path: string | undefined = `/v2/${repository}/tags/list?n=${pageSize}`;
    for (let page = 0; path !== undefined && page < MAX_PAGES; page++) {
      const current: string = path;
      const what = `tag list of ${repository}`;
      const got = await this.getCapped(
        { path: current, scopes: [pullScope(repository)], what },
        16 * MAX_MANIFEST_BYTES,
        what,
      );
      if (got === undefined) return tags;
      const body = safeJson(got.bytes) as { tags?: unknown } | undefined;
      if (Array.isArray(body?.tags))
        for (const t of body.tags) if (typeof t === 'string') tags.push(t);
      path = nextLink(got.headers.get('link'), this.transport.resolve(current));
    }
    return tags;
  }

  /**
   * The referrers API: descriptors of manifests whose `subject` is `subject`, all pages, filtered by
   * artifactType (by the registry when it says so, else here). Undefined when the registry answers
   * 404: the spec's signal that it has no referrers API (fall back to the tag schema). Throws
   * E_REGISTRY when a later page vanishes or an answer is not an image index, E_TOO_LARGE.
   */
  async referrers(
    repository: string,
    subject: Digest,
    options: { artifactType?: string | undefined } = {},
  ): Promise<ReferrersPage | undefined> {
    const what = `referrers of ${subject} in ${repository}`;
    const query =
      options.artifactType === undefined
        ? ''
        : `?artifactType=${encodeURIComponent(options.artifactType)}`;
    let path: string | undefined = `/v2/${repository}/referrers/${subject}${query}`;
    const manifests: Descriptor[] = [];
    let filtered = options.artifactType === undefined;
    for (let page = 0; path !== undefined && page < MAX_PAGES; page++) {
      const current: string = path;
      const got = await this.getCapped(
        {
          path: current,
          headers: { accept: MediaType.ImageIndex },
          scopes: [pullScope(repository)],
          what,
        },
        MAX_MANIFEST_BYTES,
        `${what} on ${this.registry}`,
      );
      if (got === undefined) {
        if (page === 0) return undefined;
        throw new RegistryError(
          'E_REGISTRY',
          `${this.registry}: page ${page + 1} of ${what} vanished (HTTP 404)`,
          { registry: this.registry },
        );
      }
      const { headers, bytes } = got;
      const r = ImageIndexSchema.safeParse(safeJson(bytes));
      if (!r.success) {
        throw new RegistryError(
          'E_REGISTRY',
          `${this.registry} answered ${what} with something that is not an image index`,
          {
            registry: this.registry,
          },
        );
      }
      manifests.push(...r.data.manifests);
      const applied = (headers.get('oci-filters-applied') ?? '').split(',').map((s) => s.trim());
      if (page === 0 && applied.includes('artifactType')) filtered = true;
      path = nextLink(headers.get('link'), this.transport.resolve(current));
    }
    const wanted = options.artifactType;
    return {
      manifests:
        wanted === undefined || filtered
          ? manifests
          : manifests.filter((d) => d.artifactType === wanted),
      filtered: true,
    };
  }

  /** HEAD a blob: its size, or undefined when the repository does not have it. */
  async blobSize(repository: string, digest: Digest): Promise<number | undefined> {
    const headers = await this.head({
      path: `/v2/${repository}/blobs/${digest}`,
      scopes: [pullScope(repository)],
      what: `blob ${digest} in ${repository}`,
    });
    if (headers === undefined) return undefined;
    const length = headers.get('content-length');
    return length === null ? -1 : Number(length);
  }

  /** GET a body whole, at most `limit` bytes (E_TOO_LARGE names it `bodyWhat`); undefined on 404. */
  private async getCapped(
    request: Omit<RegistryRequest, 'method' | 'expect'>,
    limit: number,
    bodyWhat: string,
  ): Promise<{ headers: ResponseHeaders; bytes: Buffer } | undefined> {
    return this.transport.exchange(
      { ...request, method: 'GET', expect: [200, 404] },
      async (res) => {
        if (res.status === 404) {
          await res.body?.cancel();
          return undefined;
        }
        return { headers: res.headers, bytes: await readCapped(res, limit, bodyWhat) };
      },
    );
  }

  /** HEAD: the response headers, or undefined on 404 (the body, if any, is discarded). */
  private async head(
    request: Omit<RegistryRequest, 'method' | 'expect'>,
  ): Promise<ResponseHeaders | undefined> {
    const res = await this.transport.request({ ...request, method: 'HEAD', expect: [200, 404] });
    await res.body?.cancel();
    return res.status === 404 ? undefined : res.headers;
  }

  private verifyManifestDigest(
    bytes: Buffer,
    reference: string,
    headers: ResponseHeaders,
    what: string,
  ): Digest {
    const requested = tryParseDigest(reference);
    const headerValue = headers.get('docker-content-digest');
    const claimed = headerValue === null ? undefined : headerValue.trim();
    for (const expected of [requested, claimed]) {
      if (expected === undefined) continue;
      const alg = expected.slice(0, expected.indexOf(':'));
      if (!isSupportedAlgorithm(alg)) continue; // an algorithm we cannot compute is not evidence
      const found = digestOf(bytes, alg);
      if (found !== expected) {
        throw new IntegrityError(
          'E_DIGEST_MISMATCH',
          `${what} on ${this.registry}: ${expected === requested ? 'requested' : 'Docker-Content-Digest'} ${expected}, but the bytes received hash to ${found}`,
          { registry: this.registry, expected, found },
          {
            hint: 'the registry or a proxy in between served other content; do not trust this copy',
          },
        );
      }
    }
    if (requested !== undefined) return requested;
    if (claimed !== undefined) {
      const d = tryParseDigest(claimed);
      if (d !== undefined) return d;
    }
    return digestOf(bytes);
  }
}

function refSuffix(reference: string): string {
  return tryParseDigest(reference) !== undefined ? `@${reference}` : `:${reference}`;
}

function safeJson(bytes: Buffer): unknown {
  try {
    return JSON.parse(bytes.toString('utf8')) as unknown;
  } catch {
    return undefined;
  }
}

/** `application/vnd.oci.image.index.v1+json; charset=utf-8` → the bare media type. */
function mediaTypeOf(contentType: string | null): string | undefined {
  if (contentType === null) return undefined;
  const mt = contentType.split(';')[0]!.trim();
  return mt === '' || mt === 'application/json' || mt === 'text/plain' ? undefined : mt;
}

/** The `rel="next"` target of a Link header, resolved against the request URL. */
export function nextLink(link: string | null, base: URL): string | undefined {
  if (link === null) return undefined;
  for (const part of link.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>\s*;(.*)$/.exec(part);
    if (m === null) continue;
    if (/(?:^|;)\s*rel\s*=\s*"?(?:[^"]*\s)?next(?:\s[^"]*)?"?\s*(?:;|$)/i.test(m[2]!)) {
      const url = new URL(m[1]!, base);
      return url.origin === base.origin ? `${url.pathname}${url.search}` : url.toString();
    }
  }
  return undefined;
}

/** Read a response body whole, refusing more than `limit` bytes (E_TOO_LARGE) before reading it all. */
async function readCapped(res: RegistryResponse, limit: number, what: string): Promise<Buffer> {
  const declared = res.headers.get('content-length');
  const tooLarge = (size: number, exact: boolean): UnsafeInputError =>
    new UnsafeInputError(
      'E_TOO_LARGE',
      `${what} is ${exact ? '' : 'more than '}${size} bytes, over the ${limit}-byte limit`,
      { what, size, limit },
      {
        hint: 'distribution-spec only requires 4 MiB manifests; this one is refused to bound memory',
      },
    );
  if (declared !== null && Number(declared) > limit) {
    await res.body?.cancel();
    throw tooLarge(Number(declared), true);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  if (res.body === null) return Buffer.alloc(0);
  // Leaving the loop early (over the limit) cancels the stream and frees the connection.
  for await (const value of bodyChunks(res)) {
    size += value.byteLength;
    if (size > limit) throw tooLarge(limit, false);
    chunks.push(value);
  }
  return Buffer.concat(chunks);
}

/** A registry's 400 for a manifest whose config, layer or child it cannot find (or verify). */
function namesUnknownChild(err: unknown): boolean {
  if (!(err instanceof RegistryError) || err.details['status'] !== 400) return false;
  const codes = err.details['errors'];
  return (
    Array.isArray(codes) && codes.some((c) => c === 'MANIFEST_BLOB_UNKNOWN' || c === 'BLOB_UNKNOWN')
  );
}
