// References on the command line: `LAYOUT`, `LAYOUT:TAG`, `LAYOUT@DIGEST`, and the tag grammar.
// Registry references (`docker://…`) are parsed by registry/reference.ts.
import { UsageError } from '../errors.js';
import { matchesDigestGrammar, parseDigest, type Digest } from '../digest.js';

/** distribution-spec tag grammar; we write only tags that match it. */
const TAG_GRAMMAR = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

export function isValidTag(tag: string): boolean {
  return TAG_GRAMMAR.test(tag);
}

/** Throws E_INVALID_TAG unless `tag` matches `[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}`. */
export function assertValidTag(tag: string): string {
  if (!isValidTag(tag)) {
    throw new UsageError(
      'E_INVALID_TAG',
      `invalid tag ${JSON.stringify(tag)}`,
      { tag },
      {
        hint: 'a tag is 1-128 characters of [A-Za-z0-9_.-] and does not start with . or -',
      },
    );
  }
  return tag;
}

/** A digest algorithm name in any case, for recognising a mistyped digest after `@`. */
const KNOWN_ALGORITHM = /^(?:sha256|sha384|sha512|blake3)\b/i;

export interface LayoutRef {
  layout: string;
  tag?: string;
  digest?: Digest;
}

/**
 * Split `DIR:TAG`, `DIR@DIGEST` or `DIR`. The last `@` followed by something digest-shaped makes a
 * digest reference; otherwise the last `:` followed by a valid tag makes a tag reference (so a
 * directory name may itself contain `:`). Throws E_INVALID_REFERENCE / E_INVALID_DIGEST.
 */
export function parseLayoutRef(input: string): LayoutRef {
  if (input === '')
    throw new UsageError('E_INVALID_REFERENCE', 'empty reference', { reference: input });
  const at = input.lastIndexOf('@');
  const afterAt = input.slice(at + 1);
  if (at === 0 && matchesDigestGrammar(afterAt)) {
    throw new UsageError(
      'E_INVALID_REFERENCE',
      `reference ${JSON.stringify(input)} names no layout directory`,
      { reference: input },
      { hint: 'write LAYOUT@sha256:<hex>, e.g. ./out@sha256:…' },
    );
  }
  if (at > 0 && matchesDigestGrammar(afterAt)) {
    return { layout: input.slice(0, at), digest: parseDigest(afterAt) };
  }
  // Looks like an attempted digest that failed the grammar (`@sha256:../x`, `@SHA256:…`): say so
  // rather than reading it as a directory `…@SHA256` with a tag.
  if (at > 0 && (/^[a-z0-9]+[+._-]?[a-z0-9]*:/.test(afterAt) || KNOWN_ALGORITHM.test(afterAt))) {
    parseDigest(afterAt);
  }
  const colon = input.lastIndexOf(':');
  if (colon > 0) {
    const tail = input.slice(colon + 1);
    if (isValidTag(tail)) return { layout: input.slice(0, colon), tag: tail };
    if (!tail.includes('/')) assertValidTag(tail);
  }
  return { layout: input };
}

/** parseLayoutRef, requiring a tag or digest: throws E_INVALID_REFERENCE for a bare LAYOUT. */
export function parseLayoutRefWithTarget(
  input: string,
): LayoutRef & ({ tag: string } | { digest: Digest }) {
  const ref = parseLayoutRef(input);
  if (ref.tag === undefined && ref.digest === undefined) {
    throw new UsageError(
      'E_INVALID_REFERENCE',
      `reference ${JSON.stringify(input)} names no tag or digest`,
      { reference: input },
      {
        hint: 'write LAYOUT:TAG or LAYOUT@sha256:<hex>',
      },
    );
  }
  return ref as LayoutRef & ({ tag: string } | { digest: Digest });
}

export function formatLayoutRef(ref: LayoutRef): string {
  if (ref.digest !== undefined) return `${ref.layout}@${ref.digest}`;
  if (ref.tag !== undefined) return `${ref.layout}:${ref.tag}`;
  return ref.layout;
}
