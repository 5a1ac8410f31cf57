// stdout that stops taking output: a full disk behind a redirect (ENOSPC: `> /dev/full`) or a
// reader that went away (EPIPE: `| head -c 100`). Every command that writes to stdout exits 9
// (E_IO) then: never 0 with a short output, never an unhandled 'error' with a stack, never
// "internal error". A closed pipe is quiet on stderr in text mode, as other Unix tools are.
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Layout, pushFiles, type Digest } from '../../src/internal.js';
import { CLI, type CliResult } from '../helpers/run-cli.js';

/** The CLI with stdout on `fd`; stderr collected. */
function runWithStdout(args: string[], fd: number): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', fd, 'pipe'] });
    const err: Buffer[] = [];
    child.stderr!.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code: code ?? -1, stdout: '', stderr: Buffer.concat(err).toString('utf8') }),
    );
  });
}

/** The CLI with stdout on a pipe whose reader closes it after the first chunk (`| head -c`). */
function runIntoClosedPipe(args: string[]): Promise<CliResult & { read: number }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    const err: Buffer[] = [];
    let read = 0;
    child.stdout.once('data', (b: Buffer) => {
      read = b.byteLength;
      child.stdout.destroy();
    });
    child.stderr.on('data', (b: Buffer) => err.push(b));
    child.on('error', reject);
    child.on('close', (code) =>
      resolve({ code: code ?? -1, stdout: '', read, stderr: Buffer.concat(err).toString('utf8') }),
    );
  });
}

function expectNoCrash(r: CliResult): void {
  expect(r.stderr).not.toMatch(/internal error|this is a bug|E_INTERNAL|Unhandled|\n\s+at /);
}

let dir: string;
let big: Digest;
beforeAll(async () => {
  const work = mkdtempSync(join(tmpdir(), 'ocilayout-stdout-'));
  dir = join(work, 'layout');
  // 4 MiB: far more than a pipe holds, so the writer is still writing when the reader leaves.
  const data = Buffer.alloc(4 * 1024 * 1024);
  for (let i = 0; i < data.length; i += 4096) data.writeUInt32BE(i, i);
  writeFileSync(join(work, 'big.bin'), data);
  const layout = Layout.init(dir).layout;
  const { manifest } = await pushFiles(layout, [{ path: join(work, 'big.bin') }], { tag: 'v1' });
  big = manifest.layers[0]!.digest as Digest;
  layout.close();
});
afterAll(() => rmSync(join(dir, '..'), { recursive: true, force: true }));

const hasDevFull = existsSync('/dev/full');
if (!hasDevFull) console.warn('SKIP stdout on a full disk: no /dev/full here');

describe.skipIf(!hasDevFull)('stdout on a full disk (/dev/full)', () => {
  const commands: [string, () => string[]][] = [
    ['tags (text)', () => ['tags', dir]],
    ['tags --json', () => ['tags', dir, '--json']],
    ['info --json', () => ['info', dir, '--json']],
    ['resolve', () => ['resolve', `${dir}:v1`]],
    ['manifest get', () => ['manifest', 'get', `${dir}:v1`]],
    ['manifest get --json', () => ['manifest', 'get', `${dir}:v1`, '--json']],
    ['blob get', () => ['blob', 'get', `${dir}@${big}`]],
    ['export -', () => ['export', dir, '-']],
    ['export - --gzip', () => ['export', dir, '-', '--gzip']],
    ['--help', () => ['--help']],
  ];

  it.each(commands)('%s: E_IO, exit 9, the error named', async (_name, args) => {
    const fd = openSync('/dev/full', 'w');
    try {
      const r = await runWithStdout(args(), fd);
      expectNoCrash(r);
      expect(r.code).toBe(9);
      expect(r.stderr).toMatch(/E_IO.*no space left on device/);
    } finally {
      closeSync(fd);
    }
  });

  it('--json reports the failure as the JSON error line', async () => {
    const fd = openSync('/dev/full', 'w');
    try {
      const r = await runWithStdout(['tags', dir, '--json'], fd);
      const last = JSON.parse(r.stderr.trim().split('\n').pop()!) as { error: { code: string } };
      expect(last.error).toMatchObject({ code: 'E_IO', details: { errno: 'ENOSPC' } });
    } finally {
      closeSync(fd);
    }
  });
});

describe('stdout closed by its reader (EPIPE)', () => {
  it.each([
    ['export -', () => ['export', dir, '-']],
    ['export - --gzip', () => ['export', dir, '-', '--gzip']],
    ['blob get', () => ['blob', 'get', `${dir}@${big}`]],
  ])('%s: exit 9, quiet on stderr, never 0 with a short output', async (_name, args) => {
    const r = await runIntoClosedPipe(args());
    expect(r.read).toBeGreaterThan(0);
    expectNoCrash(r);
    expect(r.code).toBe(9);
    expect(r.stderr).toBe('');
  });

  it('with --json, the failure is still the JSON error line', async () => {
    const r = await runIntoClosedPipe(['export', dir, '-', '--json']);
    expect(r.code).toBe(9);
    const last = JSON.parse(r.stderr.trim().split('\n').pop()!) as { error: { code: string } };
    expect(last.error).toMatchObject({ code: 'E_IO', details: { errno: 'EPIPE' } });
  });
});
