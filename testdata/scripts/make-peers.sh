#!/usr/bin/env bash
# make-peers.sh — regenerate testdata/peers/: small OCI layouts in the shapes other tools write.
#   real (written by the tools themselves): umoci-image, umoci-multitag (umoci 0.4.7), skopeo-layout (skopeo 1.9.3)
#   crafted (by craft-peers.mjs, from the shapes those tools write, reusing umoci-image's blobs):
#     oras-style, regctl-style, olareg-style, crane-style, containerd-export-style, cosign-save-style, buildkit-style
# Also writes testdata/peers/expected.json: per fixture, tag -> manifest digest as the writer recorded it, and the
# referrers it holds. Tests compare ocilayout against that file, never against ocilayout's own output.
# Deterministic: fixed file mtimes and --created/--history.created, so a re-run on amd64 gives identical bytes.
# Usage: testdata/scripts/make-peers.sh [OUTDIR]   (default: testdata/peers next to this script)
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${1:-$here/../peers}
for t in umoci skopeo jq node; do command -v "$t" >/dev/null || { echo "make-peers: missing $t (apt-get install -y skopeo umoci jq)" >&2; exit 2; }; done
mkdir -p "$out"; out=$(cd "$out" && pwd)
work=$(mktemp -d /tmp/make-peers.XXXXXX); trap 'rm -rf "$work"' EXIT
q() { "$@" > /dev/null; }
T=2024-01-01T00:00:00Z
H=(--history.created "$T")

# Tiny, fixed content: a text file, a symlink, an executable; mtimes pinned so the gzip layers are reproducible.
S="$work/src"; mkdir -p "$S/l1/peer" "$S/l2/bin" "$S/l3"
printf 'hello from layer 1\n' > "$S/l1/peer/hello.txt"; ln -s hello.txt "$S/l1/peer/link"
printf '#!/bin/sh\necho peer\n' > "$S/l2/bin/run.sh"; chmod 0755 "$S/l2/bin/run.sh"
printf 'v2\n' > "$S/l3/version"
find "$S" -exec touch -h -d @1700000000 {} +

# 1. umoci-image: one image (2 gzip layers), tags v1 and latest; gc'd.
L="$work/umoci-image"
q umoci init --layout "$L"
q umoci new --image "$L:v1"
q umoci insert "${H[@]}" --image "$L:v1" "$S/l1" /etc
q umoci insert "${H[@]}" --image "$L:v1" "$S/l2" /app
q umoci config "${H[@]}" --image "$L:v1" --created "$T" --architecture amd64 --os linux \
  --config.cmd /app/bin/run.sh --config.env PEER=umoci --config.label org.example.peer=umoci --author interop
q umoci tag --image "$L:v1" latest
q umoci gc --layout "$L"

# 2. umoci-multitag: v1, v2 (distinct), latest -> v2, stable -> v1, and an arm64 image "arm".
M="$work/umoci-multitag"; cp -a "$L" "$M"
q umoci new --image "$M:v2"
q umoci insert "${H[@]}" --image "$M:v2" "$S/l3" /etc
q umoci config "${H[@]}" --image "$M:v2" --created "$T" --architecture amd64 --os linux --config.cmd /bin/true --author interop
q umoci rm --image "$M:latest"
q umoci tag --image "$M:v2" latest
q umoci tag --image "$M:v1" stable
q umoci new --image "$M:arm"
q umoci insert "${H[@]}" --image "$M:arm" "$S/l3" /etc
q umoci config "${H[@]}" --image "$M:arm" --created "$T" --architecture arm64 --os linux --author interop
q umoci gc --layout "$M"

# 3. skopeo-layout: skopeo copies of umoci-image v1 under a bare tag, a second tag, and a full reference
#    (skopeo stores the name verbatim, as podman save does).
K="$work/skopeo-layout"
q skopeo --insecure-policy copy -q "oci:$L:v1" "oci:$K:v1"
q skopeo --insecure-policy copy -q "oci:$L:v1" "oci:$K:v1-copy"
q skopeo --insecure-policy copy -q "oci:$L:v1" "oci:$K:example.com/peer/app:2.0"

# 4. crafted shapes, reusing umoci-image's blobs
node "$here/craft-peers.mjs" "$L" "$work" > "$work/crafted.json"

# 5. install into OUTDIR (only the fixture dirs we own; a README line in each)
readme() { printf '%s\n\nRegenerate: `testdata/scripts/make-peers.sh` (see testdata/README.md).\n' "$2" > "$out/$1/README.md"; }
for d in umoci-image umoci-multitag skopeo-layout oras-style regctl-style olareg-style crane-style containerd-export-style cosign-save-style buildkit-style; do
  rm -rf "${out:?}/$d"; cp -a "$work/$d" "$out/$d"
  find "$out/$d" -type f -exec chmod 0644 {} +; find "$out/$d" -type d -exec chmod 0755 {} +
done
readme umoci-image 'Written by umoci 0.4.7 (real): `umoci init/new/insert/config/tag`, then `umoci gc`. Manifests without `mediaType`, compact index.json with a newline, tags v1 and latest on one image.'
readme umoci-multitag 'Written by umoci 0.4.7 (real): images v1, v2 and arm (arm64); aliases latest -> v2 and stable -> v1; `umoci rm` + `umoci tag` moved latest.'
readme skopeo-layout 'Written by skopeo 1.9.3 (real): `skopeo copy oci:umoci-image:v1 oci:DIR:NAME` for v1, v1-copy and the full reference example.com/peer/app:2.0; index.json has no mediaType.'
jq -r 'to_entries[] | select(.value.writer|startswith("crafted")) | "\(.key)\t\(.value.readme)"' "$work/crafted.json" |
  while IFS=$'\t' read -r d line; do readme "$d" "$line"; done

# 6. expected.json: what each writer recorded (tag -> digest), read with jq from the files the writers produced
tagsOf() { jq -c '[.manifests[] | (.annotations // {})["org.opencontainers.image.ref.name"] as $n | select($n != null)
  | {key: ($n | if test(":[^/:]*$") then sub("^.*:"; "") else . end), value: .digest}] | from_entries' "$1/index.json"; }
{
  printf '{'
  for d in umoci-image umoci-multitag skopeo-layout; do
    w=umoci; [[ $d == skopeo-layout ]] && w=skopeo
    printf '"%s":{"writer":"%s","tags":%s,"referrers":{}},' "$d" "$w" "$(tagsOf "$out/$d")"
  done
  jq -c 'with_entries(.value |= del(.readme)) | to_entries | map("\(.key|tojson):\(.value|tojson)") | join(",")' -r "$work/crafted.json"
  printf '}'
} | jq . > "$out/expected.json"
echo "make-peers: $(jq length "$out/expected.json") fixtures in $out ($(du -sb --apparent-size "$out" | cut -f1) bytes)"
