// The distribution-spec grammar of what a request names: repositories, references (tag or
// digest) and the `n`/`last` paging of listings. Everything a URL carries passes through here
// before it can name a file: a repository name that matches the grammar has no `.`/`..`
// component, no empty component and no absolute form, so it cannot leave the served root.
import { matchesDigestGrammar, parseDigest, type Digest } from '../digest.js';
import { isValidTag } from '../layout/refs.js';
import { RegistryHttpError } from './http-errors.js';

/**
 * distribution-spec `<name>`: path components of lowercase alphanumerics joined by `.`, `_`,
 * `__` or runs of `-`, separated by `/`.
 */
const NAME_GRAMMAR =
  /^[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*(?:\/[a-z0-9]+(?:(?:\.|_|__|-+)[a-z0-9]+)*)*$/;

/** Repository names longer than this are refused (the spec suggests clients keep to 255). */
export const MAX_NAME_LENGTH = 255;

export function isValidRepositoryName(name: string): boolean {
  return name.length <= MAX_NAME_LENGTH && NAME_GRAMMAR.test(name);
}

/** Throws NAME_INVALID (400) unless `name` matches the grammar. */
export function assertRepositoryName(name: string): string {
  if (!isValidRepositoryName(name)) {
    throw new RegistryHttpError(400, 'NAME_INVALID', `invalid repository name`, { name });
  }
  return name;
}

/** A manifest reference from a URL: a tag or a digest. */
export type Reference = { tag: string; digest?: undefined } | { digest: Digest; tag?: undefined };

/**
 * Split a `<reference>` path segment. Something digest-shaped must be a valid digest of an
 * algorithm we verify (DIGEST_INVALID otherwise), anything else a valid tag (`what` decides the
 * code: a PUT with a malformed tag is MANIFEST_INVALID, a read of one MANIFEST_UNKNOWN).
 */
export function parseReference(ref: string, forWrite: boolean): Reference {
  if (ref.includes(':')) {
    if (!matchesDigestGrammar(ref)) {
      throw new RegistryHttpError(400, 'DIGEST_INVALID', 'invalid digest', { reference: ref });
    }
    return { digest: requestDigest(ref) };
  }
  if (!isValidTag(ref)) {
    throw forWrite
      ? new RegistryHttpError(400, 'MANIFEST_INVALID', 'invalid tag', { reference: ref })
      : new RegistryHttpError(404, 'MANIFEST_UNKNOWN', 'manifest unknown', { reference: ref });
  }
  return { tag: ref };
}

/** A digest from a URL path or query. Throws DIGEST_INVALID (400), also for an unverifiable algorithm. */
export function requestDigest(input: string | null | undefined): Digest {
  try {
    return parseDigest(input ?? '');
  } catch (err) {
    throw new RegistryHttpError(
      400,
      'DIGEST_INVALID',
      'invalid or unsupported digest',
      {
        digest: input ?? null,
      },
      err,
    );
  }
}

export interface Page {
  /** Most entries to return; undefined: all. */
  n: number | undefined;
  /** Return entries lexically after this one. */
  last: string | undefined;
}

/** Listings (tags, catalog) return at most this many entries per page, whatever `n` asks. */
export const MAX_PAGE = 10_000;

/**
 * `n` and `last` of a listing request. `n` must be a non-negative integer; over MAX_PAGE it is
 * lowered to MAX_PAGE (the Link header then leads on). Throws 400 UNSUPPORTED for a malformed `n`.
 */
export function parsePage(query: URLSearchParams): Page {
  const rawN = query.get('n');
  const last = query.get('last') ?? undefined;
  if (rawN === null) return { n: undefined, last };
  if (!/^\d{1,9}$/.test(rawN)) {
    throw new RegistryHttpError(400, 'UNSUPPORTED', 'n must be a non-negative integer', {
      n: rawN,
    });
  }
  return { n: Math.min(Number(rawN), MAX_PAGE), last };
}

/**
 * One page of a sorted list: the entries after `last`, at most `n`; `next` is the `last` of the
 * following page when entries remain.
 */
export function pageOf(sorted: readonly string[], page: Page): { items: string[]; next?: string } {
  const after = page.last === undefined ? sorted : sorted.filter((s) => s > page.last!);
  const n = page.n ?? MAX_PAGE;
  const items = after.slice(0, n);
  if (after.length > n && items.length > 0) return { items, next: items[items.length - 1]! };
  return { items };
}
