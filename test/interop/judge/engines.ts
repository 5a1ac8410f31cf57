// Real container engines for the image-name tests: a private containerd daemon and podman on
// temporary storage, so a test never touches the machine's own images. containerd runs as root
// with its own --root/--state/--address under a temp dir and the CRI plugin disabled (it wants
// kernel features a sandbox may lack); images are imported with --no-unpack, which needs no
// snapshotter. podman runs with --root/--runroot in a temp dir and the vfs driver (no overlay
// mounts); save, load and pull of archives start no container, so no network or slirp is needed.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { requireTools } from '../../helpers/tools.js';

/** The programs the engine tests run (Debian packages `containerd` and `podman`). */
export const ENGINE_TOOLS = ['containerd', 'ctr', 'podman'];

/**
 * Whether the engine tests can run: the tools are present (in CI a missing one throws) and we are
 * root (containerd's daemon needs it). Locally, without root, says why on stderr and returns false;
 * in CI (which runs as root) not being root is a failure, never a skip.
 */
export function enginesAvailable(): boolean {
  if (!requireTools(...ENGINE_TOOLS)) return false;
  if (process.getuid?.() === 0) return true;
  const msg = 'engine tests need root (they start a private containerd daemon)';
  if (process.env['CI'] === 'true') throw new Error(`${msg}; CI runs as root`);
  console.warn(`SKIP: ${msg}; run them as root`);
  return false;
}

export interface ToolResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Run a tool; the caller judges the exit status (a refusal is often what a test expects). */
export function attempt(cmd: string, args: string[], timeoutMs = 120_000): ToolResult {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: timeoutMs, maxBuffer: 64 << 20 });
  return { status: r.status, stdout: r.stdout ?? '', stderr: r.stderr ?? String(r.error ?? '') };
}

function run(cmd: string, args: string[], timeoutMs = 120_000): string {
  const r = attempt(cmd, args, timeoutMs);
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** Subcommands that read or write credentials get `--authfile FILE` (never the user's own). */
export function withAuthfile(args: string[], authfile: string): string[] {
  const takes = new Set(['login', 'logout', 'pull', 'push']);
  const i = args.findIndex((a) => takes.has(a));
  return i < 0 ? args : [...args.slice(0, i + 1), '--authfile', authfile, ...args.slice(i + 1)];
}

export interface Containerd {
  /** `ctr --address SOCK -n NAMESPACE ARGS…`; throws on a non-zero exit. */
  ctr(namespace: string, ...args: string[]): string;
  /** The same, returning the exit status and output instead of throwing. */
  tryCtr(namespace: string, ...args: string[]): ToolResult;
  /** The image names in a namespace, sorted. */
  images(namespace: string): string[];
  stop(): Promise<void>;
}

/** Start containerd under `dir` and wait (up to 20 s) until ctr can talk to it. */
export async function startContainerd(dir: string): Promise<Containerd> {
  mkdirSync(dir, { recursive: true });
  const config = join(dir, 'config.toml');
  const address = join(dir, 'containerd.sock');
  writeFileSync(config, 'version = 2\ndisabled_plugins = ["io.containerd.grpc.v1.cri"]\n');
  const child: ChildProcess = spawn(
    'containerd',
    [
      '--config',
      config,
      '--root',
      join(dir, 'root'),
      '--state',
      join(dir, 'state'),
      '--address',
      address,
    ],
    { stdio: ['ignore', 'ignore', 'pipe'] },
  );
  let log = '';
  child.stderr?.on('data', (b: Buffer) => {
    log = (log + b.toString('utf8')).slice(-8192);
  });
  const ctr = (namespace: string, ...args: string[]): string =>
    run('ctr', ['--address', address, '-n', namespace, ...args]);
  const stop = async (): Promise<void> => {
    if (child.exitCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
    if (child.exitCode === null) child.kill('SIGKILL');
  };
  const deadline = Date.now() + 20_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`containerd exited ${child.exitCode}\n${log}`);
    if (existsSync(address)) {
      const r = spawnSync('ctr', ['--address', address, 'version'], { encoding: 'utf8' });
      if (r.status === 0) break;
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`containerd did not answer on ${address} within 20 s\n${log}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    ctr,
    tryCtr: (namespace, ...args) =>
      attempt('ctr', ['--address', address, '-n', namespace, ...args]),
    images: (namespace) =>
      ctr(namespace, 'images', 'ls', '-q')
        .split('\n')
        .filter((l) => l !== '')
        .sort(),
    stop,
  };
}

export interface Podman {
  /** `podman --root … --runroot … --storage-driver vfs ARGS…`; throws on a non-zero exit. */
  run(...args: string[]): string;
  /** The same, returning the exit status and output; logins go to a file of the test's own. */
  tryRun(this: void, ...args: string[]): ToolResult;
  /** `repository:tag` of every image, sorted. */
  images(): string[];
  /** `podman pull --signature-policy (accept anything) oci-archive:FILE:NAME`. */
  pullArchive(file: string, name: string): void;
}

/** podman with its own storage under `dir` (nothing of the machine's). */
export function podmanIn(dir: string): Podman {
  mkdirSync(dir, { recursive: true });
  const policy = join(dir, 'policy.json');
  writeFileSync(policy, JSON.stringify({ default: [{ type: 'insecureAcceptAnything' }] }));
  const base = [
    '--root',
    join(dir, 'root'),
    '--runroot',
    join(dir, 'run'),
    '--storage-driver',
    'vfs',
    '--events-backend',
    'file',
    '--cgroup-manager',
    'cgroupfs',
  ];
  const authfile = join(dir, 'auth.json');
  writeFileSync(authfile, '{"auths":{}}');
  const podman = (...args: string[]): string =>
    run('podman', [...base, ...withAuthfile(args, authfile)]);
  return {
    run: podman,
    tryRun: (...args) => attempt('podman', [...base, ...withAuthfile(args, authfile)]),
    images: () =>
      podman('images', '--format', '{{.Repository}}:{{.Tag}}')
        .split('\n')
        .filter((l) => l !== '')
        .sort(),
    pullArchive: (file, name) => {
      podman('pull', '--signature-policy', policy, `oci-archive:${file}:${name}`);
    },
  };
}
