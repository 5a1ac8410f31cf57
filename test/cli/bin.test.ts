// bin.ts: the executable runs the CLI on its own argv and stdio, sets the exit status run() returns,
// exits 130 on Ctrl-C, and turns on Node's compile cache where there is one. Runs src/ transpiled by
// child-lib (no build needed).
import { spawn } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import module from 'node:module';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Layout } from '../../src/index.js';
import { compileChildLib, type ChildLib } from '../helpers/child-lib.js';
import { tmpDir } from '../helpers/tmp.js';

let lib: ChildLib;
beforeAll(() => {
  lib = compileChildLib(['cli/bin.ts']);
});
afterAll(() => lib.dispose());

const bin = (): string => join(lib.dir, 'cli', 'bin.js');

describe('bin', () => {
  it('exits with the status run() returns, output on the right streams', async () => {
    const ok = await lib.run(bin(), ['--help']);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain('ocilayout <command>');
    const missing = await lib.run(bin(), ['tags', join(tmpDir(), 'nowhere'), '--json']);
    expect(missing.code).toBe(3);
    expect(JSON.parse(missing.stderr)).toMatchObject({ error: { code: 'E_NOT_A_LAYOUT' } });
  });

  it('exits 130 on SIGINT', async () => {
    const dir = join(tmpDir(), 'l');
    Layout.init(dir);
    const child = spawn(process.execPath, [bin(), 'blob', 'put', dir, '-'], {
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      child.on('close', (code, signal) => resolve({ code, signal })),
    );
    child.stdin.write(Buffer.alloc(64 * 1024, 1)); // the put is under way, waiting for more
    const ingest = join(dir, 'ingest');
    for (let i = 0; i < 500; i++) {
      if (existsSync(ingest) && readdirSync(ingest).some((n) => n.endsWith('.part'))) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    child.kill('SIGINT');
    expect(await done).toEqual({ code: 130, signal: null });
  });
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
