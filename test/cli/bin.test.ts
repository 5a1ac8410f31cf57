// bin.ts: the executable runs the CLI on its own argv and stdio, sets the exit status run() returns,
// exits 130/143/129 on SIGINT/SIGTERM/SIGHUP with the writer's files removed, and turns on Node's
// compile cache where there is one. Runs src/ transpiled by child-lib (no build needed).
import { spawn, type ChildProcess, type ChildProcessByStdio } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import module from 'node:module';
import { join } from 'node:path';
import type { Writable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Layout } from '../../src/internal.js';
import { compileChildLib, type ChildLib } from '../helpers/child-lib.js';
import { tarHeader } from '../helpers/make-tar.js';
import { tmpDir } from '../helpers/tmp.js';

let lib: ChildLib;
beforeAll(() => {
  lib = compileChildLib(['cli/bin.ts']);
});
afterAll(() => lib.dispose());

const bin = (): string => join(lib.dir, 'cli', 'bin.js');

function start(args: string[]): ChildProcessByStdio<Writable, null, null> {
  const child = spawn(process.execPath, [bin(), ...args], { stdio: ['pipe', 'ignore', 'ignore'] });
  child.stdin.on('error', () => undefined); // EPIPE: the rest of what we wrote is never read
  return child;
}

function exited(child: ChildProcess): Promise<{ code: number | null; signal: string | null }> {
  return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal })));
}

/** The names in the ingest/ of the layout at `root`. */
function ingestFiles(root: string): string[] {
  const ingest = join(root, 'ingest');
  return existsSync(ingest) ? readdirSync(ingest) : [];
}

async function until(ready: () => boolean): Promise<void> {
  for (let i = 0; i < 500; i++) {
    if (ready()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error('the command never got under way');
}

describe('bin', () => {
  it('exits with the status run() returns, output on the right streams', async () => {
    const ok = await lib.run(bin(), ['--help']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('ocilayout <command>');
    const missing = await lib.run(bin(), ['tags', join(tmpDir(), 'nowhere'), '--json']);
    expect(missing.code).toBe(3);
    expect(JSON.parse(missing.stderr)).toMatchObject({ error: { code: 'E_NOT_A_LAYOUT' } });
  });

  // Conventional statuses (128 + the signal's number), and the writer's files gone: a signal is
  // how Ctrl-C, `timeout`, `docker stop` and a closed terminal end a command.
  const SIGNALS = [
    ['SIGINT', 130],
    ['SIGTERM', 143],
    ['SIGHUP', 129],
  ] as const;

  it.each(SIGNALS)(
    'blob put from stdin: exits %s → %i, its part file removed',
    async (sig, code) => {
      const dir = join(tmpDir(), 'l');
      Layout.init(dir);
      const child = start(['blob', 'put', dir, '-']);
      child.stdin.write(Buffer.alloc(64 * 1024, 1)); // the put is under way, waiting for more
      await until(() => ingestFiles(dir).some((n) => n.endsWith('.part')));
      child.kill(sig);
      expect(await exited(child)).toEqual({ code, signal: null });
      expect(ingestFiles(dir)).toEqual([]);
    },
  );

  it('import from stdin into a new directory: SIGTERM removes the layout it created', async () => {
    const dir = join(tmpDir(), 'new');
    const child = start(['import', '-', dir, '--no-progress']);
    child.stdin.write(
      Buffer.concat([
        tarHeader({ name: `blobs/sha256/${'b'.repeat(64)}`, size: 8 << 20 }),
        Buffer.alloc(2 << 20, 7),
      ]),
    );
    await until(() => ingestFiles(dir).some((n) => n.endsWith('.import')));
    child.kill('SIGTERM');
    expect(await exited(child)).toEqual({ code: 143, signal: null });
    expect(existsSync(dir)).toBe(false);
  });

  it.each(SIGNALS)(
    'import from stdin: exits %s → %i, its staging directory and lease removed',
    async (sig, code) => {
      const dir = join(tmpDir(), 'l');
      Layout.init(dir);
      const child = start(['import', '-', dir, '--no-progress']);
      // A blob entry announced at 8 MiB, 2 MiB of it sent: the import leases the digest in the
      // target, then streams the entry into a part file in its staging layout, waiting for more.
      child.stdin.write(
        Buffer.concat([
          tarHeader({ name: `blobs/sha256/${'a'.repeat(64)}`, size: 8 << 20 }),
          Buffer.alloc(2 << 20, 7),
        ]),
      );
      await until(() => {
        const names = ingestFiles(dir);
        const staging = names.find((n) => n.endsWith('.import'));
        return (
          names.some((n) => n.endsWith('.lease')) &&
          staging !== undefined &&
          ingestFiles(join(dir, 'ingest', staging)).some((n) => n.endsWith('.part'))
        );
      });
      child.kill(sig);
      expect(await exited(child)).toEqual({ code, signal: null });
      expect(ingestFiles(dir)).toEqual([]);
    },
  );
});

describe('bin and the compile cache', () => {
  it('turns it on where Node has one (22.1+), in os.tmpdir() unless NODE_COMPILE_CACHE says', async () => {
    const hasCache = typeof (module as { enableCompileCache?: unknown }).enableCompileCache;
    const tmp = tmpDir();
    const r = await lib.run(bin(), ['--version'], {
      TMPDIR: tmp,
      NODE_COMPILE_CACHE: undefined,
      NODE_DISABLE_COMPILE_CACHE: undefined,
    });
    expect(r.code).toBe(0);
    const cache = join(tmp, 'node-compile-cache');
    expect({ node: process.version, cache: existsSync(cache) }).toEqual({
      node: process.version,
      cache: hasCache === 'function',
    });
    if (hasCache === 'function') expect(readdirSync(cache).length).toBeGreaterThan(0);
  });
});
