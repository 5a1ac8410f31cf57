// archive.ts in-process: export's destinations (file, or stdout with the summary moved to stderr,
// never a terminal), --ref parsing, import's flags and summary, and parseSize.
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { parseSize } from '../../../src/cli/commands/archive.js';
import { run } from '../../../src/cli/main.js';
import { Layout } from '../../../src/internal.js';
import { artifactLayout } from '../../helpers/cli-layout.js';
import { fakeIo, jsonErrorOf, runInProcess } from '../../helpers/fake-io.js';

describe('export', () => {
  it('writes a file, prints its path, and takes --ref before the positional', async () => {
    const a = await artifactLayout();
    const out = join(a.work, 'x.tar');
    const r = await runInProcess(['export', a.dir, '--ref', 'v1', out]);
    expect(r).toMatchObject({ code: 0, stdout: `${out}\n` });
    expect(r.stderr).toMatch(/^exported 1 entry, 4 blobs \(.*\) to .*x\.tar as oci\n$/);
    expect(readFileSync(out).length).toBeGreaterThan(1024);
  });

  it('streams the tar to stdout with - and moves the --json summary to stderr', async () => {
    const a = await artifactLayout();
    const f = fakeIo();
    expect(await run(['export', a.dir, '-', '--json'], f.io)).toBe(0);
    expect(f.stdout().slice(257, 262)).toBe('ustar'); // a tar header, not JSON
    expect(JSON.parse(f.stderr())).toMatchObject({ format: 'oci', blobs: 4 });
  });

  it('refuses to write a tar to a terminal (E_USAGE)', async () => {
    const a = await artifactLayout();
    const f = fakeIo();
    const tty = Object.assign(new PassThrough(), { isTTY: true });
    const code = await run(['export', a.dir, '-', '--json'], { ...f.io, stdout: tty });
    expect(code).toBe(2);
    expect(jsonErrorOf({ code, stdout: '', stderr: f.stderr() }).code).toBe('E_USAGE');
  });
});

describe('import', () => {
  it('reads stdin with -, prints one line per entry and a summary', async () => {
    const a = await artifactLayout();
    const tar = join(a.work, 'x.tar');
    await runInProcess(['export', a.dir, tar]);
    const dst = join(a.work, 'dst');
    const r = await runInProcess(['import', '-', dst], { stdin: readFileSync(tar) });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(`v1 ${a.manifest.digest.slice(0, 19)} added\n`);
    expect(r.stderr).toMatch(
      /^imported stdin \(oci\) into .*: 1 added, 0 already present; 4 blobs, 4 new/,
    );
    expect(Layout.open(dst).tags()).toEqual(['v1']);
  });

  it('refuses a negative --max-ratio and a bad --max-size, and honours --max-size', async () => {
    const a = await artifactLayout();
    const tar = join(a.work, 'x.tar');
    await runInProcess(['export', a.dir, tar]);
    const dst = join(a.work, 'dst');
    for (const flags of [
      ['--max-ratio', '-1'],
      ['--max-size', 'lots'],
    ]) {
      const r = await runInProcess(['import', tar, dst, ...flags, '--json']);
      expect(jsonErrorOf(r).code).toBe('E_USAGE');
    }
    const small = await runInProcess(['import', tar, dst, '--max-size', '1K', '--json']);
    expect(small.code).toBe(6);
    expect(jsonErrorOf(small).code).toBe('E_TOO_LARGE');
  });
});

describe('parseSize', () => {
  it.each([
    ['0', 0],
    ['1048576', 1048576],
    ['512K', 512 * 1024],
    ['1.5k', 1536],
    ['20M', 20 * 1024 ** 2],
    ['4GiB', 4 * 1024 ** 3],
    ['2 TB', 2 * 1024 ** 4],
    ['7B', 7],
  ])('%s → %i', (text, bytes) => {
    expect(parseSize(text)).toBe(bytes);
  });

  it.each(['', 'lots', '-1', '1P', '1.2.3M', 'M'])('refuses %j (E_USAGE)', (text) => {
    expect(() => parseSize(text)).toThrow(expect.objectContaining({ code: 'E_USAGE' }));
  });
});
