#!/usr/bin/env node
// craft-peers.mjs UMOCI_IMAGE_LAYOUT OUTDIR
// Builds the peer fixture layouts we cannot produce with a tool installed here, in the shapes those tools write,
// as read from their source (oras, regctl, olareg, crane, containerd export, cosign save, BuildKit). Each one reuses the
// blobs of the real umoci image (so skopeo/umoci can still read the image) and adds the writer's own shape:
// index.json key order, indentation, trailing newline, annotations, and where it keeps referrers.
// Prints JSON on stdout: { fixture: { writer, readme, tags: {tag: digest}, referrers: {subject: [digest]} } }.
// Deterministic: fixed timestamps, no randomness.
import { createHash } from 'node:crypto';
import { cpSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [src, outDir] = process.argv.slice(2);
if (!src || !outDir) {
  console.error('usage: craft-peers.mjs UMOCI_IMAGE_LAYOUT OUTDIR');
  process.exit(2);
}
const MT = {
  index: 'application/vnd.oci.image.index.v1+json',
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  empty: 'application/vnd.oci.empty.v1+json',
};
const REF = 'org.opencontainers.image.ref.name';
const CREATED = 'org.opencontainers.image.created';
const T0 = '2024-01-01T00:00:00Z';
const T1 = '2024-01-01T00:00:05Z';

const srcIndex = JSON.parse(readFileSync(join(src, 'index.json'), 'utf8'));
const v1 = srcIndex.manifests.find((d) => d.annotations?.[REF] === 'v1');
if (!v1) throw new Error(`${src}: no v1 tag`);
const image = { mediaType: MT.manifest, digest: v1.digest, size: v1.size };
const imageManifest = JSON.parse(readFileSync(join(src, 'blobs', 'sha256', hexOf(v1.digest)), 'utf8'));

function hexOf(digest) {
  return digest.slice('sha256:'.length);
}
const sha256 = (buf) => 'sha256:' + createHash('sha256').update(buf).digest('hex');

/** Key order of a descriptor as Go's image-spec struct marshals it (oras, regclient, olareg, containerd). */
function ociDesc(d) {
  const o = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.urls) o.urls = d.urls;
  if (d.annotations) o.annotations = sortKeys(d.annotations);
  if (d.data) o.data = d.data;
  if (d.platform) o.platform = d.platform;
  if (d.artifactType) o.artifactType = d.artifactType;
  return o;
}
/** go-containerregistry's Descriptor order: mediaType, size, digest, … (crane, cosign). */
function ggcrDesc(d) {
  const o = { mediaType: d.mediaType, size: d.size, digest: d.digest };
  if (d.data) o.data = d.data;
  if (d.annotations) o.annotations = sortKeys(d.annotations);
  if (d.platform) o.platform = d.platform;
  if (d.artifactType) o.artifactType = d.artifactType;
  return o;
}
function sortKeys(obj) {
  return Object.fromEntries(Object.keys(obj).sort().map((k) => [k, obj[k]]));
}

/** A layout being built: copies umoci-image's blobs (not its index.json), writes new blobs. */
class Fixture {
  constructor(name) {
    this.dir = join(outDir, name);
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(join(this.dir, 'blobs', 'sha256'), { recursive: true });
    cpSync(join(src, 'blobs'), join(this.dir, 'blobs'), { recursive: true });
  }
  blob(content) {
    const buf = Buffer.isBuffer(content) ? content : Buffer.from(content);
    const digest = sha256(buf);
    writeFileSync(join(this.dir, 'blobs', 'sha256', hexOf(digest)), buf);
    return { digest, size: buf.length };
  }
  json(value) {
    return this.blob(JSON.stringify(value));
  }
  layoutFile(text = '{"imageLayoutVersion":"1.0.0"}') {
    writeFileSync(join(this.dir, 'oci-layout'), text);
  }
  index(text) {
    writeFileSync(join(this.dir, 'index.json'), text);
  }
}

/** An OCI 1.1 artifact with an empty config and one titled layer, referring to `subject`. */
function artifact(fx, { artifactType, layerType, payload, title, subject, annotations }) {
  const empty = { mediaType: MT.empty, ...fx.blob('{}'), data: 'e30=' };
  const layer = {
    mediaType: layerType,
    ...fx.blob(payload),
    ...(title ? { annotations: { 'org.opencontainers.image.title': title } } : {}),
  };
  const manifest = {
    schemaVersion: 2,
    mediaType: MT.manifest,
    artifactType,
    config: ociDesc(empty),
    layers: [ociDesc(layer)],
    subject: ociDesc(subject),
    annotations: sortKeys(annotations),
  };
  const stored = fx.json(manifest);
  return { mediaType: MT.manifest, ...stored, artifactType, annotations: manifest.annotations };
}
const signature = (fx, subject) =>
  artifact(fx, {
    artifactType: 'application/vnd.example.signature.v1+json',
    layerType: 'application/vnd.example.signature.payload.v1+json',
    payload: JSON.stringify({ critical: { image: { 'docker-manifest-digest': subject.digest } } }),
    title: 'signature.json',
    subject,
    annotations: { [CREATED]: T0 },
  });
const sbom = (fx, subject) =>
  artifact(fx, {
    artifactType: 'application/spdx+json',
    layerType: 'application/spdx+json',
    payload: JSON.stringify({ spdxVersion: 'SPDX-2.3', name: 'peer', packages: [] }),
    title: 'sbom.spdx.json',
    subject,
    annotations: { [CREATED]: T1 },
  });
/** A referrers list (distribution-spec shape): artifactType and annotations pulled up. */
const referrersIndex = (fx, refs) =>
  fx.json({ schemaVersion: 2, mediaType: MT.index, manifests: refs.map(ociDesc) });
const fallbackTag = (digest) => digest.replace(':', '-');

const results = {};
const record = (name, writer, readme, tags, referrers = {}) => {
  results[name] = { writer, readme, tags, referrers };
};

// oras attach --oci-layout: every manifest listed; referrers untagged, artifactType after annotations.
// Compact JSON, no trailing newline (os.WriteFile of json.Marshal).
{
  const fx = new Fixture('oras-style');
  fx.layoutFile();
  const sig = signature(fx, image);
  const sb = sbom(fx, image);
  const entries = [{ ...image, annotations: { [REF]: 'v1' } }, sig, sb].map(ociDesc);
  fx.index(JSON.stringify({ schemaVersion: 2, mediaType: MT.index, manifests: entries }));
  record(
    'oras-style',
    'crafted: oras / oras-go content/oci',
    'Shape of oras (oras-go content/oci) after `oras attach --oci-layout DIR:v1` twice: the image tagged v1, each referrer listed untagged with artifactType (per-manifest convention). Crafted by craft-peers.mjs.',
    { v1: image.digest },
    { [image.digest]: [sig.digest, sb.digest] },
  );
}

// regctl artifact put --subject ocidir://DIR:v1: referrers live only in the sha256-<hex> fallback-tag index;
// every entry gets org.opencontainers.image.created; top-level "annotations":{}.
{
  const fx = new Fixture('regctl-style');
  fx.layoutFile();
  const sig = signature(fx, image);
  const sb = sbom(fx, image);
  const list = referrersIndex(fx, [sig, sb]);
  const entries = [
    { ...image, annotations: { [CREATED]: T0, [REF]: 'v1' } },
    { mediaType: MT.index, ...list, annotations: { [CREATED]: T1, [REF]: fallbackTag(image.digest) } },
  ].map(ociDesc);
  fx.index(
    JSON.stringify({ schemaVersion: 2, mediaType: MT.index, manifests: entries, annotations: {} }),
  );
  record(
    'regctl-style',
    'crafted: regclient / regctl ocidir://',
    'Shape of regclient (`regctl artifact put --subject ocidir://DIR:v1`): referrers only in the fallback-tag index tagged sha256-<hex>; created annotations on every entry; empty top-level annotations. Crafted by craft-peers.mjs.',
    { v1: image.digest, [fallbackTag(image.digest)]: list.digest },
    { [image.digest]: [sig.digest, sb.digest] },
  );
}

// olareg: referrers responses as untagged index entries with a subject annotation, in BOTH spellings
// (org.olareg.* since 2024-03, org.opencontainers.image.* from image-spec PR #1171 before that), both
// "convert" flags, and olareg's own top-level org.olareg.history. json.Encoder: compact + newline.
{
  const fx = new Fixture('olareg-style');
  fx.layoutFile();
  // A second subject: a one-platform image index over the image (olareg serves indexes too).
  const multi = {
    mediaType: MT.index,
    ...fx.json({
      schemaVersion: 2,
      mediaType: MT.index,
      manifests: [ociDesc({ ...image, platform: { architecture: 'amd64', os: 'linux' } })],
    }),
  };
  const sig = signature(fx, image);
  const sb = sbom(fx, multi);
  const sigList = referrersIndex(fx, [sig]);
  const sbList = referrersIndex(fx, [sb]);
  const entries = [
    { ...image, annotations: { [CREATED]: T0, [REF]: 'v1' } },
    { ...multi, annotations: { [CREATED]: T0, [REF]: 'multi' } },
    {
      mediaType: MT.index,
      ...sigList,
      annotations: { [CREATED]: T1, 'org.olareg.referrer.subject': image.digest },
    },
    {
      mediaType: MT.index,
      ...sbList,
      annotations: { [CREATED]: T1, 'org.opencontainers.image.referrer.subject': multi.digest },
    },
  ].map(ociDesc);
  const history = {
    multi: [{ time: T0, descriptor: { mediaType: MT.index, digest: multi.digest, size: multi.size } }],
    v1: [{ time: T0, descriptor: { mediaType: image.mediaType, digest: image.digest, size: image.size } }],
  };
  fx.index(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MT.index,
      manifests: entries,
      annotations: {
        'org.olareg.referrer.convert': 'true',
        'org.opencontainers.image.referrer.convert': 'true',
      },
      'org.olareg.history': history,
    }) + '\n',
  );
  record(
    'olareg-style',
    'crafted: olareg',
    'Shape of olareg: referrers responses as untagged index entries marked with the subject annotation in both spellings (org.olareg.referrer.subject for v1, org.opencontainers.image.referrer.subject for the index tagged multi), both convert flags, and the top-level org.olareg.history. Crafted by craft-peers.mjs.',
    { v1: image.digest, multi: multi.digest },
    { [image.digest]: [sig.digest], [multi.digest]: [sb.digest] },
  );
}

// crane pull --format oci --annotate-ref: full references in ref.name (one with a registry port),
// ggcr key order, json.MarshalIndent with 3 spaces, no trailing newline; ggcr's spaced oci-layout.
{
  const fx = new Fixture('crane-style');
  fx.layoutFile('{\n   "imageLayoutVersion": "1.0.0"\n}');
  const entries = [
    { ...image, annotations: { [REF]: 'example.com/peer/app:v1' } },
    { ...image, annotations: { [REF]: 'localhost:5000/peer/app:latest' } },
  ].map(ggcrDesc);
  fx.index(JSON.stringify({ schemaVersion: 2, mediaType: MT.index, manifests: entries }, null, 3));
  record(
    'crane-style',
    'crafted: crane / go-containerregistry pkg/v1/layout',
    'Shape of crane (`crane pull --format oci --annotate-ref`): full references in ref.name (example.com/peer/app:v1, localhost:5000/peer/app:latest), 3-space indent, ggcr key order (mediaType, size, digest). Crafted by craft-peers.mjs.',
    { v1: image.digest, latest: image.digest },
  );
}

// ctr images export (with a referrers provider), extracted: full name in io.containerd.image.name, tag in
// ref.name; referrers as extra entries with io.containerd.manifest.subject, sorted by digest, after images;
// the docker-load manifest.json beside the layout files.
{
  const fx = new Fixture('containerd-export-style');
  fx.layoutFile();
  const sig = signature(fx, image);
  const sb = sbom(fx, image);
  const named = (name, tag) => ({
    ...image,
    annotations: { 'io.containerd.image.name': name, [REF]: tag },
  });
  const refs = [sig, sb]
    .map((r) => ({
      mediaType: r.mediaType,
      digest: r.digest,
      size: r.size,
      annotations: { 'io.containerd.manifest.subject': image.digest },
      artifactType: r.artifactType,
    }))
    .sort((a, b) => (a.digest < b.digest ? -1 : 1));
  const entries = [
    named('docker.io/library/app:v1', 'v1'),
    named('docker.io/library/app:stable', 'stable'),
    ...refs,
  ].map(ociDesc);
  fx.index(JSON.stringify({ schemaVersion: 2, mediaType: MT.index, manifests: entries }));
  writeFileSync(
    join(fx.dir, 'manifest.json'),
    JSON.stringify([
      {
        Config: `blobs/sha256/${hexOf(imageManifest.config.digest)}`,
        RepoTags: ['app:v1', 'app:stable'],
        Layers: imageManifest.layers.map((l) => `blobs/sha256/${hexOf(l.digest)}`),
      },
    ]),
  );
  record(
    'containerd-export-style',
    'crafted: containerd (ctr images export, extracted)',
    'Shape of an extracted `ctr images export` with referrers: io.containerd.image.name holds the full name and ref.name the tag; referrers are extra entries marked io.containerd.manifest.subject; docker manifest.json beside the layout files. Crafted by craft-peers.mjs.',
    { v1: image.digest, stable: image.digest },
    { [image.digest]: refs.map((r) => r.digest) },
  );
}

// cosign save --dir: no ref.name at all; every entry carries a `kind` annotation (referrers get the same
// kind as images); a legacy .sig image too. ggcr layout: 3-space indent, ggcr key order.
{
  const fx = new Fixture('cosign-save-style');
  fx.layoutFile('{\n   "imageLayoutVersion": "1.0.0"\n}');
  const bundleType = 'application/vnd.dev.sigstore.bundle.v0.3+json';
  const bundle = artifact(fx, {
    artifactType: bundleType,
    layerType: bundleType,
    payload: JSON.stringify({ mediaType: bundleType, messageSignature: { signature: 'c2ln' } }),
    subject: image,
    annotations: {
      [CREATED]: T0,
      'dev.sigstore.bundle.content': 'message-signature',
      'dev.sigstore.bundle.predicateType': 'https://sigstore.dev/cosign/sign/v1',
    },
  });
  // The legacy signature image (what the sha256-<hex>.sig tag names in a registry).
  const simple = fx.blob(
    JSON.stringify({
      critical: {
        identity: { 'docker-reference': 'example.com/peer/app' },
        image: { 'docker-manifest-digest': image.digest },
        type: 'cosign container image signature',
      },
      optional: null,
    }),
  );
  const sigCfg = fx.json({
    architecture: '',
    created: '0001-01-01T00:00:00Z',
    history: [{ created: '0001-01-01T00:00:00Z' }],
    os: '',
    rootfs: { type: 'layers', diff_ids: [simple.digest] },
    config: {},
  });
  const sigImage = {
    mediaType: MT.manifest,
    ...fx.json({
      schemaVersion: 2,
      mediaType: MT.manifest,
      config: ggcrDesc({ mediaType: MT.config, ...sigCfg }),
      layers: [
        ggcrDesc({
          mediaType: 'application/vnd.dev.cosign.simplesigning.v1+json',
          ...simple,
          annotations: { 'dev.cosignproject.cosign/signature': 'c2ln' },
        }),
      ],
    }),
  };
  const kind = (d, k) => ({
    mediaType: d.mediaType,
    digest: d.digest,
    size: d.size,
    annotations: { kind: `dev.cosignproject.cosign/${k}` },
  });
  const entries = [kind(bundle, 'image'), kind(image, 'image'), kind(sigImage, 'sigs')].map(ggcrDesc);
  fx.index(JSON.stringify({ schemaVersion: 2, mediaType: MT.index, manifests: entries }, null, 3));
  record(
    'cosign-save-style',
    'crafted: cosign save (go-containerregistry layout)',
    'Shape of `cosign save --dir`: no ref.name; every entry marked with a `kind` annotation (the sigstore bundle referrer gets the same kind as the image), plus the legacy .sig image; 3-space indent. Crafted by craft-peers.mjs.',
    {},
    { [image.digest]: [bundle.digest] },
  );
}

// buildctl --output type=oci,tar=false,name=docker.io/library/app:v1 with SBOM + provenance attestations:
// one index.json entry (the image index); attestations are manifests INSIDE that index with platform
// unknown/unknown and vnd.docker.reference.* annotations; no subject (oci-artifact=false, the default).
{
  const fx = new Fixture('buildkit-style');
  fx.layoutFile();
  const intoto = (predicateType, predicate) => ({
    mediaType: 'application/vnd.in-toto+json',
    ...fx.blob(
      JSON.stringify({
        _type: 'https://in-toto.io/Statement/v0.1',
        predicateType,
        subject: [{ name: 'pkg:docker/app@v1', digest: { sha256: hexOf(image.digest) } }],
        predicate,
      }),
    ),
    annotations: { 'in-toto.io/predicate-type': predicateType },
  });
  const layers = [
    intoto('https://spdx.dev/Document', { spdxVersion: 'SPDX-2.3', name: 'app' }),
    intoto('https://slsa.dev/provenance/v0.2', { buildType: 'https://mobyproject.org/buildkit@v1' }),
  ];
  const attCfg = fx.json({
    architecture: 'unknown',
    os: 'unknown',
    config: {},
    rootfs: { type: 'layers', diff_ids: layers.map((l) => l.digest) },
  });
  const attestation = {
    mediaType: MT.manifest,
    ...fx.json({
      schemaVersion: 2,
      mediaType: MT.manifest,
      config: ociDesc({ mediaType: MT.config, ...attCfg }),
      layers: layers.map(ociDesc),
    }),
  };
  const imageIndex = {
    mediaType: MT.index,
    ...fx.json({
      schemaVersion: 2,
      mediaType: MT.index,
      manifests: [
        ociDesc({ ...image, platform: { architecture: 'amd64', os: 'linux' } }),
        ociDesc({
          ...attestation,
          annotations: {
            'vnd.docker.reference.digest': image.digest,
            'vnd.docker.reference.type': 'attestation-manifest',
          },
          platform: { architecture: 'unknown', os: 'unknown' },
        }),
      ],
    }),
  };
  const entries = [
    { ...imageIndex, annotations: { 'io.containerd.image.name': 'docker.io/library/app:v1', [REF]: 'v1' } },
  ].map(ociDesc);
  fx.index(JSON.stringify({ schemaVersion: 2, mediaType: MT.index, manifests: entries }));
  record(
    'buildkit-style',
    'crafted: BuildKit (buildctl --output type=oci,tar=false)',
    'Shape of BuildKit `--output type=oci,tar=false,name=docker.io/library/app:v1` with attestations: one entry (an image index) whose children are the amd64 image and an attestation manifest (platform unknown/unknown, vnd.docker.reference.digest/type annotations, no subject). Crafted by craft-peers.mjs.',
    { v1: imageIndex.digest },
    {},
  );
  results['buildkit-style'].attestations = { [image.digest]: [attestation.digest] };
}

process.stdout.write(JSON.stringify(results) + '\n');
