// Digests: the image-spec grammar, the algorithms we can verify, and hashing helpers.
// A digest string from outside becomes a `Digest` only through parseDigest(); paths are made in store/paths.ts.
import { createHash, hash, type Hash } from 'node:crypto';
import { UsageError } from './errors.js';

declare const digestBrand: unique symbol;
/** A validated digest of a supported algorithm, e.g. `sha256:<64 hex>`. */
export type Digest = string & { readonly [digestBrand]: true };

export type Algorithm = 'sha256' | 'sha512';

// image-spec descriptor.md: algorithm components [a-z0-9]+ joined by [+._-]; encoded [a-zA-Z0-9=_-]+.
const DIGEST_GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** Registered algorithms we verify, with the encoded form the spec requires (lowercase hex only). */
const ENCODED: Record<Algorithm, RegExp> = {
  sha256: /^[a-f0-9]{64}$/,
  sha512: /^[a-f0-9]{128}$/,
};

export const SUPPORTED_ALGORITHMS: readonly Algorithm[] = ['sha256', 'sha512'];

export function isSupportedAlgorithm(alg: string): alg is Algorithm {
  return Object.hasOwn(ENCODED, alg);
}

/** True when `s` matches the image-spec digest grammar (any algorithm, registered or not). */
export function matchesDigestGrammar(s: string): boolean {
  return DIGEST_GRAMMAR.test(s);
}

/**
 * Validate a digest string. Throws E_INVALID_DIGEST when it does not match the grammar or the
 * algorithm's encoding, E_UNSUPPORTED_ALGORITHM for an algorithm we cannot verify (e.g. blake3).
 */
export function parseDigest(input: string): Digest {
  if (typeof input !== 'string' || !DIGEST_GRAMMAR.test(input)) {
    throw new UsageError(
      'E_INVALID_DIGEST',
      `invalid digest ${JSON.stringify(input)}`,
      { digest: input },
      {
        hint: 'a digest looks like sha256:<64 lowercase hex characters>',
      },
    );
  }
  const colon = input.indexOf(':');
  const alg = input.slice(0, colon);
  const encoded = input.slice(colon + 1);
  if (!isSupportedAlgorithm(alg)) {
    throw new UsageError(
      'E_UNSUPPORTED_ALGORITHM',
      `unsupported digest algorithm "${alg}" in ${input}`,
      { digest: input, algorithm: alg },
      { hint: `supported algorithms: ${SUPPORTED_ALGORITHMS.join(', ')}` },
    );
  }
  if (!ENCODED[alg].test(encoded)) {
    throw new UsageError('E_INVALID_DIGEST', `invalid ${alg} digest ${JSON.stringify(input)}`, {
      digest: input,
    });
  }
  return input as Digest;
}

/** parseDigest that returns undefined instead of throwing. */
export function tryParseDigest(input: unknown): Digest | undefined {
  if (typeof input !== 'string') return undefined;
  try {
    return parseDigest(input);
  } catch {
    return undefined;
  }
}

export function algorithmOf(d: Digest): Algorithm {
  return d.slice(0, d.indexOf(':')) as Algorithm;
}

export function encodedOf(d: Digest): string {
  return d.slice(d.indexOf(':') + 1);
}

export function newHash(alg: Algorithm): Hash {
  return createHash(alg);
}

/**
 * The hex digest of data in memory, in one call: crypto.hash makes no Hash object, which for a
 * small manifest costs more than the hashing (discovery hashes every manifest of a layout).
 */
export function hashHex(alg: Algorithm, data: Uint8Array | string): string {
  return hash(alg, data, 'hex');
}

export function digestOf(data: Uint8Array | string, alg: Algorithm = 'sha256'): Digest {
  return `${alg}:${hashHex(alg, data)}` as Digest;
}

/** Short form for human output: `sha256:0123456789ab`. */
export function shortDigest(d: string, n = 12): string {
  const colon = d.indexOf(':');
  return colon < 0 ? d : d.slice(0, colon + 1 + n);
}
