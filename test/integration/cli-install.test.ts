// Getting the command (README "Installing"): --version from any directory, the single executable
// `npm run package` writes (run alone in an empty directory with an empty environment), and the
// packed tarball installed globally with no registry (an empty npm cache, --offline).
// Build first: `npm run build`.
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { copyFileSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { runCli } from '../helpers/run-cli.js';
import { tmpDir } from '../helpers/tmp.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const VERSION = (
  JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }
).version;

function ok(r: SpawnSyncReturns<string>, what: string): string {
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`${what} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}

/** `ocilayout` (the given executable) from `cwd`: --version, then init, push and tags there. */
function roundTrip(exe: string, cwd: string, env: NodeJS.ProcessEnv): void {
  const cli = (...args: string[]): string =>
    ok(spawnSync(exe, args, { cwd, env, encoding: 'utf8' }), `ocilayout ${args.join(' ')}`);
  expect(cli('--version')).toBe(`${VERSION}\n`);
  cli('init', 'lay');
  writeFileSync(join(cwd, 'notes.txt'), 'hello\n');
  expect(cli('push', 'lay:v1', 'notes.txt:text/plain')).toMatch(/^sha256:[0-9a-f]{64}\n$/);
  expect(cli('tags', 'lay')).toBe('v1\n');
}

describe('getting the command', () => {
  it('--version prints package.json’s version from any directory', async () => {
    // yargs looked for package.json from the current directory: "unknown" outside the clone.
    const r = await runCli(['--version'], { cwd: tmpDir() });
    expect(r).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
  });

  it('npm run package writes dist/ocilayout, which runs alone in an empty directory', () => {
    ok(spawnSync('npm', ['run', 'package'], { cwd: ROOT, encoding: 'utf8' }), 'npm run package');
    const dir = tmpDir();
    const exe = join(dir, 'ocilayout');
    copyFileSync(join(ROOT, 'dist', 'ocilayout'), exe);
    // Nothing of ours beside it, and no PATH, NODE_OPTIONS or NODE_PATH to find a Node install.
    roundTrip(exe, dir, {});
    expect(readdirSync(dir).sort()).toEqual(['lay', 'notes.txt', 'ocilayout']);
  });

  it('installs globally from the npm pack tarball with no registry', () => {
    const dir = tmpDir();
    const packed = JSON.parse(
      ok(
        spawnSync('npm', ['pack', '--ignore-scripts', '--json', '--pack-destination', dir], {
          cwd: ROOT,
          encoding: 'utf8',
        }),
        'npm pack',
      ),
    ) as { filename: string; files: { path: string }[] }[];
    expect(packed[0]!.filename).toBe(`ocilayout-${VERSION}.tgz`);
    expect(packed[0]!.files.map((f) => f.path)).not.toContain('dist/ocilayout');
    const prefix = join(dir, 'global');
    const install = [
      'install',
      '--global',
      '--prefix',
      prefix,
      '--offline',
      '--cache',
      join(dir, 'empty-cache'),
      '--no-audit',
      '--no-fund',
      join(dir, packed[0]!.filename),
    ];
    ok(spawnSync('npm', install, { cwd: dir, encoding: 'utf8' }), 'npm install -g');
    const work = tmpDir();
    roundTrip(join(prefix, 'bin', 'ocilayout'), work, { PATH: process.env['PATH'] });
  });
});
