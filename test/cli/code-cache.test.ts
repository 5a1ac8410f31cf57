// code-cache.ts: the bundled CLI runs through a V8 code cache that is only ever an optimisation:
// used when it is this source's and intact and ours, otherwise ignored (and rewritten), never an
// error. Scripts here are small function expressions, as the bundle is. Each load runs in a process
// of its own (src/ transpiled by child-lib), as the CLI does: within one process V8 reuses what it
// compiled before and would never look at the cache file.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  chownSync,
  linkSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  statSync,
  symlinkSync,
  utimesSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { codeCacheDir, runCachedScript } from '../../src/cli/code-cache.js';
import { compileChildLib, type ChildLib } from '../helpers/child-lib.js';
import { tmpDir } from '../helpers/tmp.js';

let lib: ChildLib;
let runner: string;
beforeAll(() => {
  lib = compileChildLib(['cli/code-cache.ts']);
  runner = lib.script(
    'run-cached',
    `import { runCachedScript } from './cli/code-cache.js';
const [file, cache] = process.argv.slice(2);
const r = runCachedScript(file, cache === '-' ? undefined : cache);
const value = r.value();
r.save();
console.log(JSON.stringify({ value, state: r.state }));
`,
  );
});
afterAll(() => lib.dispose());

function script(dir: string, body: string, name = 'bundle.js'): string {
  const file = join(dir, name);
  writeFileSync(file, `(function () { return ${body}; })`);
  return file;
}

/** In a new process: run the script at `file` with the cache in `cache`, save, report. */
async function runOnce(
  file: string,
  cache: string | undefined,
): Promise<{ value: unknown; state: string }> {
  const r = await lib.run(runner, [file, cache ?? '-']);
  if (r.code !== 0) throw new Error(`exit ${r.code} ${r.signal}: ${r.stderr}`);
  return JSON.parse(r.stdout) as { value: unknown; state: string };
}

function cacheFiles(cache: string): string[] {
  return readdirSync(cache).map((n) => join(cache, n));
}

describe('runCachedScript', () => {
  it('compiles from source once, then runs from the cache file it wrote (owner-only)', async () => {
    const dir = tmpDir();
    const cache = join(dir, 'cache');
    const file = script(dir, "'one'");
    expect(await runOnce(file, cache)).toEqual({ value: 'one', state: 'miss' });
    const [written, ...more] = cacheFiles(cache);
    expect(more).toEqual([]);
    expect(statSync(written!).mode & 0o777).toBe(0o600);
    expect(statSync(cache).mode & 0o777).toBe(0o700);
    expect(await runOnce(file, cache)).toEqual({ value: 'one', state: 'hit' });
  });

  it('does not use the cache of another source of the same length (V8 checks only the length)', async () => {
    const dir = tmpDir();
    const cache = join(dir, 'cache');
    const file = script(dir, "'one'");
    await runOnce(file, cache);
    script(dir, "'two'");
    expect(await runOnce(file, cache)).toEqual({ value: 'two', state: 'miss' });
    expect(await runOnce(file, cache)).toEqual({ value: 'two', state: 'hit' });
  });

  it('ignores a corrupt cache file (V8 would abort the process on it) and rewrites it', async () => {
    const dir = tmpDir();
    const cache = join(dir, 'cache');
    const file = script(dir, "'one'");
    await runOnce(file, cache);
    const [path] = cacheFiles(cache);
    const bytes = readFileSync(path!);
    bytes[bytes.length - 8]! ^= 0x55; // in V8's payload, past our header
    writeFileSync(path!, bytes);
    expect(await runOnce(file, cache)).toEqual({ value: 'one', state: 'miss' });
    expect(await runOnce(file, cache)).toEqual({ value: 'one', state: 'hit' });
  });

  it('ignores a cache file that others may write', async () => {
    const dir = tmpDir();
    const cache = join(dir, 'cache');
    const file = script(dir, "'one'");
    await runOnce(file, cache);
    const [path] = cacheFiles(cache);
    chmodSync(path!, 0o666);
    expect((await runOnce(file, cache)).state).toBe('miss');
  });

  it('ignores a cache file with another name (a hard link may be written from elsewhere)', async () => {
    const dir = tmpDir();
    const cache = join(dir, 'cache');
    const file = script(dir, "'one'");
    await runOnce(file, cache);
    const [path] = cacheFiles(cache);
    linkSync(path!, join(dir, 'elsewhere'));
    expect(await runOnce(file, cache)).toEqual({ value: 'one', state: 'miss' });
    expect(statSync(path!).nlink).toBe(1); // replaced by a file of its own
    expect(await runOnce(file, cache)).toEqual({ value: 'one', state: 'hit' });
  });

  it('neither reads nor writes a cache directory others may write or read', async () => {
    for (const mode of [0o777, 0o770, 0o705]) {
      const dir = tmpDir();
      const cache = join(dir, 'cache');
      const file = script(dir, "'one'");
      await runOnce(file, cache);
      const [path] = cacheFiles(cache);
      chmodSync(cache, mode);
      expect(await runOnce(file, cache), mode.toString(8)).toEqual({ value: 'one', state: 'off' });

      const open = join(dir, 'open');
      mkdirSync(open);
      chmodSync(open, mode);
      expect(await runOnce(file, open)).toEqual({ value: 'one', state: 'off' });
      expect(readdirSync(open)).toEqual([]);
      expect(cacheFiles(cache)).toEqual([path]);
    }
  });

  it('neither reads nor writes through a symlinked cache directory', async () => {
    const dir = tmpDir();
    const cache = join(dir, 'cache');
    const file = script(dir, "'one'");
    await runOnce(file, cache); // a good cache in a directory of ours, 0700
    const link = join(dir, 'link');
    symlinkSync(cache, link);
    expect(await runOnce(file, link)).toEqual({ value: 'one', state: 'off' });

    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const openLink = join(dir, 'open-link');
    symlinkSync(open, openLink);
    expect(await runOnce(file, openLink)).toEqual({ value: 'one', state: 'off' });
    expect(readdirSync(open)).toEqual([]);
  });

  it.runIf(process.getuid?.() === 0)(
    "neither reads nor writes another user's cache directory (as root, who may)",
    async () => {
      const dir = tmpDir();
      const cache = join(dir, 'cache');
      const file = script(dir, "'one'");
      await runOnce(file, cache);
      const [path] = cacheFiles(cache);
      chownSync(cache, 65534, 65534);
      expect(await runOnce(file, cache)).toEqual({ value: 'one', state: 'off' });
      expect(cacheFiles(cache)).toEqual([path]);
      expect(readFileSync(path!).length).toBeGreaterThan(0);
    },
  );

  it("removes the temp files of dead writers when it writes, not a live writer's or others'", async () => {
    const dir = tmpDir();
    const cache = join(dir, 'cache');
    const file = script(dir, "'one'");
    await runOnce(file, cache);
    const [path] = cacheFiles(cache);
    const name = basename(path!);
    const dead = spawnSync(process.execPath, ['-e', '0']).pid; // exited and reaped
    const live = process.pid; // this test's process: running, and not the writer's
    const old = new Date(Date.now() - 10 * 60 * 1000);
    const tmp = (n: string, mtime?: Date): string => {
      const p = join(cache, n);
      writeFileSync(p, 'partial');
      if (mtime !== undefined) utimesSync(p, mtime, mtime);
      return p;
    };
    tmp(`${name}.${dead}.k1.tmp`); // a killed writer's, however recent
    tmp(`${name}.${live}.k2.tmp`, old); // too old for a writer still at work
    const kept = [
      tmp(`${name}.${live}.k3.tmp`), // a writer at work
      tmp(`notes.${dead}.k4.tmp`, old), // not a name of ours
      tmp(`${name}.tmp`, old),
    ];
    expect(await runOnce(file, cache)).toEqual({ value: 'one', state: 'hit' });
    expect(cacheFiles(cache)).toHaveLength(6); // a hit writes nothing, so cleans nothing

    script(dir, "'two'");
    expect(await runOnce(file, cache)).toEqual({ value: 'two', state: 'miss' });
    expect(cacheFiles(cache).sort()).toEqual([path!, ...kept].sort());
  });

  it('keeps at most 16 cache files when it writes, dropping the least recently written', async () => {
    const dir = tmpDir();
    const cache = join(dir, 'cache');
    const file = script(dir, "'one'");
    await runOnce(file, cache);
    const [own] = cacheFiles(cache);
    // 20 caches of other install paths or Node builds, written a minute apart long ago.
    const others = Array.from({ length: 20 }, (_, i) => {
      const p = join(cache, `${i.toString(16).padStart(32, '0')}.v8cache`);
      writeFileSync(p, 'cache');
      const t = new Date(Date.UTC(2020, 0, 1, 0, i));
      utimesSync(p, t, t);
      return p;
    });
    const notOurs = join(cache, 'notes.txt');
    writeFileSync(notOurs, 'kept');
    utimesSync(notOurs, new Date(0), new Date(0));
    expect(await runOnce(file, cache)).toEqual({ value: 'one', state: 'hit' });
    expect(cacheFiles(cache)).toHaveLength(22); // a hit writes nothing, so prunes nothing

    script(dir, "'two'");
    expect(await runOnce(file, cache)).toEqual({ value: 'two', state: 'miss' });
    expect(cacheFiles(cache).sort()).toEqual([own!, ...others.slice(5), notOurs].sort());
    expect(await runOnce(file, cache)).toEqual({ value: 'two', state: 'hit' });
  });

  it('reports a cache V8 refuses as rejected, and replaces it', async () => {
    const dir = tmpDir();
    const cache = join(dir, 'cache');
    const file = script(dir, "'one'");
    await runOnce(file, cache);
    const [path] = cacheFiles(cache);
    // A well-formed file of ours for this source, carrying another script's code: V8's own check
    // (here the source length) refuses it.
    const otherFile = script(dir, "'a longer string'", 'other.js');
    const otherCache = join(dir, 'other-cache');
    await runOnce(otherFile, otherCache);
    const [otherPath] = cacheFiles(otherCache);
    const ours = readFileSync(path!);
    const theirs = readFileSync(otherPath!);
    writeFileSync(path!, Buffer.concat([ours.subarray(0, 8 + 32), theirs.subarray(8 + 32)]));
    expect(await runOnce(file, cache)).toEqual({ value: 'one', state: 'rejected' });
    expect(await runOnce(file, cache)).toEqual({ value: 'one', state: 'hit' });
  });

  it('runs without a cache when its directory cannot be made', async () => {
    const dir = tmpDir();
    const blocker = join(dir, 'not-a-dir');
    writeFileSync(blocker, '');
    const file = script(dir, "'one'");
    expect(await runOnce(file, join(blocker, 'cache'))).toEqual({ value: 'one', state: 'miss' });
    expect(await runOnce(file, join(blocker, 'cache'))).toEqual({ value: 'one', state: 'miss' });
    expect(await runOnce(file, undefined)).toEqual({ value: 'one', state: 'off' });
  });

  it('lets errors of the script itself through', () => {
    const dir = tmpDir();
    const file = join(dir, 'bad.js');
    writeFileSync(file, '(function () {');
    expect(() => runCachedScript(file, join(dir, 'cache'))).toThrow(SyntaxError);
  });
});

describe('codeCacheDir', () => {
  it('is a directory of this user in the temp dir unless the environment says otherwise', () => {
    const uid = process.getuid?.();
    expect(codeCacheDir({})).toBe(
      join(tmpdir(), uid === undefined ? 'ocilayout-code-cache' : `ocilayout-code-cache-${uid}`),
    );
    expect(codeCacheDir({ OCILAYOUT_CODE_CACHE: '/some/dir' })).toBe('/some/dir');
    for (const off of ['', '0', 'off'])
      expect(codeCacheDir({ OCILAYOUT_CODE_CACHE: off })).toBeUndefined();
    expect(codeCacheDir({ NODE_DISABLE_COMPILE_CACHE: '1' })).toBeUndefined();
    expect(
      codeCacheDir({ NODE_DISABLE_COMPILE_CACHE: '1', OCILAYOUT_CODE_CACHE: '/x' }),
    ).toBeUndefined();
  });
});
