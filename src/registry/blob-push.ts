// Blob upload to a registry: HEAD first, cross-repository mount, then a monolithic PUT or chunked
// PATCHes that resume from the registry's reported offset; the registry checks the digest we name
// when the upload is closed. Download lives in blob-pull.ts.
import type { Digest } from '../digest.js';
import { IntegrityError, OcilayoutError, RegistryError } from '../errors.js';
import type { BlobOpener, BlobRef } from './blob-pull.js';
import { pullScope, pushScope, type RegistryClient } from './client.js';
import {
  isRetryableNetworkCode,
  isRetryableStatus,
  networkErrorCode,
  withRetry,
  type AttemptOutcome,
} from './retry.js';
import type { RegistryRequest, RegistryResponse, RegistryTransport } from './transport.js';

/** Blobs up to this size go in one PUT; larger ones in PATCH chunks of this size (resumable). */
export const DEFAULT_CHUNK_SIZE = 64 * 1024 * 1024;

export type PushOutcome = 'exists' | 'mounted' | 'uploaded';

export interface PushBlobOptions {
  /** Repositories on the same registry that hold the blob (cross-repository mount). */
  mountFrom?: readonly string[] | undefined;
  /** Monolithic up to this size, chunked above (default 64 MiB). */
  chunkSize?: number | undefined;
  onProgress?: ((sent: number) => void) | undefined;
}

interface UploadState {
  location: string | undefined;
  offset: number;
}

/**
 * Make `blob` exist in `repository`: HEAD, else mount, else upload. Uploads restart or resume
 * after transient failures (bounded by the retry policy). Throws E_DIGEST_MISMATCH when the
 * registry computes another digest than the one named (the source is corrupt), E_NETWORK,
 * E_REGISTRY, E_UNAUTHORIZED.
 */
export async function pushBlob(
  client: RegistryClient,
  repository: string,
  blob: BlobRef,
  open: BlobOpener,
  options: PushBlobOptions = {},
): Promise<PushOutcome> {
  const t = client.transport;
  const existing = await client.blobSize(repository, blob.digest);
  if (existing !== undefined && (existing === blob.size || existing < 0)) return 'exists';
  const state: UploadState = { location: undefined, offset: 0 };
  const candidates = [...new Set(options.mountFrom ?? [])].filter((r) => r !== repository);
  for (const [i, from] of candidates.entries()) {
    let started: Started;
    try {
      started = await startUpload(t, repository, blob, from);
    } catch (err) {
      // A mount is an optimisation: a refusal (no read access to `from`, an odd registry) or a
      // network failure falls back to the upload, which reports its own errors. Anything else (a
      // bug, a lock lost, an abort) is no answer about the mount and must not be hidden.
      if (isMountFallback(err)) continue;
      throw err;
    }
    if (started.mounted) return 'mounted';
    // 202: the registry did not mount and opened an upload session instead. The last one carries
    // the upload; earlier ones are cancelled, as skopeo does, rather than left for the purger.
    if (i < candidates.length - 1) await cancelUpload(t, repository, started.location);
    else state.location = started.location;
  }
  const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
  const what = `upload of blob ${blob.digest} to ${repository}`;
  await withRetry(
    t.retryPolicy,
    async (): Promise<AttemptOutcome<void>> => {
      try {
        state.location ??= (await startUpload(t, repository, blob)).location;
        if (blob.size <= chunkSize) await putMonolithic(t, repository, blob, state, open, options);
        else await uploadChunks(t, repository, blob, state, open, chunkSize, options);
        return { done: true, value: undefined };
      } catch (err) {
        if (!isTransient(err)) throw err;
        // Where does the upload stand? Resume chunked uploads from there; restart the rest.
        const status = blob.size > chunkSize ? await uploadStatus(t, repository, state) : undefined;
        state.location = status?.location;
        state.offset = status?.offset ?? 0;
        return { done: false, error: err };
      }
    },
    ({ attempt, delayMs, error }) =>
      t.reportRetry({
        what,
        attempt,
        delayMs,
        reason: `${error instanceof Error ? error.message : String(error)}; resuming at byte ${state.offset}`,
      }),
  ).catch((err: unknown) => {
    throw t.networkError(err, { what }, t.retryPolicy.attempts);
  });
  return 'uploaded';
}

type Started = { mounted: true; location?: undefined } | { mounted: false; location: string };

/** POST an upload (or a mount): mounted, or the upload URL to send the bytes to. */
async function startUpload(
  t: RegistryTransport,
  repository: string,
  blob: BlobRef,
  mountFrom?: string,
): Promise<Started> {
  const query =
    mountFrom === undefined ? '' : `?mount=${blob.digest}&from=${encodeURIComponent(mountFrom)}`;
  const path = `/v2/${repository}/blobs/uploads/${query}`;
  const scopes = [pushScope(repository)];
  if (mountFrom !== undefined) scopes.push(pullScope(mountFrom));
  const res = await t.request({
    method: 'POST',
    path,
    headers: { 'content-length': '0' },
    scopes,
    expect: [201, 202],
    what:
      mountFrom === undefined
        ? `upload to ${repository}`
        : `mount of ${blob.digest} from ${mountFrom}`,
  });
  await res.body?.cancel();
  if (res.status === 201 && mountFrom !== undefined) {
    // The registry names what it linked: anything but the digest asked for is not our blob.
    const linked = res.headers.get('docker-content-digest');
    if (linked !== null && linked !== blob.digest) {
      throw new RegistryError(
        'E_REGISTRY',
        `mount of ${blob.digest} from ${mountFrom}: the registry linked ${linked}`,
        { status: 201, digest: blob.digest, linked },
      );
    }
    return { mounted: true };
  }
  return { mounted: false, location: locationOf(res, t.resolve(path), `upload to ${repository}`) };
}

/** DELETE an upload session we will not use; best effort (the registry purges stale ones anyway). */
async function cancelUpload(
  t: RegistryTransport,
  repository: string,
  location: string,
): Promise<void> {
  try {
    const res = await t.request({
      method: 'DELETE',
      path: location,
      scopes: [pushScope(repository)],
      expect: [200, 202, 204, 404],
      retry: false,
      what: `cancel of an upload to ${repository}`,
    });
    await res.body?.cancel();
  } catch {
    /* left to the registry's upload purging */
  }
}

async function putMonolithic(
  t: RegistryTransport,
  repository: string,
  blob: BlobRef,
  state: UploadState,
  open: BlobOpener,
  options: PushBlobOptions,
): Promise<void> {
  const url = withDigest(state.location!, blob.digest);
  state.location = undefined; // a failed PUT leaves no usable session: the retry starts anew
  await closeUpload(t, repository, blob, url, {
    headers: { 'content-type': 'application/octet-stream', 'content-length': String(blob.size) },
    body: () => counting(open(0), 0, options.onProgress),
  });
}

/**
 * The PUT that ends an upload session at `path` (`?digest=` already added), with the whole blob
 * (monolithic) or nothing (after PATCHes). Not retried: a failed PUT leaves no session to resume.
 * A 400 DIGEST_INVALID or SIZE_INVALID becomes E_DIGEST_MISMATCH (digestRefused).
 */
async function closeUpload(
  t: RegistryTransport,
  repository: string,
  blob: BlobRef,
  path: string,
  send: Pick<RegistryRequest, 'headers' | 'body'>,
): Promise<void> {
  const res = await t
    .request({
      method: 'PUT',
      path,
      ...send,
      scopes: [pushScope(repository)],
      expect: [201, 204],
      retry: false,
      what: `upload of blob ${blob.digest} to ${repository}`,
    })
    .catch((err: unknown) => {
      throw digestRefused(err, blob, repository);
    });
  await res.body?.cancel();
}

async function uploadChunks(
  t: RegistryTransport,
  repository: string,
  blob: BlobRef,
  state: UploadState,
  open: BlobOpener,
  chunkSize: number,
  options: PushBlobOptions,
): Promise<void> {
  const what = `upload of blob ${blob.digest} to ${repository}`;
  while (state.offset < blob.size) {
    const start = state.offset;
    const length = Math.min(chunkSize, blob.size - start);
    const path = state.location!;
    const res = await t.request({
      method: 'PATCH',
      path,
      headers: {
        'content-type': 'application/octet-stream',
        'content-length': String(length),
        'content-range': `${start}-${start + length - 1}`,
      },
      body: () => counting(take(open(start), length), start, options.onProgress),
      scopes: [pushScope(repository)],
      expect: [202],
      retry: false,
      what,
    });
    await res.body?.cancel();
    state.location = locationOf(res, new URL(path), what);
    state.offset = rangeEnd(res.headers.get('range')) ?? start + length;
  }
  await closeUpload(t, repository, blob, withDigest(state.location!, blob.digest), {
    headers: { 'content-length': '0' },
  });
}

/** GET the upload's status: where to resume, or undefined when the session is gone. */
async function uploadStatus(
  t: RegistryTransport,
  repository: string,
  state: UploadState,
): Promise<UploadState | undefined> {
  if (state.location === undefined) return undefined;
  try {
    const res = await t.request({
      method: 'GET',
      path: state.location,
      scopes: [pushScope(repository)],
      expect: [204, 404],
      retry: false,
      what: `upload status in ${repository}`,
    });
    await res.body?.cancel();
    if (res.status === 404) return undefined;
    const end = rangeEnd(res.headers.get('range'));
    return {
      location: locationOf(res, new URL(state.location), 'upload status'),
      offset: end ?? 0,
    };
  } catch {
    return undefined; // cannot ask: restart the upload
  }
}

/** A mount attempt that failed this way falls back to an upload: the registry's answer, or the network's. */
function isMountFallback(err: unknown): boolean {
  if (err instanceof RegistryError) return true;
  return isRetryableNetworkCode(networkErrorCode(err));
}

function isTransient(err: unknown): boolean {
  if (err instanceof RegistryError) {
    const status = err.details['status'];
    if (err.code === 'E_NETWORK') {
      // A request that already spent its own retries (registry down) is not worth a new round.
      const spent = Number(err.details['attempts'] ?? 1) > 1;
      return !spent && isRetryableNetworkCode(networkErrorCode(err.cause));
    }
    const spent = Number(err.details['attempts'] ?? 1) > 1;
    return !spent && typeof status === 'number' && isRetryableStatus(status);
  }
  if (err instanceof OcilayoutError) return false;
  return isRetryableNetworkCode(networkErrorCode(err));
}

/** A registry that refuses to close an upload under our digest got other bytes: say so plainly. */
function digestRefused(err: unknown, blob: BlobRef, repository: string): unknown {
  if (err instanceof RegistryError && err.details['status'] === 400) {
    const codes = err.details['errors'];
    if (
      Array.isArray(codes) &&
      (codes.includes('DIGEST_INVALID') || codes.includes('SIZE_INVALID'))
    ) {
      return new IntegrityError(
        'E_DIGEST_MISMATCH',
        `the registry refused blob ${blob.digest} for ${repository}: the bytes sent do not hash to that digest (${codes.join(', ')})`,
        { digest: blob.digest, repository },
        { hint: 'the source copy is corrupt; run `ocilayout fsck` on the source layout' },
      );
    }
  }
  return err;
}

/** The Location of an upload response, resolved against the request (it may be relative). */
function locationOf(res: RegistryResponse, requestUrl: URL, what: string): string {
  const loc = res.headers.get('location');
  if (loc === null || loc === '') {
    throw new RegistryError('E_REGISTRY', `${what}: the registry sent no Location header`, {
      status: res.status,
    });
  }
  return new URL(loc, requestUrl).toString();
}

function withDigest(location: string, digest: Digest): string {
  const url = new URL(location);
  url.searchParams.set('digest', digest);
  return url.toString();
}

/** `Range: 0-1023` (inclusive end) → 1024, the next offset to send. */
export function rangeEnd(range: string | null): number | undefined {
  if (range === null) return undefined;
  const m = /^(?:bytes=)?(\d+)-(\d+)$/.exec(range.trim());
  return m === null ? undefined : Number(m[2]) + 1;
}

/** The first `n` bytes of a stream; stops reading (and closes the source) after them. */
export async function* take(
  source: AsyncIterable<Uint8Array>,
  n: number,
): AsyncGenerator<Uint8Array> {
  let left = n;
  if (left <= 0) return;
  for await (const chunk of source) {
    if (chunk.byteLength >= left) {
      yield chunk.subarray(0, left);
      return;
    }
    left -= chunk.byteLength;
    yield chunk;
  }
}

async function* counting(
  source: AsyncIterable<Uint8Array>,
  start: number,
  onProgress: ((sent: number) => void) | undefined,
): AsyncGenerator<Uint8Array> {
  let sent = start;
  for await (const chunk of source) {
    sent += chunk.byteLength;
    onProgress?.(sent);
    yield chunk;
  }
}
