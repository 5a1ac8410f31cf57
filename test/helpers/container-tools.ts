// Container clients against a registry, beside the engines in test/interop/judge/engines.ts
// (containerd and podman): buildah with its storage in a temp dir (vfs driver), and a small runnable
// image (a real tar layer whose diff_id the config names), built with our own library, since these
// clients check what they store.
import { createHash } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Layout, MediaType } from '../../src/internal.js';
import { attempt, withAuthfile, type ToolResult } from '../interop/judge/engines.js';
import { gz, makeTar } from './make-tar.js';

const sha256 = (b: Uint8Array): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

/**
 * A one-layer linux/amd64 image tagged `tag` in the layout at `dir` (created): a gzip layer with
 * one file, the config's diff_id its uncompressed digest. Returns the manifest digest.
 */
export async function runnableImage(dir: string, tag: string, text = 'hello'): Promise<string> {
  const { layout } = Layout.init(dir);
  const tar = makeTar([
    { name: 'etc/', type: 'dir', mode: 0o755 },
    { name: 'etc/greeting', body: `${text}\n`, mode: 0o644 },
  ]);
  const layer = gz(tar);
  const config = Buffer.from(
    JSON.stringify({
      architecture: 'amd64',
      os: 'linux',
      config: { Cmd: ['/bin/sh'] },
      rootfs: { type: 'layers', diff_ids: [sha256(tar)] },
    }),
  );
  layout.blobs.putBytes(layer);
  layout.blobs.putBytes(config);
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ImageManifest,
      config: { mediaType: MediaType.ImageConfig, digest: sha256(config), size: config.length },
      layers: [{ mediaType: MediaType.LayerGzip, digest: sha256(layer), size: layer.length }],
    }),
  );
  const desc = await layout.putManifest(manifest, { tag });
  return desc.digest;
}

/** buildah with its own storage under `dir` (vfs) and its own login file. */
export function buildahIn(dir: string): (...args: string[]) => ToolResult {
  const root = join(dir, 'buildah-root');
  const runroot = join(dir, 'buildah-run');
  mkdirSync(root, { recursive: true });
  mkdirSync(runroot, { recursive: true });
  const authfile = join(dir, 'buildah-auth.json');
  writeFileSync(authfile, '{"auths":{}}');
  return (...args) =>
    attempt('buildah', [
      '--root',
      root,
      '--runroot',
      runroot,
      '--storage-driver',
      'vfs',
      ...withAuthfile(args, authfile),
    ]);
}
