// What the built CLI loads before it does anything: commands that need no network must not pay
// for node:http(s), net, child_process, zlib or worker_threads (src/cli/bin.ts hands the bundle
// stand-ins that load them on first use), nor read-only ones for the lock's proper-lockfile; and a
// command that does need them still gets the real modules.
// Build first: `npm run build`.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { CLI } from '../helpers/run-cli.js';
import { tmpDir, tmpLayout } from '../helpers/tmp.js';

const DEFERRED = [
  'node:http',
  'node:https',
  'node:net',
  'node:child_process',
  'node:zlib',
  'node:worker_threads',
];

/** A --require script that prints, at exit, every module the process required by name. */
function hookFile(): string {
  const hook = join(tmpDir(), 'hook.cjs');
  writeFileSync(
    hook,
    `const Module = require('node:module');
const seen = new Set();
const load = Module._load;
Module._load = function (request, ...rest) { seen.add(request); return load.call(this, request, ...rest); };
process.on('exit', () => process.stderr.write('\\nLOADED ' + JSON.stringify([...seen]) + '\\n'));
`,
  );
  return hook;
}

function loadedIn(stderr: string): string[] {
  const line = stderr.split('\n').find((l) => l.startsWith('LOADED '));
  return JSON.parse(line?.slice('LOADED '.length) ?? '[]') as string[];
}

/** The modules the CLI required (through Module._load) while running `args`. */
function loadedBy(args: string[]): { code: number | null; loaded: string[] } {
  const r = spawnSync(process.execPath, ['--require', hookFile(), CLI, ...args], {
    encoding: 'utf8',
  });
  return { code: r.status, loaded: loadedIn(r.stderr) };
}

describe('CLI start-up', () => {
  it('--version and tags load none of the network and process modules', () => {
    const layout = tmpLayout();
    for (const args of [['--version'], ['tags', layout.root]]) {
      const r = loadedBy(args);
      expect(r.code).toBe(0);
      expect(r.loaded).toContain('node:fs'); // the hook saw the bundle's requires
      expect(r.loaded.filter((m) => DEFERRED.includes(m))).toEqual([]);
      // Nor proper-lockfile, bundled and loaded by the first lock (store/lock.ts): its graceful-fs
      // is what requires `constants`.
      expect(r.loaded).not.toContain('constants');
    }
  });

  it('serve, which needs node:http, gets the real module', async () => {
    const hook = hookFile();
    const child = spawn(
      process.execPath,
      ['--require', hook, CLI, 'serve', tmpDir(), '--listen', '127.0.0.1:0'],
      { stdio: ['ignore', 'ignore', 'pipe'] },
    );
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString())); // where serve says where it listens
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    for (let i = 0; i < 500 && !/on (http:\/\/\S+)/.test(err); i++)
      await new Promise((r) => setTimeout(r, 20));
    const url = /on (http:\/\/\S+)/.exec(err)?.[1];
    expect(url).toBeDefined();
    expect((await fetch(`${url!}/v2/`)).status).toBe(200);
    child.kill('SIGTERM');
    expect(await exited).toBe(0); // serve stops gracefully on SIGTERM
    expect(loadedIn(err)).toEqual(expect.arrayContaining(['node:http']));
  });
});
