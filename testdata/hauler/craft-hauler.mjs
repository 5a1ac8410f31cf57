#!/usr/bin/env node
// craft-hauler.mjs OUTDIR — hauler content stores, reconstructed from hauler's source (not written by
// hauler, which is not installed here):
//   OUTDIR/v2-store   the shape hauler 2.x writes (pkg/content/oci.go): no oci-layout file, compact
//                     index.json, every entry marked by a `kind` annotation; an image, its cosign
//                     signature, attestation and SBOM, and an OCI 1.1 referrer all share the image's
//                     ref.name and containerd name and differ only by `kind`. Plus a single-platform
//                     image with a signature, a file and a Helm chart (kind dev.hauler/image).
//   OUTDIR/v1-store   the shape hauler 1.x left (cosign save's layout writer + oras): oci-layout,
//                     legacy kinds dev.cosignproject.cosign/*, containerd name docker.io/…, and
//                     duplicate entries for one ref (a stale image digest before the current one).
//   OUTDIR/haul.tar.zst  `hauler store save` of v2-store: the store directory with a docker-save
//                     manifest.json beside index.json (and store.json), tar + zstd (needs the zstd CLI).
//   OUTDIR/expected.json  names → digests and signature → subject links, as this script meant them.
// Signatures are placeholder bytes (the tests check where signatures go, never that they verify).
// node:fs only, deterministic (fixed tar mtimes; zstd -19, no checksum difference between runs).
import { createHash } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const [outDir] = process.argv.slice(2);
if (!outDir) {
  console.error('usage: craft-hauler.mjs OUTDIR');
  process.exit(2);
}
const MT = {
  manifest: 'application/vnd.oci.image.manifest.v1+json',
  index: 'application/vnd.oci.image.index.v1+json',
  dockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  dockerConfig: 'application/vnd.docker.container.image.v1+json',
  dockerLayer: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  config: 'application/vnd.oci.image.config.v1+json',
  layer: 'application/vnd.oci.image.layer.v1.tar',
  simplesigning: 'application/vnd.dev.cosign.simplesigning.v1+json',
  dsse: 'application/vnd.dsse.envelope.v1+json',
  empty: 'application/vnd.oci.empty.v1+json',
};
const REF = 'org.opencontainers.image.ref.name';
const CTR = 'io.containerd.image.name';
const KIND = 'kind';
const ORIGINAL = 'hauler.dev/original-ref';

function makeStore(dir) {
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(join(dir, 'blobs', 'sha256'), { recursive: true });
  const blob = (content) => {
    const buf = Buffer.from(typeof content === 'string' ? content : JSON.stringify(content));
    const digest = `sha256:${createHash('sha256').update(buf).digest('hex')}`;
    writeFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)), buf);
    return { digest, size: buf.length };
  };
  const image = (arch, docker = false) => {
    const layer = { mediaType: docker ? MT.dockerLayer : MT.layer, ...blob(`layer for ${arch}`) };
    const config = {
      mediaType: docker ? MT.dockerConfig : MT.config,
      ...blob({ architecture: arch, os: 'linux', rootfs: { type: 'layers', diff_ids: [layer.digest] } }),
    };
    const mediaType = docker ? MT.dockerManifest : MT.manifest;
    return { mediaType, ...blob({ schemaVersion: 2, mediaType, config, layers: [layer] }), config, layer };
  };
  // cosign's signature image (simplesigning payload, signature in the layer annotation), no subject.
  const signature = (subject, who) => {
    const payload = blob({
      critical: {
        identity: { 'docker-reference': who },
        image: { 'docker-manifest-digest': subject },
        type: 'cosign container image signature',
      },
      optional: null,
    });
    const config = {
      mediaType: MT.config,
      ...blob({ architecture: '', os: '', rootfs: { type: 'layers', diff_ids: [payload.digest] }, config: {} }),
    };
    const sig = Buffer.from(`placeholder signature over ${subject}`).toString('base64');
    const layer = { mediaType: MT.simplesigning, ...payload, annotations: { 'dev.cosignproject.cosign/signature': sig } };
    return { mediaType: MT.manifest, ...blob({ schemaVersion: 2, mediaType: MT.manifest, config, layers: [layer] }) };
  };
  const attestation = (subject) => {
    const envelope = blob({
      payloadType: 'application/vnd.in-toto+json',
      payload: Buffer.from(JSON.stringify({ _type: 'https://in-toto.io/Statement/v0.1', subject: [{ digest: { sha256: subject.slice(7) } }] })).toString('base64'),
      signatures: [{ keyid: '', sig: 'cGxhY2Vob2xkZXI=' }],
    });
    const config = { mediaType: MT.config, ...blob({ architecture: '', os: '', rootfs: { type: 'layers', diff_ids: [envelope.digest] }, config: {} }) };
    const layer = { mediaType: MT.dsse, ...envelope, annotations: { predicateType: 'https://slsa.dev/provenance/v0.2' } };
    return { mediaType: MT.manifest, ...blob({ schemaVersion: 2, mediaType: MT.manifest, config, layers: [layer] }) };
  };
  // cosign attach sbom: the SBOM document as the one layer of an image manifest.
  const sbom = (subject) => {
    const doc = blob({ spdxVersion: 'SPDX-2.3', name: `sbom of ${subject}` });
    const config = { mediaType: MT.config, ...blob({ architecture: '', os: '', rootfs: { type: 'layers', diff_ids: [doc.digest] }, config: {} }) };
    return { mediaType: MT.manifest, ...blob({ schemaVersion: 2, mediaType: MT.manifest, config, layers: [{ mediaType: 'text/spdx+json', ...doc }] }) };
  };
  // An OCI 1.1 referrer (hauler's saveReferrers copies these with their subject).
  const referrer = (subject) => {
    const empty = blob('{}');
    const doc = blob('{"spdxVersion":"SPDX-2.3","name":"oci 1.1 sbom"}');
    return {
      mediaType: MT.manifest,
      ...blob({
        schemaVersion: 2,
        mediaType: MT.manifest,
        artifactType: 'application/spdx+json',
        config: { mediaType: MT.empty, ...empty },
        layers: [{ mediaType: 'application/spdx+json', ...doc }],
        subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
      }),
    };
  };
  return { blob, image, signature, attestation, sbom, referrer };
}

const entry = (d, annotations) => ({ mediaType: d.mediaType, digest: d.digest, size: d.size, annotations });
const names = (ref, full, kind, original) => ({
  [KIND]: kind,
  [REF]: ref,
  ...(full === undefined ? {} : { [CTR]: full }),
  ...(original === undefined ? {} : { [ORIGINAL]: original }),
});
const expected = {};

// ---- v2 store --------------------------------------------------------------------------------
{
  const dir = join(outDir, 'v2-store');
  const s = makeStore(dir);
  const amd = s.image('amd64');
  const arm = s.image('arm64');
  const children = [amd, arm].map((m, i) => ({
    mediaType: m.mediaType,
    digest: m.digest,
    size: m.size,
    platform: { os: 'linux', architecture: i === 0 ? 'amd64' : 'arm64' },
  }));
  const index = { mediaType: MT.index, ...s.blob({ schemaVersion: 2, mediaType: MT.index, manifests: children }) };
  const alpine = ['library/alpine:3.20', 'index.docker.io/library/alpine:3.20'];
  const sig = s.signature(index.digest, 'index.docker.io/library/alpine');
  const att = s.attestation(index.digest);
  const sb = s.sbom(index.digest);
  const ref = s.referrer(index);
  const busybox = s.image('amd64-busybox', true);
  const bbName = ['library/busybox:1.36', 'index.docker.io/library/busybox:1.36'];
  const bbSig = s.signature(busybox.digest, 'index.docker.io/library/busybox');
  // A file: hauler's file config and layer types, titled; named hauler/<name>:latest, no containerd name.
  const fileLayer = s.blob('#!/bin/sh\necho install\n');
  const fileConfig = s.blob('{}');
  const file = {
    mediaType: MT.manifest,
    ...s.blob({
      schemaVersion: 2,
      mediaType: MT.manifest,
      config: { mediaType: 'application/vnd.content.hauler.file.local.config.v1+json', ...fileConfig },
      layers: [{ mediaType: 'application/vnd.content.hauler.file.layer.v1', ...fileLayer, annotations: { 'org.opencontainers.image.title': 'install.sh' } }],
    }),
  };
  const chartLayer = s.blob('placeholder chart tarball');
  const chartConfig = s.blob({ apiVersion: 'v2', name: 'podinfo', version: '6.5.0' });
  const chart = {
    mediaType: MT.manifest,
    ...s.blob({
      schemaVersion: 2,
      mediaType: MT.manifest,
      config: { mediaType: 'application/vnd.cncf.helm.config.v1+json', ...chartConfig },
      layers: [{ mediaType: 'application/vnd.cncf.helm.chart.content.v1.tar+gzip', ...chartLayer }],
    }),
  };
  // Image kinds first, the rest in hauler's (map) order.
  const manifests = [
    entry(index, names(...alpine, 'dev.hauler/imageIndex', alpine[1])),
    entry(busybox, names(...bbName, 'dev.hauler/image', bbName[1])),
    entry(file, names('hauler/install.sh:latest', undefined, 'dev.hauler/image', 'https://get.example.com/install.sh')),
    entry(chart, names('hauler/podinfo:6.5.0', undefined, 'dev.hauler/image', 'oci://ghcr.io/stefanprodan/charts/podinfo')),
    entry(sig, names(...alpine, 'dev.hauler/sigs')),
    entry(ref, names(...alpine, `dev.hauler/referrers/${ref.digest.slice(7)}`)),
    entry(att, names(...alpine, 'dev.hauler/atts')),
    entry(bbSig, names(...bbName, 'dev.hauler/sigs')),
    entry(sb, names(...alpine, 'dev.hauler/sboms')),
  ];
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, mediaType: MT.index, manifests }));
  expected['v2-store'] = {
    names: {
      [alpine[1]]: index.digest,
      [bbName[1]]: busybox.digest,
      'hauler/install.sh:latest': file.digest,
      'hauler/podinfo:6.5.0': chart.digest,
    },
    referrers: {
      [index.digest]: { sigs: [sig.digest], atts: [att.digest], sboms: [sb.digest], referrers: [ref.digest] },
      [busybox.digest]: { sigs: [bbSig.digest] },
    },
  };

  // ---- haul.tar.zst: `hauler store save` of this store --------------------------------------
  // The docker-save manifest.json hauler writes into the store first: one item per platform of an
  // index, one per image; RepoTags the containerd names.
  const dockerItems = [
    ...[amd, arm].map((m) => ({ Config: `blobs/sha256/${m.config.digest.slice(7)}`, RepoTags: [alpine[1]], Layers: [`blobs/sha256/${m.layer.digest.slice(7)}`] })),
    { Config: `blobs/sha256/${busybox.config.digest.slice(7)}`, RepoTags: [bbName[1]], Layers: [`blobs/sha256/${busybox.layer.digest.slice(7)}`] },
  ];
  const files = [
    ['index.json', readFileSync(join(dir, 'index.json'))],
    ...readdirSync(join(dir, 'blobs', 'sha256'))
      .sort()
      .map((h) => [`blobs/sha256/${h}`, readFileSync(join(dir, 'blobs', 'sha256', h))]),
    ['manifest.json', Buffer.from(JSON.stringify(dockerItems))],
    ['store.json', Buffer.from('{"store":"store"}')],
  ];
  const tarPath = join(outDir, 'haul.tar');
  writeFileSync(tarPath, tar(files, ['blobs/', 'blobs/sha256/']));
  rmSync(`${tarPath}.zst`, { force: true });
  execFileSync('zstd', ['-q', '-19', '--rm', tarPath, '-o', `${tarPath}.zst`]);
}

// ---- v1 store --------------------------------------------------------------------------------
{
  const dir = join(outDir, 'v1-store');
  const s = makeStore(dir);
  writeFileSync(join(dir, 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
  const stale = s.image('amd64-old');
  const current = s.image('amd64');
  const sig = s.signature(current.digest, 'docker.io/library/alpine');
  const n = ['library/alpine:3.19', 'docker.io/library/alpine:3.19'];
  const manifests = [
    entry(stale, names(...n, 'dev.cosignproject.cosign/image')),
    entry(current, names(...n, 'dev.cosignproject.cosign/image')),
    entry(sig, names(...n, 'dev.cosignproject.cosign/sigs')),
  ];
  // v1 (go-containerregistry's writer) omits the index mediaType.
  writeFileSync(join(dir, 'index.json'), JSON.stringify({ schemaVersion: 2, manifests }));
  expected['v1-store'] = {
    names: { [n[1]]: current.digest },
    stale: stale.digest,
    referrers: { [current.digest]: { sigs: [sig.digest] } },
  };
}
writeFileSync(join(outDir, 'expected.json'), `${JSON.stringify(expected, null, 2)}\n`);

/** A ustar archive of `files` ([path, bytes]) with directories `dirs`, fixed mtime and owner. */
function tar(files, dirs) {
  const header = (name, size, type) => {
    const h = Buffer.alloc(512);
    h.write(name, 0, 100, 'utf8');
    h.write(type === '5' ? '0000755\0' : '0000644\0', 100);
    h.write('0000000\0', 108);
    h.write('0000000\0', 116);
    h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
    h.write(`${(1700000000).toString(8).padStart(11, '0')}\0`, 136);
    h.write('        ', 148);
    h.write(type, 156);
    h.write('ustar\u000000', 257);
    let sum = 0;
    for (const b of h) sum += b;
    h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
    return h;
  };
  const parts = [];
  for (const d of dirs) parts.push(header(d, 0, '5'));
  for (const [name, bytes] of files) {
    parts.push(header(name, bytes.length, '0'), bytes, Buffer.alloc((512 - (bytes.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return Buffer.concat(parts);
}
