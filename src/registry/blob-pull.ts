// Blob download from a registry: a resumable GET (Range after a dropped connection) streamed
// straight into BlobStore.put, which hashes and verifies before anything becomes visible, so a
// resumed blob is verified whole like any other. Upload lives in blob-push.ts.
import type { Digest } from '../digest.js';
import { NotFoundError } from '../errors.js';
import type { BlobStore, PutOptions, PutResult } from '../store/blob-store.js';
import { pullScope, type RegistryClient } from './client.js';
import { backoffDelay, isRetryableNetworkCode, networkErrorCode, sleep } from './retry.js';
import { bodyChunks } from './transport.js';

export interface BlobRef {
  digest: Digest;
  size: number;
}

/** Bytes of a blob from `offset` on: a fresh stream per call (a retry reopens it). */
export type BlobOpener = (offset: number) => AsyncIterable<Uint8Array>;

/** Blobs up to this size go in one PUT; larger ones in PATCH chunks of this size (resumable). */
export const DEFAULT_CHUNK_SIZE = 64 * 1024 * 1024;
export interface PullBlobOptions {
  /** Called with the bytes received so far (absolute, so a resume does not double-count). */
  onProgress?: ((received: number) => void) | undefined;
  put?: PutOptions | undefined;
}

/**
 * GET a blob from `repository` into `store`, verified against `blob.digest` and `blob.size`.
 * Idempotent: nothing is requested when the store has the blob. Throws E_NOT_FOUND,
 * E_DIGEST_MISMATCH / E_SIZE_MISMATCH (nothing stored), E_NETWORK after bounded retries.
 */
export function pullBlob(
  client: RegistryClient,
  repository: string,
  blob: BlobRef,
  store: BlobStore,
  options: PullBlobOptions = {},
): Promise<PutResult> {
  const source = openRemoteBlob(client, repository, blob, options.onProgress);
  return store.put(source, { digest: blob.digest, size: blob.size }, options.put);
}

/**
 * The bytes of a remote blob from `offset`, resuming after dropped connections: the next GET asks
 * for `Range: bytes=N-`; a server that ignores Range sends everything and we skip what we have.
 * Lazy: no request until the first chunk is wanted.
 */
export async function* openRemoteBlob(
  client: RegistryClient,
  repository: string,
  blob: BlobRef,
  onProgress?: (received: number) => void,
  offset = 0,
): AsyncGenerator<Uint8Array> {
  const t = client.transport;
  const what = `blob ${blob.digest} in ${repository}`;
  let received = offset;
  for (let restart = 0; ; restart++) {
    const res = await t.request({
      method: 'GET',
      path: `/v2/${repository}/blobs/${blob.digest}`,
      headers: received > 0 ? { range: `bytes=${received}-` } : {},
      scopes: [pullScope(repository)],
      expect: [200, 206, 404, 416],
      what,
    });
    if (res.status === 404) {
      await res.body?.cancel();
      throw new NotFoundError('E_NOT_FOUND', `${what} not found on ${client.registry}`, {
        registry: client.registry,
        repository,
        digest: blob.digest,
      });
    }
    if (res.status === 416) {
      await res.body?.cancel();
      return; // we asked from the end: nothing more (the store checks the size)
    }
    let skip = res.status === 200 ? received : 0;
    try {
      for await (const chunk of bodyChunks(res)) {
        let c = chunk;
        if (skip > 0) {
          if (c.byteLength <= skip) {
            skip -= c.byteLength;
            continue;
          }
          c = c.subarray(skip);
          skip = 0;
        }
        received += c.byteLength;
        onProgress?.(received);
        yield c;
      }
      return;
    } catch (err) {
      const code = networkErrorCode(err);
      if (!isRetryableNetworkCode(code) || restart + 1 >= t.retryPolicy.attempts) {
        throw t.networkError(err, { what }, restart + 1);
      }
      const delayMs = backoffDelay(t.retryPolicy, restart + 1);
      t.reportRetry({
        what,
        attempt: restart + 1,
        delayMs,
        reason: `${code} after ${received} bytes`,
      });
      await (t.retryPolicy.sleep ?? sleep)(delayMs);
    }
  }
}
