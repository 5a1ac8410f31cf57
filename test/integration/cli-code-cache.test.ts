// The built CLI (bin.js running the bundle through cli/code-cache.ts): it writes its code cache on
// the first run, runs from it on the next, and a damaged cache costs nothing but the compile.
// Build first: `npm run build`.
import {
  chmodSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { VERSION } from '../../src/cli/version.js';
import { runCli } from '../helpers/run-cli.js';
import { tmpDir, tmpLayout } from '../helpers/tmp.js';

describe('the CLI and its code cache', () => {
  it('writes one cache file, runs from it, and outlives a corrupt one', async () => {
    const cache = join(tmpDir(), 'cache');
    const env = { OCILAYOUT_CODE_CACHE: cache, NODE_DISABLE_COMPILE_CACHE: undefined };
    expect(await runCli(['--version'], { env })).toEqual({
      code: 0,
      stdout: `${VERSION}\n`,
      stderr: '',
    });
    const files = readdirSync(cache);
    expect(files).toHaveLength(1);
    const path = join(cache, files[0]!);
    const first = readFileSync(path);
    expect(first.length).toBeGreaterThan(100_000); // the bundle's compiled code

    const layout = tmpLayout();
    const tags = await runCli(['tags', layout.root, '--json'], { env });
    expect(tags).toMatchObject({ code: 0, stderr: '' });
    expect(readFileSync(path).equals(first)).toBe(true); // used as it was, not rewritten

    const broken = Buffer.from(first);
    for (let i = 1000; i < broken.length; i += 4096) broken[i]! ^= 0xff;
    writeFileSync(path, broken);
    expect(await runCli(['--version'], { env })).toEqual({
      code: 0,
      stdout: `${VERSION}\n`,
      stderr: '',
    });
    expect(readFileSync(path).equals(broken)).toBe(false); // replaced by a good one
  });

  it('writes nothing through a symlink, nor into a directory others may write', async () => {
    const dir = tmpDir();
    const open = join(dir, 'open');
    mkdirSync(open);
    chmodSync(open, 0o777);
    const link = join(dir, 'link');
    symlinkSync(open, link);
    for (const cache of [link, open]) {
      const r = await runCli(['--version'], {
        env: { OCILAYOUT_CODE_CACHE: cache, NODE_DISABLE_COMPILE_CACHE: undefined },
      });
      expect(r).toEqual({ code: 0, stdout: `${VERSION}\n`, stderr: '' });
      expect(readdirSync(open)).toEqual([]);
    }
  });

  it('writes nothing when turned off', async () => {
    const cache = join(tmpDir(), 'cache');
    const r = await runCli(['--version'], {
      env: { OCILAYOUT_CODE_CACHE: cache, NODE_DISABLE_COMPILE_CACHE: '1' },
    });
    expect(r).toMatchObject({ code: 0, stdout: `${VERSION}\n` });
    expect(existsSync(cache)).toBe(false);
  });
});
