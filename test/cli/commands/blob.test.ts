// blob.ts in-process: the argument rules and outputs of blob put/get/stat/delete/list.
import { readFileSync, writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { digestOf, Layout, parseDigest } from '../../../src/internal.js';
import { artifactLayout } from '../../helpers/cli-layout.js';
import { jsonErrorOf, runInProcess } from '../../helpers/fake-io.js';
import { imageIndex, imageManifest, makeLayout, tagged } from '../../helpers/make-layout.js';
import { layoutSnapshot } from '../../helpers/snapshot.js';

describe('blob put', () => {
  it('stores stdin and prints the digest', async () => {
    const a = await artifactLayout();
    const r = await runInProcess(['blob', 'put', a.dir, '-'], { stdin: 'from stdin' });
    expect(r).toMatchObject({ code: 0, stdout: `${digestOf('from stdin')}\n` });
    expect(Layout.open(a.dir).blobs.has(parseDigest(digestOf('from stdin')))).toBe(true);
  });

  it.each([['-1'], ['1.5']])('refuses --size %s (E_USAGE) before reading', async (size) => {
    const a = await artifactLayout();
    const before = layoutSnapshot(a.dir);
    const r = await runInProcess(['blob', 'put', a.dir, '-', '--size', size, '--json'], {
      stdin: 'x',
    });
    expect(jsonErrorOf(r).code).toBe('E_USAGE');
    expect(layoutSnapshot(a.dir)).toEqual(before);
  });
});

describe('blob get', () => {
  it('streams the blob to stdout, or to -o FILE with a --json report', async () => {
    const a = await artifactLayout();
    const ref = `${a.dir}@${a.layers['a.txt']}`;
    expect((await runInProcess(['blob', 'get', ref])).stdout).toBe('hello\n');
    const out = join(a.work, 'copy');
    const r = await runInProcess(['blob', 'get', ref, '-o', out, '--json']);
    expect(JSON.parse(r.stdout)).toEqual({ digest: a.layers['a.txt'], size: 6, path: out });
    expect(readFileSync(out, 'utf8')).toBe('hello\n');
  });

  it('refuses --json without -o, and a blob that is not there (E_NOT_FOUND)', async () => {
    const a = await artifactLayout();
    const json = await runInProcess(['blob', 'get', `${a.dir}@${a.layers['a.txt']}`, '--json']);
    expect(jsonErrorOf(json).code).toBe('E_USAGE');
    const absent = await runInProcess([
      'blob',
      'get',
      `${a.dir}@${digestOf('absent')}`,
      '-o',
      join(a.work, 'never'),
      '--json',
    ]);
    expect(absent.code).toBe(3);
    expect(jsonErrorOf(absent).code).toBe('E_NOT_FOUND');
  });

  it('holds a blob to --size, else to the size a manifest declares for it', async () => {
    const a = await artifactLayout();
    const sized = await runInProcess([
      'blob',
      'get',
      `${a.dir}@${a.layers['a.txt']}`,
      '--size',
      '5',
    ]);
    expect(sized.code).toBe(4);
    expect(sized.stderr).toContain('[E_SIZE_MISMATCH]');
    // A manifest that declares 4 bytes for a 5-byte layer (written by hand: our writers refuse).
    const m = makeLayout({
      blobs: {
        config: { os: 'linux' },
        layer: 'hello',
        manifest: (d) => imageManifest(d['config']!, [{ ...d['layer']!, size: 4 }]),
      },
      index: (d) => imageIndex([tagged(d['manifest']!, 'v1')]),
    });
    const declared = await runInProcess(['blob', 'get', `${m.root}@${m.d['layer']!.digest}`]);
    expect(declared.code).toBe(4);
    expect(declared.stderr).toContain('[E_SIZE_MISMATCH]');
    const loose = await runInProcess(['blob', 'get', `${m.root}@${m.d['config']!.digest}`]);
    expect(loose).toMatchObject({ code: 0, stdout: '{"os":"linux"}' });
  });
});

describe('blob stat', () => {
  it('prints digest, size and media type, or (unreferenced)', async () => {
    const a = await artifactLayout();
    const stat = await runInProcess(['blob', 'stat', `${a.dir}@${a.layers['b.json']}`]);
    expect(stat.stdout).toBe(`${a.layers['b.json']}\t7\tapplication/json\n`);
    const loose = a.layout.blobs.putBytes(Buffer.from('loose')).digest;
    const json = await runInProcess(['blob', 'stat', `${a.dir}@${loose}`, '--json']);
    expect(JSON.parse(json.stdout)).toEqual({ digest: loose, size: 5, referenced: false });
    expect((await runInProcess(['blob', 'stat', `${a.dir}@${loose}`])).stdout).toBe(
      `${loose}\t5\t(unreferenced)\n`,
    );
  });
});

describe('blob delete and list', () => {
  it('deletes an unreferenced blob, refuses a referenced one unless --force', async () => {
    const a = await artifactLayout();
    const loose = a.layout.blobs.putBytes(Buffer.from('loose')).digest;
    expect((await runInProcess(['blob', 'delete', `${a.dir}@${loose}`])).stdout).toBe(`${loose}\n`);
    const refused = await runInProcess([
      'blob',
      'delete',
      `${a.dir}@${a.layers['a.txt']}`,
      '--json',
    ]);
    expect(jsonErrorOf(refused).code).toBe('E_CONFLICT');
    const forced = await runInProcess([
      'blob',
      'delete',
      `${a.dir}@${a.layers['a.txt']}`,
      '--force',
    ]);
    expect(forced.code).toBe(0);
    expect(Layout.open(a.dir).blobs.has(a.layers['a.txt'])).toBe(false);
  });

  it('lists digests on stdout and warns about strays on stderr', async () => {
    const a = await artifactLayout();
    mkdirSync(join(a.dir, 'blobs', 'sha256'), { recursive: true });
    writeFileSync(join(a.dir, 'blobs', 'sha256', 'junk'), 'x');
    const r = await runInProcess(['blob', 'list', a.dir]);
    expect(r.stdout.trim().split('\n')).toHaveLength(4);
    expect(r.stdout).toContain(a.layers['a.txt']);
    expect(r.stderr).toContain('warning: stray file');
    expect((await runInProcess(['blob'])).code).toBe(2);
  });
});
