import { readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { digestOf } from '../../src/internal.js';
import { artifactLayout, jsonError } from '../helpers/cli-layout.js';
import { cliOk, runCli, runCliInTerminal } from '../helpers/run-cli.js';
import { layoutSnapshot } from '../helpers/snapshot.js';

describe('ocilayout blob', () => {
  it('put (file and stdin), get (stdout and -o), stat, list, delete', async () => {
    const f = await artifactLayout();
    writeFileSync(join(f.work, 'data.bin'), 'some data');
    const d = digestOf('some data');
    expect((await cliOk(['blob', 'put', f.dir, join(f.work, 'data.bin')])).trim()).toBe(d);
    const piped = JSON.parse(
      await cliOk(
        ['blob', 'put', f.dir, '-', '--json', '--digest', digestOf('piped'), '--size', '5'],
        {
          input: 'piped',
        },
      ),
    );
    expect(piped).toEqual({ digest: digestOf('piped'), size: 5, existed: false });

    expect(await cliOk(['blob', 'get', `${f.dir}@${d}`])).toBe('some data');
    const out = join(f.work, 'got.bin');
    const got = JSON.parse(await cliOk(['blob', 'get', `${f.dir}@${d}`, '-o', out, '--json']));
    expect(got).toEqual({ digest: d, size: 9, path: out });
    expect(readFileSync(out, 'utf8')).toBe('some data');

    expect(await cliOk(['blob', 'stat', `${f.dir}@${f.layers['b.json']}`])).toBe(
      `${f.layers['b.json']}\t7\tapplication/json\n`,
    );
    expect(JSON.parse(await cliOk(['blob', 'stat', `${f.dir}@${d}`, '--json']))).toEqual({
      digest: d,
      size: 9,
      referenced: false,
    });

    const list = (await cliOk(['blob', 'list', f.dir])).trim().split('\n');
    expect(list).toHaveLength(6);
    expect(list).toContain(d);
    expect(JSON.parse(await cliOk(['blob', 'list', f.dir, '--json']))).toEqual(list);

    expect((await cliOk(['blob', 'delete', `${f.dir}@${d}`])).trim()).toBe(d);
    const gone = await runCli(['blob', 'stat', `${f.dir}@${d}`, '--json']);
    expect(gone.code).toBe(3);
    expect(jsonError(gone).code).toBe('E_NOT_FOUND');
  });

  it('get refuses to write a blob to a terminal (exit 2) but writes it through a pipe', async () => {
    const f = await artifactLayout();
    const binary = Buffer.from([0x1b, 0x5b, 0x32, 0x4a, 0x00, 0xff, 0x42, 0x4c, 0x4f, 0x42]);
    writeFileSync(join(f.work, 'data.bin'), binary);
    const d = (await cliOk(['blob', 'put', f.dir, join(f.work, 'data.bin')])).trim();
    const tty = runCliInTerminal(['blob', 'get', `${f.dir}@${d}`]);
    expect(tty.code).toBe(2);
    expect(tty.output).toContain('refusing to write a blob to a terminal');
    expect(tty.output).toContain('hint: give -o FILE');
    expect(tty.output).not.toContain('BLOB');
    // -o on a terminal is fine; so is a pipe (runCli's stdout).
    const out = join(f.work, 'got.bin');
    expect(runCliInTerminal(['blob', 'get', `${f.dir}@${d}`, '-o', out]).code).toBe(0);
    expect(readFileSync(out)).toEqual(binary);
    const piped = await runCli(['blob', 'get', `${f.dir}@${d}`]);
    expect(piped.code).toBe(0);
    expect(piped.stdout).toContain('BLOB');
  });

  it('refuses to delete a referenced blob (exit 7) unless --force', async () => {
    const f = await artifactLayout();
    const before = layoutSnapshot(f.dir);
    const r = await runCli(['blob', 'delete', `${f.dir}@${f.layers['a.txt']}`, '--json']);
    expect(r.code).toBe(7);
    expect(jsonError(r).code).toBe('E_CONFLICT');
    expect(layoutSnapshot(f.dir)).toEqual(before);
    await cliOk(['blob', 'delete', `${f.dir}@${f.layers['a.txt']}`, '--force']);
    expect(f.layout.blobs.has(f.layers['a.txt'])).toBe(false);
  });

  it('put refuses content that does not match --digest / --size and stores nothing', async () => {
    const f = await artifactLayout();
    const before = layoutSnapshot(f.dir);
    const wrongDigest = await runCli(
      ['blob', 'put', f.dir, '-', '--json', '--digest', digestOf('x')],
      {
        input: 'y',
      },
    );
    expect(wrongDigest.code).toBe(4);
    expect(jsonError(wrongDigest).code).toBe('E_DIGEST_MISMATCH');
    const wrongSize = await runCli(['blob', 'put', f.dir, '-', '--json', '--size', '3'], {
      input: 'four',
    });
    expect(wrongSize.code).toBe(4);
    expect(jsonError(wrongSize).code).toBe('E_SIZE_MISMATCH');
    expect(layoutSnapshot(f.dir)).toEqual(before);
  });

  it.each([
    ['corrupted', 'E_DIGEST_MISMATCH', (p: string) => writeFileSync(p, 'HELLO\n')],
    ['truncated', 'E_SIZE_MISMATCH', (p: string) => truncateSync(p, 3)],
  ])('get of a %s blob fails with %s and leaves no -o file', async (_n, code, damage) => {
    const f = await artifactLayout();
    damage(f.layout.blobs.path(f.layers['a.txt']));
    const before = layoutSnapshot(f.dir);
    const toFile = await runCli([
      'blob',
      'get',
      `${f.dir}@${f.layers['a.txt']}`,
      '-o',
      join(f.work, 'got'),
      '--json',
    ]);
    expect(toFile.code).toBe(4);
    expect(jsonError(toFile).code).toBe(code);
    expect(
      readdirSync(f.work).filter((n) => n.startsWith('got') || n.startsWith('.ocilayout')),
    ).toEqual([]);
    const toStdout = await runCli(['blob', 'get', `${f.dir}@${f.layers['a.txt']}`]);
    expect(toStdout.code).toBe(4);
    expect(toStdout.stderr).toContain(code);
    expect(layoutSnapshot(f.dir)).toEqual(before);
  });
});
