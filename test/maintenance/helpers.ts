// Shared fixtures for gc/fsck tests: names owned by a dead process, and a small image pushed the
// way our writers push it.
import { spawnSync } from 'node:child_process';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { buildArtifactManifest, fileLayer } from '../../src/artifact/manifest.js';
import type { Layout } from '../../src/layout/layout.js';
import type { Descriptor } from '../../src/schema/descriptor.js';
import { releaseLease } from '../../src/store/ingest.js';
import { ownerToken } from '../../src/store/liveness.js';

/** A pid that ran and exited, so `ownerLiveness` says 'dead' (start time 1 also mismatches reuse). */
export function deadOwnerToken(): string {
  deadPid ??= spawnSync(process.execPath, ['-e', '0']).pid;
  const host = ownerToken().split('.')[0]!;
  return `${host}.${deadPid}.1`;
}
let deadPid: number | undefined;

/** Write a file in ingest/ named as a dead process's `.part`/`.lease`/`.trash` would be. */
export function deadIngestFile(root: string, suffix: string, content = 'partial'): string {
  mkdirSync(join(root, 'ingest'), { recursive: true });
  const name = `${deadOwnerToken()}.0123456789ab${suffix}`;
  writeFileSync(join(root, 'ingest', name), content);
  return `ingest/${name}`;
}

export interface PushedImage {
  manifest: Descriptor;
  layers: Descriptor[];
  config: Descriptor;
}

/**
 * Store an artifact (one layer per text) and tag it (or list it untagged), as `push` would. The
 * process's lease is released afterwards, as when a CLI process exits.
 */
export async function pushImage(
  layout: Layout,
  texts: string[],
  options: { tag?: string; subject?: Descriptor; unlisted?: boolean } = {},
): Promise<PushedImage> {
  const layers = texts.map((t, i) => {
    const stored = layout.blobs.putBytes(Buffer.from(t));
    return fileLayer(stored, 'application/vnd.example.layer', `f${i}.txt`);
  });
  const config = {
    mediaType: 'application/vnd.oci.empty.v1+json',
    digest: layout.blobs.putBytes(Buffer.from('{}')).digest,
    size: 2,
  };
  const { bytes } = buildArtifactManifest({
    artifactType: 'application/vnd.example',
    layers,
    subject: options.subject,
  });
  const manifest = await layout.putManifest(bytes, {
    tag: options.tag,
    unlisted: options.unlisted,
  });
  releaseLease(layout.root);
  return { manifest, layers, config };
}
