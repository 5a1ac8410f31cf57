// Streams that check size and digest while bytes flow, and capped whole reads for manifests.
import { Transform, type TransformCallback } from 'node:stream';
import type { Hash } from 'node:crypto';
import { algorithmOf, newHash, type Digest } from '../digest.js';
import { IntegrityError } from '../errors.js';

/** Passes bytes through; fails at the end (or as soon as the size is exceeded) on a mismatch. */
export class VerifyingStream extends Transform {
  private readonly hash: Hash;
  private seen = 0;
  constructor(
    private readonly expected: { digest: Digest; size?: number | undefined },
    private readonly what: string,
  ) {
    super({ highWaterMark: 1024 * 1024 });
    this.hash = newHash(algorithmOf(expected.digest));
  }

  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.seen += chunk.byteLength;
    if (this.expected.size !== undefined && this.seen > this.expected.size) {
      cb(sizeMismatch(this.what, this.expected.size, this.seen, true));
      return;
    }
    this.hash.update(chunk);
    cb(null, chunk);
  }

  override _flush(cb: TransformCallback): void {
    if (this.expected.size !== undefined && this.seen !== this.expected.size) {
      cb(sizeMismatch(this.what, this.expected.size, this.seen, false));
      return;
    }
    try {
      checkDigest(this.what, this.expected.digest, this.hash.digest('hex'));
    } catch (err) {
      cb(err as Error);
      return;
    }
    cb();
  }
}

/** The E_SIZE_MISMATCH error for `what` (`atLeast`: the stream was cut off once past `expected`). */
export function sizeMismatch(
  what: string,
  expected: number,
  found: number,
  atLeast: boolean,
): IntegrityError {
  return new IntegrityError(
    'E_SIZE_MISMATCH',
    `${what}: expected ${expected} bytes, got ${atLeast ? 'at least ' : ''}${found}`,
    { what, expected, found },
  );
}

/** Throws E_DIGEST_MISMATCH for `what` unless `hex`, hashed with `expected`'s algorithm, is its. */
export function checkDigest(what: string, expected: Digest, hex: string): void {
  const found = `${algorithmOf(expected)}:${hex}`;
  if (found !== expected) throw digestMismatch(what, expected, found);
}

/** The E_DIGEST_MISMATCH error for `what`. */
export function digestMismatch(what: string, expected: string, found: string): IntegrityError {
  return new IntegrityError(
    'E_DIGEST_MISMATCH',
    `${what}: expected digest ${expected}, content hashes to ${found}`,
    {
      what,
      expected,
      found,
    },
  );
}
