// Small pieces the registry tests share: a retry policy that does not sleep, and an in-memory blob
// source (what a layout or a registry hands pushBlob) with the offsets it was opened at.
import { digestOf, type Digest, type RetryPolicy } from '../../src/internal.js';
import type { BlobOpener } from '../../src/registry/blob-pull.js';
import { DEFAULT_RETRY_POLICY } from '../../src/registry/retry.js';

/** The default policy with `attempts` tries and millisecond back-off (tests never wait). */
export function fastRetry(attempts: number): RetryPolicy {
  return { ...DEFAULT_RETRY_POLICY, attempts, baseDelayMs: 1, maxDelayMs: 2 };
}

/** Serve `data` from any offset in 100 kB chunks; each offset asked for is pushed to `opened`. */
export function opener(data: Buffer, opened: number[] = []): BlobOpener {
  return async function* (offset: number) {
    opened.push(offset);
    await Promise.resolve();
    for (let i = offset; i < data.length; i += 100_000)
      yield data.subarray(i, Math.min(data.length, i + 100_000));
  };
}

export const blobOf = (data: Buffer): { digest: Digest; size: number } => ({
  digest: digestOf(data),
  size: data.length,
});
