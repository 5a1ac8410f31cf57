// Real container clients against a registry, without the network or the machine's own stores:
// podman and buildah with their storage in a temp dir (vfs driver), and a containerd of the test's
// own (root, state and socket in a temp dir, CRI plugin off) for ctr. Plus a small runnable image
// (a real tar layer whose diff_id the config names), built with our own library, since these
// clients check what they store.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { Layout, MediaType } from '../../src/internal.js';
import { gz, makeTar } from './make-tar.js';

export interface ToolResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

function run(cmd: string, args: string[], timeoutMs = 120_000): ToolResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
}

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

/** podman with its own storage under `dir` (vfs: works in any container, no overlay mounts). */
export function podmanIn(dir: string): (...args: string[]) => ToolResult {
  const root = join(dir, 'podman-root');
  const runroot = join(dir, 'podman-run');
  mkdirSync(root, { recursive: true });
  mkdirSync(runroot, { recursive: true });
  // Logins go to a file of the test's, not the user's auth.json.
  const authfile = join(dir, 'podman-auth.json');
  writeFileSync(authfile, '{"auths":{}}');
  return (...args) =>
    run('podman', [
      '--root',
      root,
      '--runroot',
      runroot,
      '--storage-driver',
      'vfs',
      '--cgroup-manager',
      'cgroupfs',
      '--events-backend',
      'none',
      ...withAuthfile(args, authfile),
    ]);
}

/** buildah the same way. */
export function buildahIn(dir: string): (...args: string[]) => ToolResult {
  const root = join(dir, 'buildah-root');
  const runroot = join(dir, 'buildah-run');
  mkdirSync(root, { recursive: true });
  mkdirSync(runroot, { recursive: true });
  const authfile = join(dir, 'buildah-auth.json');
  writeFileSync(authfile, '{"auths":{}}');
  return (...args) =>
    run('buildah', [
      '--root',
      root,
      '--runroot',
      runroot,
      '--storage-driver',
      'vfs',
      ...withAuthfile(args, authfile),
    ]);
}

/** Subcommands that read or write credentials get `--authfile` after the subcommand. */
function withAuthfile(args: string[], authfile: string): string[] {
  const takes = new Set(['login', 'logout', 'pull', 'push']);
  const i = args.findIndex((a) => takes.has(a));
  return i < 0 ? args : [...args.slice(0, i + 1), '--authfile', authfile, ...args.slice(i + 1)];
}

/** Whether containerd can be started here (it needs root). */
export function canRunContainerd(): boolean {
  return process.getuid?.() === 0;
}

/**
 * Start a containerd of the test's own under `dir` (stopped when the test ends) and return a ctr
 * runner talking to it.
 */
export async function containerdIn(dir: string): Promise<(...args: string[]) => ToolResult> {
  const root = join(dir, 'containerd-root');
  const state = join(dir, 'containerd-state');
  const socket = join(dir, 'containerd.sock');
  mkdirSync(root, { recursive: true });
  mkdirSync(state, { recursive: true });
  const config = join(dir, 'containerd.toml');
  // No CRI (it wants CNI and a kubelet), no other daemon's paths.
  writeFileSync(
    config,
    [
      'version = 2',
      `root = "${root}"`,
      `state = "${state}"`,
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      '[grpc]',
      `  address = "${socket}"`,
      '[ttrpc]',
      `  address = "${socket}.ttrpc"`,
      '',
    ].join('\n'),
  );
  let log = '';
  const child = spawn('containerd', ['--config', config], { stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout.on('data', (b: Buffer) => (log += b.toString()));
  child.stderr.on('data', (b: Buffer) => (log += b.toString()));
  const exited = new Promise<void>((r) => child.on('close', () => r()));
  onTestFinished(async () => {
    child.kill('SIGTERM');
    await exited;
  });
  for (let i = 0; i < 200 && !existsSync(socket); i++) {
    if (child.exitCode !== null) break;
    await new Promise((r) => setTimeout(r, 50));
  }
  if (!existsSync(socket)) throw new Error(`containerd did not start: ${log.slice(-2000)}`);
  return (...args) => run('ctr', ['--address', socket, '--namespace', 'ocilayout-test', ...args]);
}
