// Recognising referrers fallback tags (distribution-spec "Referrers Tag Schema") by name alone, so tag
// listings can hide them. Building and reading the fallback index lives in referrers/fallback-tag.ts.

/**
 * `sha256-<64 hex>` and `sha512-<64 hex>`: the algorithm, a dash, and the encoded digest truncated to
 * 64 characters, as distribution-spec 1.1 writes them. We also accept the untruncated
 * `sha512-<128 hex>` that oras-go and go-containerregistry produce (an invalid tag, but found in
 * ref.name annotations of their layouts). See spec-notes/cli.md "tags".
 */
const FALLBACK_TAG = /^(?:sha256-[0-9a-f]{64}|sha512-[0-9a-f]{64}(?:[0-9a-f]{64})?)$/;

/** True when `tag` has the shape of a referrers fallback tag (it says nothing of what it points to). */
export function isFallbackTagName(tag: string): boolean {
  return FALLBACK_TAG.test(tag);
}
