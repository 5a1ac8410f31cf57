// Shared by the in-process benchmarks: fixture pieces written through our library, and an
// interleaved timer (ours and the reference alternate in one process, after one warm-up each).
import { randomBytes } from 'node:crypto';
import {
  Annotation,
  Layout,
  MediaType,
  buildArtifactManifest,
  taggedEntry,
} from '../../dist/internal.js';

export function ms(ns) {
  return Number(ns) / 1e6;
}

export function summarize(values) {
  const s = [...values].sort((a, b) => a - b);
  const n = s.length;
  const median = n % 2 === 1 ? s[(n - 1) / 2] : (s[n / 2 - 1] + s[n / 2]) / 2;
  return { median, min: s[0], max: s[n - 1], n };
}

/** Time `fn` once in milliseconds (awaits a promise). */
export async function timeMs(fn) {
  const t0 = process.hrtime.bigint();
  await fn();
  return ms(process.hrtime.bigint() - t0);
}

/**
 * Alternate the named functions `runs` times after one untimed warm-up of each; returns
 * name → summary of milliseconds.
 */
export async function interleave(fns, runs) {
  const samples = Object.fromEntries(Object.keys(fns).map((k) => [k, []]));
  for (const fn of Object.values(fns)) await fn();
  for (let i = 0; i < runs; i++) {
    for (const [k, fn] of Object.entries(fns)) samples[k].push(await timeMs(fn));
  }
  return Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summarize(v)]));
}

/**
 * A layout holding `count` small image manifests, all tagged (`img-<n>`), sharing one config and
 * one 1 KiB layer blob (stored: the layout is complete and fsck-clean). Blobs are written by
 * BlobStore.putBytes (each fsync'd) and listed in ONE index.json commit. Returns the descriptors.
 */
export async function imageLayout(dir, count) {
  const { layout } = Layout.init(dir);
  const layer = layout.blobs.putBytes(randomBytes(1024), {}, { deferDirSync: true });
  const configBytes = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      rootfs: { type: 'layers', diff_ids: [layer.digest] },
    }),
  );
  const config = layout.blobs.putBytes(configBytes, {}, { deferDirSync: true });
  const images = [];
  for (let i = 0; i < count; i++) {
    const manifest = {
      schemaVersion: 2,
      mediaType: MediaType.ImageManifest,
      config: { mediaType: MediaType.ImageConfig, digest: config.digest, size: config.size },
      layers: [{ mediaType: MediaType.Layer, digest: layer.digest, size: layer.size }],
      annotations: { [Annotation.Created]: '2026-01-01T00:00:00Z', 'bench.image': String(i) },
    };
    const stored = layout.blobs.putBytes(
      Buffer.from(JSON.stringify(manifest)),
      {},
      { deferDirSync: true },
    );
    images.push({ mediaType: MediaType.ImageManifest, digest: stored.digest, size: stored.size });
  }
  await layout.updateIndex((index) => {
    images.forEach((d, i) => index.manifests.push(taggedEntry(d, `img-${i}`)));
    return { index, result: undefined };
  });
  return { layout, images };
}

/**
 * `count` referrer manifests (OCI 1.1 artifacts, empty config and layer), referrer k attached to
 * subjects[k % subjects.length]; stored but not yet recorded. Returns the edges to record.
 */
export function referrerManifests(layout, subjects, count) {
  layout.blobs.putBytes(Buffer.from('{}'), {}, { deferDirSync: true });
  const edges = [];
  for (let k = 0; k < count; k++) {
    const subject = subjects[k % subjects.length];
    const { bytes } = buildArtifactManifest({
      artifactType: k % 2 === 0 ? 'application/vnd.example.sig' : 'application/spdx+json',
      layers: [],
      subject,
      annotations: { 'bench.referrer': String(k) },
    });
    const stored = layout.blobs.putBytes(bytes, {}, { deferDirSync: true });
    edges.push({
      subject,
      referrer: { mediaType: MediaType.ImageManifest, digest: stored.digest, size: stored.size },
    });
  }
  return edges;
}
