// Run the built CLI (dist/cli/bin.js) as a child process: what users run.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli/bin.js', import.meta.url));

/**
 * XDG_CACHE_HOME of every CLI a test process runs (the blob-location record lives there): shared by
 * its runs, as a user's runs share theirs, and never the real user's cache. One per process, made
 * once however many test files load this module there.
 */
export const CLI_CACHE_HOME = testCacheHome();

function testCacheHome(): string {
  const key = Symbol.for('ocilayout.test.cacheHome');
  const slot = globalThis as unknown as Record<symbol, string | undefined>;
  if (slot[key] === undefined) {
    const dir = mkdtempSync(join(tmpdir(), 'ocilayout-test-cache-'));
    process.once('exit', () => rmSync(dir, { recursive: true, force: true }));
    slot[key] = dir;
    return dir;
  }
  return slot[key];
}

export interface CliResult {
  code: number;
  stdout: string;
  stderr: string;
}

export interface CliOptions {
  input?: string | Buffer;
  env?: NodeJS.ProcessEnv;
  cwd?: string;
}

export function runCli(args: string[], options: CliOptions = {}): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], {
      cwd: options.cwd,
      env: { ...process.env, XDG_CACHE_HOME: CLI_CACHE_HOME, ...options.env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => out.push(b));
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code, signal) =>
      resolve({
        code: code ?? (signal === null ? -1 : 128),
        stdout: Buffer.concat(out).toString('utf8'),
        stderr: Buffer.concat(err).toString('utf8'),
      }),
    );
    child.stdin.end(options.input ?? '');
  });
}

/** runCli, asserting exit 0; returns stdout. */
export async function cliOk(args: string[], options: CliOptions = {}): Promise<string> {
  const r = await runCli(args, options);
  if (r.code !== 0)
    throw new Error(
      `ocilayout ${args.join(' ')} exited ${r.code}\nstdout: ${r.stdout}\nstderr: ${r.stderr}`,
    );
  return r.stdout;
}

/**
 * Run the built CLI with stdout and stderr on a real pseudo-terminal, as a user at a shell runs it:
 * util-linux `script` allocates the terminal (-e: its exit status is the CLI's). The terminal
 * merges both streams into `output`.
 */
export function runCliInTerminal(args: string[]): { code: number; output: string } {
  const quote = (s: string): string => `'${s.replaceAll("'", "'\\''")}'`;
  const command = [process.execPath, CLI, ...args].map(quote).join(' ');
  const r = spawnSync('script', ['-qec', command, '/dev/null'], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'pipe'],
    timeout: 60_000,
  });
  if (r.error) throw r.error;
  return { code: r.status ?? -1, output: r.stdout + r.stderr };
}
