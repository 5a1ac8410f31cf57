#!/usr/bin/env node
// craft-cosign.mjs OUTDIR — a layout as `cosign sign --recursive` and `cosign attest` leave a
// multi-platform image in a registry, mirrored into an OCI layout with every tag kept (what
// `crane pull --format oci` or `oras copy --to-oci-layout` of each tag gives): tag v1 → an image
// index of linux/amd64 and linux/arm64, and cosign's tag-based signatures `sha256-<hex>.sig` of
// the index and of each platform manifest, an attestation `sha256-<hex>.att` of the index, and an
// attestation and an SBOM (`cosign attach sbom`, SPDX JSON) of the first platform manifest.
// Shapes follow cosign's source (simplesigning payload, `dev.cosignproject.cosign/signature`
// layer annotation, DSSE envelope for attestations). The signatures are fixed placeholder bytes,
// not verifiable ones: the tests check where signatures go, never that they verify.
// Independent of ocilayout (node:fs only) and deterministic. Writes OUTDIR/multi-platform and
// OUTDIR/expected.json (tag -> subject and referrer digests, as this script meant them).
import { createHash } from 'node:crypto';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [outDir] = process.argv.slice(2);
if (!outDir) {
  console.error('usage: craft-cosign.mjs OUTDIR');
  process.exit(2);
}
const MT = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
  simplesigning: 'application/vnd.dev.cosign.simplesigning.v1+json',
  dsse: 'application/vnd.dsse.envelope.v1+json',
};
const REF = 'org.opencontainers.image.ref.name';
const dir = join(outDir, 'multi-platform');
rmSync(dir, { recursive: true, force: true });
mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');

const blob = (content) => {
  const buf = Buffer.from(typeof content === 'string' ? content : JSON.stringify(content));
  const digest = `sha256:${createHash('sha256').update(buf).digest('hex')}`;
  writeFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), buf);
  return { digest, size: buf.length };
};
const tagOf = (digest, kind) => `${digest.replace(':', '-')}.${kind}`;

// The image: one small manifest per platform, under an index.
const platforms = [
  { os: 'linux', architecture: 'amd64' },
  { os: 'linux', architecture: 'arm64', variant: 'v8' },
];
const children = platforms.map((p) => {
  const layer = { mediaType: MT.layer, ...blob(`layer for ${p.architecture}`) };
  const config = {
    mediaType: MT.config,
    ...blob({ architecture: p.architecture, os: p.os, rootfs: { type: 'layers', diff_ids: [layer.digest] } }),
  };
  const m = { mediaType: MT.manifest, ...blob({ schemaVersion: 2, mediaType: MT.manifest, config, layers: [layer] }) };
  return { ...m, platform: p };
});
const index = { mediaType: MT.index, ...blob({ schemaVersion: 2, mediaType: MT.index, manifests: children }) };

// cosign's signature image for one digest: a config naming the payload as its only diff_id, and the
// simplesigning payload as the one layer, the signature in its annotation. No `subject`: the tag is
// the only link.
const signature = (subject) => {
  const payload = blob({
    critical: {
      identity: { 'docker-reference': 'registry.example/app' },
      image: { 'docker-manifest-digest': subject },
      type: 'cosign container image signature',
    },
    optional: null,
  });
  const config = {
    mediaType: MT.config,
    ...blob({
      architecture: '',
      created: '0001-01-01T00:00:00Z',
      history: [{ created: '0001-01-01T00:00:00Z' }],
      os: '',
      rootfs: { type: 'layers', diff_ids: [payload.digest] },
      config: {},
    }),
  };
  const placeholder = Buffer.from(`placeholder signature over ${subject}`).toString('base64');
  const layer = {
    mediaType: MT.simplesigning,
    ...payload,
    annotations: { 'dev.cosignproject.cosign/signature': placeholder },
  };
  return { mediaType: MT.manifest, ...blob({ schemaVersion: 2, mediaType: MT.manifest, config, layers: [layer] }) };
};

// cosign attest: a DSSE envelope of an in-toto statement, the predicate type in an annotation.
const attestation = (subject) => {
  const statement = {
    _type: 'https://in-toto.io/Statement/v0.1',
    predicateType: 'https://slsa.dev/provenance/v0.2',
    subject: [{ name: 'registry.example/app', digest: { sha256: subject.slice(7) } }],
    predicate: { builder: { id: 'https://example.com/builder' } },
  };
  const envelope = blob({
    payloadType: 'application/vnd.in-toto+json',
    payload: Buffer.from(JSON.stringify(statement)).toString('base64'),
    signatures: [{ keyid: '', sig: Buffer.from(`placeholder attestation over ${subject}`).toString('base64') }],
  });
  const config = {
    mediaType: MT.config,
    ...blob({ architecture: '', os: '', rootfs: { type: 'layers', diff_ids: [envelope.digest] }, config: {} }),
  };
  const layer = {
    mediaType: MT.dsse,
    ...envelope,
    annotations: { 'dev.cosignproject.cosign/signature': '', predicateType: 'https://slsa.dev/provenance/v0.2' },
  };
  return { mediaType: MT.manifest, ...blob({ schemaVersion: 2, mediaType: MT.manifest, config, layers: [layer] }) };
};

// cosign attach sbom --type spdxjson: the SBOM itself is the one layer, as the tool found it.
const sbom = (subject) => {
  const doc = blob({
    spdxVersion: 'SPDX-2.3',
    SPDXID: 'SPDXRef-DOCUMENT',
    name: `sbom of ${subject}`,
    packages: [{ SPDXID: 'SPDXRef-Package-app', name: 'app', versionInfo: '1.0.0' }],
  });
  const config = {
    mediaType: MT.config,
    ...blob({ architecture: '', os: '', rootfs: { type: 'layers', diff_ids: [doc.digest] }, config: {} }),
  };
  const layer = { mediaType: 'text/spdx+json', ...doc };
  return { mediaType: MT.manifest, ...blob({ schemaVersion: 2, mediaType: MT.manifest, config, layers: [layer] }) };
};

const entries = [{ ...index, annotations: { [REF]: 'v1' } }];
const tags = {};
const add = (subject, kind, ref) => {
  const tag = tagOf(subject, kind);
  entries.push({ ...ref, annotations: { [REF]: tag } });
  tags[tag] = { subject, referrer: ref.digest };
};
add(index.digest, 'sig', signature(index.digest));
for (const c of children) add(c.digest, 'sig', signature(c.digest));
add(index.digest, 'att', attestation(index.digest));
// Platform level too: an attestation and an SBOM of the first platform manifest.
add(children[0].digest, 'att', attestation(children[0].digest));
add(children[0].digest, 'sbom', sbom(children[0].digest));
writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MT.index, manifests: entries }));

const expected = {
  'multi-platform': {
    index: index.digest,
    platforms: Object.fromEntries(
      children.map((c) => [[c.platform.os, c.platform.architecture, c.platform.variant].filter(Boolean).join('/'), c.digest]),
    ),
    tags,
  },
};
writeFileSync(join(outDir, 'expected.json'), `${JSON.stringify(expected, null, 2)}\n`);
