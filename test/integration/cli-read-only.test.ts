// A layout on a read-only filesystem: every command that would write says E_IO (exit 9) and names
// the path and the read-only filesystem. Node's recursive mkdir reports EROFS as ENOENT, which once
// made push/copy/import say "not found" about a layout that is plainly there.
import { cpSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Layout, exportArchive, pushFiles } from '../../src/internal.js';
import { jsonError } from '../helpers/cli-layout.js';
import { runCli } from '../helpers/run-cli.js';
import { mountSmallFs, smallFsUnavailable } from '../helpers/small-fs.js';
import { layoutSnapshot } from '../helpers/snapshot.js';
import { tmpDir } from '../helpers/tmp.js';

const unavailable = smallFsUnavailable();
if (unavailable !== undefined) console.warn(`SKIP read-only filesystem tests: ${unavailable}`);

describe.skipIf(unavailable !== undefined)('a layout on a read-only filesystem', () => {
  /**
   * A pushed layout, an archive of it and a file to push on a writable filesystem; the layout also
   * copied to a fresh tmpfs without ingest/ (as a read-only image ships it), made read-only.
   */
  async function readOnlyLayout(): Promise<{ work: string; fs: string; dir: string }> {
    const work = tmpDir('ocilayout-ro-');
    writeFileSync(join(work, 'a.txt'), 'hello\n');
    const src = Layout.init(join(work, 'src')).layout;
    await pushFiles(src, [{ path: join(work, 'a.txt') }], { tag: 'v1' });
    src.close();
    await exportArchive(join(work, 'src'), join(work, 'src.tar'));
    const small = mountSmallFs('4m');
    const dir = join(small.dir, 'layout');
    cpSync(join(work, 'src'), dir, { recursive: true });
    rmSync(join(dir, 'ingest'), { recursive: true, force: true });
    small.readOnly();
    return { work, fs: small.dir, dir };
  }

  const commands: [string, (dir: string, fs: string, work: string) => string[]][] = [
    ['push', (dir, _fs, work) => ['push', `${dir}:v2`, join(work, 'a.txt')]],
    ['blob put', (dir, _fs, work) => ['blob', 'put', dir, join(work, 'a.txt')]],
    ['copy into it', (dir, _fs, work) => ['copy', `${join(work, 'src')}:v1`, `${dir}:v2`]],
    [
      'copy --no-link into it',
      (dir, _fs, work) => ['copy', '--no-link', `${join(work, 'src')}:v1`, `${dir}:v2`],
    ],
    ['import into it', (dir, _fs, work) => ['import', join(work, 'src.tar'), dir]],
    [
      'attach',
      (dir, _fs, work) => ['attach', `${dir}:v1`, join(work, 'a.txt'), '--artifact-type', 'a/b'],
    ],
    ['tag', (dir) => ['tag', `${dir}:v1`, 'v2']],
    ['gc', (dir) => ['gc', dir]],
    ['init a new layout there', (_dir, fs) => ['init', join(fs, 'new')]],
    ['pull into it', (dir, fs) => ['pull', `${dir}:v1`, '-o', join(fs, 'out')]],
  ];

  it.each(commands)('%s: E_IO naming the read-only filesystem, exit 9', async (_name, args) => {
    const { work, fs, dir } = await readOnlyLayout();
    const before = layoutSnapshot(dir);
    const r = await runCli(['--json', ...args(dir, fs, work)]);
    const err = jsonError(r);
    expect({ exit: r.code, code: err.code }).toEqual({ exit: 9, code: 'E_IO' });
    expect(err.message).toContain(fs);
    expect(err.message).toMatch(/read-only file system/i);
    expect(err.hint).toMatch(/read-only/);
    expect(layoutSnapshot(dir)).toEqual(before);
  });

  it('reading still works: tags, manifest get, fsck', async () => {
    const { dir } = await readOnlyLayout();
    expect((await runCli(['tags', dir])).stdout).toBe('v1\n');
    expect((await runCli(['manifest', 'get', `${dir}:v1`])).code).toBe(0);
    expect((await runCli(['fsck', dir])).code).toBe(0);
  });
});
