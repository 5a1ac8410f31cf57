// References on the command line: `LAYOUT`, `LAYOUT:TAG`, `LAYOUT:FULL/NAME:TAG`, `LAYOUT@DIGEST`,
// and skopeo's transport form `DIR:REF` (split at the first colon). The grammar of names is
// names.ts's; registry references (`docker://…`) are parsed by registry/reference.ts. See
// spec-notes/names.md for why the split works as it does.
import { UsageError } from '../errors.js';
import {
  assertValidTag,
  isDigestName,
  isFullImageName,
  isValidTag,
  registryHostOf,
} from './names.js';
import { matchesDigestGrammar, parseDigest, type Digest } from '../digest.js';

export { assertValidTag, isValidTag } from './names.js';

/** A digest algorithm name in any case, for recognising a mistyped digest after `@`. */
const KNOWN_ALGORITHM = /^(?:sha256|sha384|sha512|blake3)\b/i;

export interface LayoutRef {
  layout: string;
  /** A bare tag (`v1`) or a full image name (`docker.io/library/app:v1`): see names.ts. */
  tag?: string;
  digest?: Digest;
}

/**
 * Split `DIR:NAME`, `DIR:TAG`, `DIR@DIGEST` or `DIR`. A full image name with a `/` and a tag
 * (`DIR:example.com/app:v1`) starts after the first `:` whose rest is such a name; otherwise the
 * last `@` followed by something digest-shaped makes a digest reference, and the last `:` followed
 * by a valid tag a tag reference (so a directory name may itself contain `:`). Throws
 * E_INVALID_REFERENCE / E_INVALID_DIGEST.
 */
export function parseLayoutRef(input: string): LayoutRef {
  if (input === '')
    throw new UsageError('E_INVALID_REFERENCE', 'empty reference', { reference: input });
  const named = splitAtFullName(input);
  if (named !== undefined) return named;
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

/**
 * `DIR:NAME` where NAME is a full image name with a `/` in its repository and a tag: the first `:`
 * whose rest is one. Requiring the `/` and the tag keeps `DIR:v1`, `a:b:v1` (directory `a:b`) and
 * `/data/a:b/layout` (no tag) as they always were; a name without `/` (`app:v1`) is reached through
 * its tag (`DIR:v1`) or the skopeo form `oci:DIR:app:v1`. A rest starting `DIGITS/` is a port.
 */
function splitAtFullName(input: string): LayoutRef | undefined {
  for (let i = input.indexOf(':'); i > 0; i = input.indexOf(':', i + 1)) {
    const rest = input.slice(i + 1);
    // `HOST:5000/repo:tag` is a registry's port, never a layout `HOST` with a name `5000/…`.
    if (/^[0-9]+\//.test(rest)) continue;
    if (rest.includes('/') && isFullImageName(rest))
      return { layout: input.slice(0, i), tag: rest };
    // containerd's digest-only name, only with a registry host in front (`reg.example/app@…`,
    // `localhost:5000/app@…`, as we store them): `/data/a:b/c@sha256:…` stays layout `/data/a:b/c`.
    if (isDigestName(rest) && registryHostOf(rest) !== undefined)
      return { layout: input.slice(0, i), tag: rest };
  }
  return undefined;
}

/**
 * The argument of a skopeo-style transport (`oci:DIR[:REF]`, and so `oci-archive:FILE[:REF]`,
 * `docker-archive:FILE[:REF]`): split at the FIRST `:`, as containers/image does, so REF may be a
 * bare tag or a full name (`oci:lay:docker.io/library/app:v1`) and DIR holds no `:`. `DIR@DIGEST`
 * is a digest reference, as in our plain form. REF is checked as a tag or full name
 * (E_INVALID_TAG); an empty DIR is E_INVALID_REFERENCE.
 */
export function parseTransportRef(arg: string, input = arg): LayoutRef {
  const at = arg.lastIndexOf('@');
  if (at > 0 && matchesDigestGrammar(arg.slice(at + 1)) && !arg.slice(0, at).includes(':'))
    return { layout: arg.slice(0, at), digest: parseDigest(arg.slice(at + 1)) };
  const colon = arg.indexOf(':');
  const layout = colon < 0 ? arg : arg.slice(0, colon);
  if (layout === '') {
    throw new UsageError('E_INVALID_REFERENCE', `${input} names no layout directory`, {
      reference: input,
    });
  }
  if (colon < 0) return { layout };
  const ref = arg.slice(colon + 1);
  if (ref !== '' && (isValidTag(ref) || isFullImageName(ref) || isDigestName(ref)))
    return { layout, tag: ref };
  throw new UsageError(
    'E_INVALID_TAG',
    `${input}: ${JSON.stringify(ref)} is neither a tag nor a full image name REPOSITORY:TAG`,
    { reference: input, tag: ref },
    {
      hint: 'the transport form splits at the first colon: oci:DIR:TAG or oci:DIR:example.com/app:v1',
    },
  );
}

export function formatLayoutRef(ref: LayoutRef): string {
  if (ref.digest !== undefined) return `${ref.layout}@${ref.digest}`;
  if (ref.tag !== undefined) return `${ref.layout}:${ref.tag}`;
  return ref.layout;
}
