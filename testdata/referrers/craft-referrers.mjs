#!/usr/bin/env node
// craft-referrers.mjs SRC OUTDIR — referrer fixtures the peer fixtures do not cover, built from the
// shapes those tools write (read from their source) on top of SRC (testdata/peers/umoci-image, tag v1). Independent of
// ocilayout: it writes files with node:fs only, and records what each fixture holds in
// OUTDIR/expected-crafted.json (subject -> referrer digests, as the writer meant them).
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [src, outDir] = process.argv.slice(2);
if (!src || !outDir) {
  console.error('usage: craft-referrers.mjs SRC_LAYOUT OUTDIR');
  process.exit(2);
}
const MT = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  empty: 'application/vnd.oci.empty.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
};
const REF = 'org.opencontainers.image.ref.name';
const CREATED = 'org.opencontainers.image.created';
const srcIndex = JSON.parse(readFileSync(join(src, 'index.json'), 'utf8'));
const v1 = srcIndex.manifests.find((d) => d.annotations?.[REF] === 'v1');
const image = { mediaType: MT.manifest, digest: v1.digest, size: v1.size };
const expected = {};

const hash = (alg, buf) => `${alg}:${createHash(alg).update(buf).digest('hex')}`;
const desc = (d) => {
  const out = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.annotations) out.annotations = d.annotations;
  if (d.platform) out.platform = d.platform;
  if (d.artifactType) out.artifactType = d.artifactType;
  return out;
};

class Fixture {
  constructor(name, readme) {
    this.name = name;
    this.dir = join(outDir, name);
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });
    cpSync(join(src, 'blobs'), join(this.dir, 'blobs'), { recursive: true });
    writeFileSync(join(this.dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(join(this.dir, 'README.md'), `${readme}\n\nRegenerate: \`testdata/referrers/make-fixtures.sh\`.\n`);
    this.referrers = {};
  }
  blob(content, alg = 'sha256') {
    const buf = Buffer.from(content);
    const digest = hash(alg, buf);
    mkdirSync(join(this.dir, 'blobs', alg), { recursive: true });
    writeFileSync(join(this.dir, 'blobs', alg, digest.split(':')[1]), buf);
    return { digest, size: buf.length };
  }
  /** An OCI 1.1 artifact with an empty config and one layer; returns its referrers-API descriptor. */
  artifact(subject, artifactType, note, extra = {}) {
    const empty = { mediaType: MT.empty, ...this.blob('{}'), data: 'e30=' };
    const layer = { mediaType: 'application/octet-stream', ...this.blob(`${this.name} ${note}`) };
    const annotations = { [CREATED]: '2024-01-01T00:00:00Z', 'org.example.note': note };
    const m = { schemaVersion: 2, mediaType: MT.manifest, artifactType, config: empty, layers: [layer], subject: desc(subject), annotations, ...extra };
    const d = { mediaType: MT.manifest, ...this.blob(JSON.stringify(m)), annotations, artifactType };
    (this.referrers[subject.digest] ??= []).push(d.digest);
    return d;
  }
  list(refs) {
    return { mediaType: MT.index, ...this.blob(JSON.stringify({ schemaVersion: 2, mediaType: MT.index, manifests: refs.map(desc) })) };
  }
  finish(manifests, extra = {}) {
    writeFileSync(join(this.dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MT.index, manifests, ...extra }));
    for (const k of Object.keys(this.referrers)) this.referrers[k].sort();
    expected[this.name] = { referrers: this.referrers };
  }
}
const tagged = (d, tag, more = {}) => ({ ...desc({ ...d, annotations: undefined, artifactType: undefined }), annotations: { ...more, [REF]: tag } });

// 1. mixed: the same subject with referrers in all three conventions, one listed twice, and a
//    signature on the SBOM (a referrer of a referrer). What a layout looks like after regctl,
//    olareg (before 2024-03, PR #1171 key), containerd export and oras each wrote into it.
{
  const fx = new Fixture('mixed', 'One subject (v1) with referrers in every convention at once: a regctl fallback-tag index (signature A), an image-spec PR #1171 subject-annotation response as olareg wrote it before 2024-03 (SBOM), a containerd-export entry (signature B, `io.containerd.manifest.subject`), an oras untagged entry listing signature A again, and an oras entry for a signature on the SBOM. Crafted by craft-referrers.mjs from the shapes those writers use.');
  const sigA = fx.artifact(image, 'application/vnd.example.signature.v1+json', 'signature A');
  const sbom = fx.artifact(image, 'application/spdx+json', 'sbom');
  const sigB = fx.artifact(image, 'application/vnd.example.signature.v1+json', 'signature B');
  const sigOnSbom = fx.artifact(sbom, 'application/vnd.example.signature.v1+json', 'signature on sbom');
  fx.finish(
    [
      tagged(image, 'v1', { [CREATED]: '2024-01-01T00:00:00Z' }),
      tagged(fx.list([sigA]), `sha256-${image.digest.slice(7)}`, { [CREATED]: '2024-01-01T00:00:05Z' }),
      { ...fx.list([sbom]), annotations: { 'org.opencontainers.image.referrer.subject': image.digest } },
      { ...desc({ ...sigB, annotations: { 'io.containerd.manifest.subject': image.digest } }) },
      { ...desc({ ...sigA, annotations: { [CREATED]: '2024-01-01T00:00:00Z' } }) },
      { ...desc({ ...sigOnSbom, annotations: { [CREATED]: '2024-01-01T00:00:00Z' } }) },
    ],
    { annotations: {} },
  );
}

// 2. sha512-subject: a sha512 image manifest with two referrers, one in regclient's truncated
//    fallback tag (sha512-<first 64 hex>), one in the untruncated tag oras-go/ggcr write.
{
  const fx = new Fixture('sha512-subject', 'A sha512 image manifest (blobs/sha512/) tagged v512, with one referrer in the truncated fallback tag `sha512-<64 hex>` (distribution-spec main, regclient) and one in the untruncated `sha512-<128 hex>` that oras-go and go-containerregistry build (an invalid tag). Crafted by craft-referrers.mjs.');
  const m = JSON.parse(readFileSync(join(src, 'blobs', 'sha256', image.digest.slice(7)), 'utf8'));
  m.mediaType = MT.manifest;
  const img512 = { mediaType: MT.manifest, ...fx.blob(JSON.stringify(m), 'sha512') };
  const truncated = fx.artifact(img512, 'application/vnd.example.signature.v1+json', 'truncated tag');
  const whole = fx.artifact(img512, 'application/spdx+json', 'untruncated tag');
  const hex = img512.digest.slice(7);
  fx.finish([
    tagged(img512, 'v512'),
    tagged(fx.list([truncated]), `sha512-${hex.slice(0, 64)}`),
    tagged(fx.list([whole]), `sha512-${hex}`),
  ]);
}

// 3. stale-fallback: v1's fallback index also lists a signature of v2 (left behind when a tool
//    re-pointed things without updating the tag). Discovery must not show it under v1.
{
  const fx = new Fixture('stale-fallback', 'Two images; the fallback-tag index of v1 lists a signature of v1 and, stale, a signature whose subject is v2. A correct reader shows each under its own subject. Crafted by craft-referrers.mjs (the failure distribution-spec warns of, and oras-go#1396).');
  const cfg = fx.blob(JSON.stringify({ architecture: 'amd64', os: 'linux', rootfs: { type: 'layers', diff_ids: [] } }));
  const v2 = { mediaType: MT.manifest, ...fx.blob(JSON.stringify({ schemaVersion: 2, mediaType: MT.manifest, config: { mediaType: MT.config, ...cfg }, layers: [] })) };
  const sig1 = fx.artifact(image, 'application/vnd.example.signature.v1+json', 'of v1');
  const sig2 = fx.artifact(v2, 'application/vnd.example.signature.v1+json', 'of v2');
  fx.finish([tagged(image, 'v1'), tagged(v2, 'v2'), tagged(fx.list([sig1, sig2]), `sha256-${image.digest.slice(7)}`)]);
}

// 4. buildkit-oci-artifact: BuildKit since 2026-06 (oci-artifact=true): the attestation manifest
//    inside the image index has artifactType and subject, and the vnd.docker.reference annotations.
{
  const fx = new Fixture('buildkit-oci-artifact', 'BuildKit (since 2026-06, oci-artifact=true) `--output type=oci,tar=false`: an image index tagged v1 listing the amd64 image and its attestation manifest, which has artifactType application/vnd.docker.attestation.manifest.v1+json, a subject, and vnd.docker.reference.* annotations on its index descriptor. Crafted by craft-referrers.mjs from the shape BuildKit writes.');
  const att = fx.artifact(image, 'application/vnd.docker.attestation.manifest.v1+json', 'provenance');
  const idx = fx.list([
    { ...image, platform: { architecture: 'amd64', os: 'linux' } },
    { ...att, annotations: { 'vnd.docker.reference.digest': image.digest, 'vnd.docker.reference.type': 'attestation-manifest' }, artifactType: undefined, platform: { architecture: 'unknown', os: 'unknown' } },
  ]);
  fx.finish([tagged(idx, 'v1', { 'io.containerd.image.name': 'docker.io/library/app:v1' })]);
}

writeFileSync(join(outDir, 'expected-crafted.json'), `${JSON.stringify(expected, null, 2)}\n`);
