#!/usr/bin/env node
// craft-referrer-layout.mjs SRC DEST CONVENTION [SUBJECT_TAG] [--tag-artifact NAME]
// A copy of the layout SRC with one OCI 1.1 signature artifact added (artifactType, empty config,
// `subject` = the manifest tagged SUBJECT_TAG, default v1), recorded the way one peer family does:
//   fallback    a referrers index tagged sha256-<hex> (distribution-spec fallback tag; regctl)
//   annotation  a referrers index marked org.opencontainers.image.referrer.subject, plus the top-level
//               org.opencontainers.image.referrer.convert flag (image-spec PR #1171; olareg before 2024-03)
//   olareg      the same with the org.olareg.referrer.* keys (olareg today)
//   manifest    the artifact manifest listed untagged in index.json (oras)
//   none        blobs only, listed nowhere (what cosign load leaves; only a blob scan finds it)
// --tag-artifact NAME also lists the artifact under ref.name NAME (so skopeo can address it).
// Plain node:fs, independent of ocilayout. Prints what it made as one JSON line. The documents are
// written in a fixed key order, so a re-run gives the same bytes (testdata/referrers relies on it).
import { createHash } from 'node:crypto';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const MANIFEST = 'application/vnd.oci.image.manifest.v1+json';
const INDEX = 'application/vnd.oci.image.index.v1+json';
const EMPTY = 'application/vnd.oci.empty.v1+json';
const REF_NAME = 'org.opencontainers.image.ref.name';
const SIGNATURE = 'application/vnd.example.signature.v1+json';
export const CONVENTIONS = ['fallback', 'annotation', 'olareg', 'manifest', 'none'];

/**
 * @param {string} src
 * @param {string} dest
 * @param {string} convention
 * @param {{ subjectTag?: string, tagArtifact?: string }} [options]
 */
export function craftReferrerLayout(src, dest, convention, options = {}) {
  const subjectTag = options.subjectTag ?? 'v1';
  if (!CONVENTIONS.includes(convention)) throw new Error(`unknown convention ${convention}`);
  rmSync(dest, { recursive: true, force: true });
  cpSync(src, dest, { recursive: true });

  /** Stores bytes as a blob; returns digest and size. */
  const store = (text) => {
    const bytes = Buffer.from(text);
    const hex = createHash('sha256').update(bytes).digest('hex');
    const file = join(dest, 'blobs', 'sha256', hex);
    mkdirSync(join(dest, 'blobs', 'sha256'), { recursive: true });
    if (!existsSync(file)) writeFileSync(file, bytes);
    return { digest: `sha256:${hex}`, size: bytes.length };
  };

  const indexFile = join(dest, 'index.json');
  const index = JSON.parse(readFileSync(indexFile, 'utf8'));
  const tagged = index.manifests.find((d) => d.annotations?.[REF_NAME] === subjectTag);
  if (tagged === undefined) throw new Error(`no entry tagged ${subjectTag} in ${src}/index.json`);
  const subject = { mediaType: tagged.mediaType, digest: tagged.digest, size: tagged.size };

  const config = { mediaType: EMPTY, ...store('{}'), data: 'e30=' };
  const payload = JSON.stringify({
    critical: { image: { 'docker-manifest-digest': subject.digest }, type: 'example signature' },
  });
  const layer = {
    mediaType: 'application/vnd.example.signature.payload.v1+json',
    ...store(payload),
    annotations: { 'org.opencontainers.image.title': 'signature.json' },
  };
  const annotations = { 'org.opencontainers.image.created': '2026-01-01T00:00:00Z' };
  const artifact = store(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MANIFEST,
      artifactType: SIGNATURE,
      config,
      layers: [layer],
      subject,
      annotations,
    }),
  );
  // A referrers response lists the artifact with its artifactType and annotations pulled up.
  const response = () =>
    store(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: INDEX,
        manifests: [{ mediaType: MANIFEST, ...artifact, artifactType: SIGNATURE, annotations }],
      }),
    );
  const flag = (key) => {
    index.annotations = { ...(index.annotations ?? {}), [key]: 'true' };
  };

  let entry = null;
  if (convention === 'fallback') {
    const tag = subject.digest.replace(':', '-');
    entry = { mediaType: INDEX, ...response(), annotations: { [REF_NAME]: tag } };
  } else if (convention === 'annotation') {
    entry = {
      mediaType: INDEX,
      ...response(),
      annotations: { 'org.opencontainers.image.referrer.subject': subject.digest },
    };
    flag('org.opencontainers.image.referrer.convert');
  } else if (convention === 'olareg') {
    entry = {
      mediaType: INDEX,
      ...response(),
      annotations: { 'org.olareg.referrer.subject': subject.digest },
    };
    flag('org.olareg.referrer.convert');
  } else if (convention === 'manifest') {
    entry = { mediaType: MANIFEST, ...artifact, artifactType: SIGNATURE };
  }
  if (entry !== null) index.manifests.push(entry);
  if (options.tagArtifact !== undefined) {
    index.manifests.push({
      mediaType: MANIFEST,
      ...artifact,
      artifactType: SIGNATURE,
      annotations: { [REF_NAME]: options.tagArtifact },
    });
  }
  writeFileSync(indexFile, JSON.stringify(index));
  return {
    layout: dest,
    convention,
    subject: subject.digest,
    referrer: artifact.digest,
    fallbackTag: subject.digest.replace(':', '-'),
    entry: entry === null ? null : entry.digest,
  };
}

if (process.argv[1] !== undefined && fileURLToPath(import.meta.url) === process.argv[1]) {
  const args = process.argv.slice(2);
  let tagArtifact;
  const at = args.indexOf('--tag-artifact');
  if (at >= 0) [, tagArtifact] = args.splice(at, 2);
  const [src, dest, convention, subjectTag] = args;
  if (src === undefined || dest === undefined || convention === undefined) {
    console.error(
      `usage: craft-referrer-layout.mjs SRC DEST ${CONVENTIONS.join('|')} [SUBJECT_TAG] [--tag-artifact NAME]`,
    );
    process.exit(2);
  }
  try {
    const made = craftReferrerLayout(src, dest, convention, { subjectTag, tagArtifact });
    console.log(JSON.stringify(made));
  } catch (e) {
    console.error(`craft-referrer-layout: ${e.message}`);
    process.exit(e.message.startsWith('unknown convention') ? 2 : 1);
  }
}
