// What the built CLI loads before it does anything: commands that need no network must not pay
// for node:http(s), net, child_process, zlib or worker_threads (src/cli/bin.ts hands the bundle
// stand-ins that load them on first use), nor read-only ones for the lock's proper-lockfile; and a
// command that does need them still gets the real modules. A registry copy never loads fetch's
// undici: its loading cost more than a push that mounts every blob.
// Build first: `npm run build`.
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { startReferrersServer } from '../helpers/referrers-server.js';
import { CLI, CLI_CACHE_HOME, cliOk } from '../helpers/run-cli.js';
import { tmpDir, tmpLayout } from '../helpers/tmp.js';

const DEFERRED = [
  'node:http',
  'node:https',
  'node:net',
  'node:child_process',
  'node:zlib',
  'node:worker_threads',
];

/**
 * A --require script that prints, at exit, every module the process required by name, Node's own
 * module list, and whether anything asked for process.stdin (whose stream is made on first use).
 */
function hookFile(): string {
  const hook = join(tmpDir(), 'hook.cjs');
  writeFileSync(
    hook,
    `const Module = require('node:module');
const seen = new Set();
const load = Module._load;
Module._load = function (request, ...rest) { seen.add(request); return load.call(this, request, ...rest); };
const stdin = Object.getOwnPropertyDescriptor(process, 'stdin');
let stdinRead = false;
Object.defineProperty(process, 'stdin', { ...stdin, get() { stdinRead = true; return stdin.get.call(this); } });
process.on('exit', () => {
  process.stderr.write('\\nSTDIN ' + stdinRead + '\\n');
  process.stderr.write('\\nLOADED ' + JSON.stringify([...seen]) + '\\n');
  process.stderr.write('INTERNAL ' + JSON.stringify(process.moduleLoadList) + '\\n');
});
`,
  );
  return hook;
}

function loadedIn(stderr: string, prefix = 'LOADED '): string[] {
  const line = stderr.split('\n').find((l) => l.startsWith(prefix));
  return JSON.parse(line?.slice(prefix.length) ?? '[]') as string[];
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

  it('a registry copy loads no undici (fetch), and makes stdin only to read it', async () => {
    const server = await startReferrersServer({
      auth: { kind: 'bearer', username: 'u', password: 'p' },
    });
    const open = await startReferrersServer();
    try {
      const hook = hookFile();
      const dir = tmpDir();
      const file = join(dir, 'layer.bin');
      writeFileSync(file, 'layer');
      const src = join(dir, 'src');
      await cliOk(['push', '--quiet', `${src}:v1`, file]);
      const run = (args: string[], input = ''): Promise<{ code: number | null; err: string }> =>
        new Promise((resolve) => {
          const child = spawn(process.execPath, ['--require', hook, CLI, ...args], {
            env: { ...process.env, XDG_CACHE_HOME: CLI_CACHE_HOME },
            stdio: ['pipe', 'ignore', 'pipe'],
          });
          let err = '';
          child.stderr.on('data', (b: Buffer) => (err += b.toString()));
          child.on('close', (code) => resolve({ code, err }));
          child.stdin.end(input);
        });
      const auth = ['--username', 'u', '--password-stdin'];
      const ref = `docker://${server.host}/app/x:v1`;
      const push = await run(['copy', '--quiet', ...auth, `${src}:v1`, ref], 'p\n');
      const pull = await run(
        ['copy', '--quiet', ...auth, ref, `${join(tmpDir(), 'dst')}:v1`],
        'p\n',
      );
      // Without --password-stdin nothing reads stdin, so the CLI never makes its stream.
      const anonymous = await run(['copy', '--quiet', `${src}:v1`, `docker://${open.host}/a:v1`]);
      expect(push.err).toContain('STDIN true'); // the hook sees a read
      expect(anonymous.err).toContain('STDIN false');
      for (const r of [push, pull, anonymous]) {
        expect(r.code, r.err).toBe(0);
        expect(loadedIn(r.err)).toContain('node:http');
        const internal = loadedIn(r.err, 'INTERNAL ');
        expect(internal.length).toBeGreaterThan(10); // the hook saw Node's own module list
        expect(internal.filter((m) => m.includes('undici'))).toEqual([]);
      }
      expect(server.tokenRequests.length).toBeGreaterThan(0); // the bearer flow ran
      expect(server.log.some((l) => l.startsWith('PUT /v2/app/x/manifests/v1'))).toBe(true);
    } finally {
      await server.close();
      await open.close();
    }
  });
});
