#!/usr/bin/env bash
# make-fixtures.sh — regenerate testdata/referrers/: referrer fixtures in each convention.
#   crafted-{fallback,annotation,olareg,manifest,none}: test/interop/judge/craft-referrer-layout.mjs (the
#     interop judge's own crafting, independent of ocilayout) on testdata/peers/umoci-image (written by
#     umoci 0.4.7), one signature on v1 each.
#   mixed, sha512-subject, stale-fallback, buildkit-oci-artifact: craft-referrers.mjs (this directory).
# expected.json: subject -> referrer digests, as the generators recorded them (never ocilayout's output).
# Usage: testdata/referrers/make-fixtures.sh
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
craft=$here/../../test/interop/judge/craft-referrer-layout.mjs
src="$here/../peers/umoci-image"
for t in node jq; do command -v "$t" >/dev/null || { echo "make-fixtures: missing $t" >&2; exit 2; }; done
tmp=$(mktemp); trap 'rm -f "$tmp"' EXIT
echo '{}' > "$tmp"
for c in fallback annotation olareg manifest none; do
  out=$(node "$craft" "$src" "$here/crafted-$c" "$c" v1)
  rm -f "$here/crafted-$c/README.md"
  printf 'One signature artifact on v1 (umoci-image) stored in convention `%s` by test/interop/judge/craft-referrer-layout.mjs: %s\n\nRegenerate: `testdata/referrers/make-fixtures.sh`.\n' \
    "$c" "$(case $c in fallback) echo 'a `sha256-<hex>` fallback-tag index, as regctl writes it';; annotation) echo 'a referrers response marked `org.opencontainers.image.referrer.subject` (image-spec PR #1171; olareg before 2024-03)';; olareg) echo 'a referrers response marked `org.olareg.referrer.subject` (olareg today)';; manifest) echo 'the referrer listed untagged, as oras writes it';; none) echo 'blobs only, listed nowhere, as cosign load leaves it (needs --scan-blobs)';; esac)" > "$here/crafted-$c/README.md"
  jq --arg n "crafted-$c" --argjson o "$out" '.[$n] = {referrers: {($o.subject): [$o.referrer]}}' "$tmp" > "$tmp.2" && mv "$tmp.2" "$tmp"
done
node "$here/craft-referrers.mjs" "$src" "$here"
jq -s '.[0] * .[1]' "$tmp" "$here/expected-crafted.json" > "$here/expected.json"
rm -f "$here/expected-crafted.json"
echo "wrote $(jq 'keys | length' "$here/expected.json") fixtures to $here"
