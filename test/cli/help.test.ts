// Every command prints --help with at least one example, in-process (no child process needed).
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import type { Io } from '../../src/cli/io.js';
import { run } from '../../src/cli/main.js';

async function runInProcess(argv: string[]): Promise<{ code: number; stdout: string }> {
  const stdout = new PassThrough();
  const chunks: Buffer[] = [];
  stdout.on('data', (c: Buffer) => chunks.push(c));
  const io: Io = {
    stdout,
    stderr: new PassThrough(),
    stdin: Readable.from([]),
    isTTY: false,
    env: {},
  };
  const code = await run(argv, io);
  return { code, stdout: Buffer.concat(chunks).toString('utf8') };
}

describe('--help', () => {
  it.each([
    ['info'],
    ['push'],
    ['pull'],
    ['tag'],
    ['untag'],
    ['tags'],
    ['resolve'],
    ['manifest'],
    ['manifest', 'get'],
    ['manifest', 'put'],
    ['manifest', 'delete'],
    ['blob'],
    ['blob', 'put'],
    ['blob', 'get'],
    ['blob', 'stat'],
    ['blob', 'delete'],
    ['blob', 'list'],
    ['init'],
    ['copy'],
    ['sync'],
    ['fsck'],
    ['gc'],
    ['export'],
    ['import'],
    ['attach'],
    ['discover'],
    ['detach'],
    ['convert'],
    ['serve'],
  ])('%s %s shows usage and an example', async (...cmd) => {
    const r = await runInProcess([...cmd, '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain(`ocilayout ${cmd.join(' ')}`);
    const examples = r.stdout.slice(r.stdout.indexOf('Examples:'));
    expect(examples).toContain(`ocilayout ${cmd.join(' ')} `);
  });

  it('lists exactly the commands checked above at the top level', async () => {
    const r = await runInProcess(['--help']);
    const listed = [...r.stdout.matchAll(/^ {2}ocilayout (\S+)/gm)].map((m) => m[1]).sort();
    expect(listed).toEqual(
      [
        'init',
        'info',
        'push',
        'pull',
        'tag',
        'untag',
        'tags',
        'resolve',
        'manifest',
        'blob',
        'copy',
        'sync',
        'fsck',
        'gc',
        'export',
        'import',
        'attach',
        'discover',
        'detach',
        'convert',
        'serve',
      ].sort(),
    );
  });

  it('serve --help says what --verify-reads once cannot see and always can', async () => {
    const r = await runInProcess(['serve', '--help']);
    const text = r.stdout.replace(/\s+/g, ' ');
    expect(text).toMatch(
      /--verify-reads hash a blob on every download \(always: also catches damage that changes no timestamp, such as a bad disk sector\), or once per change of its file/,
    );
  });

  it('describes the built-in options in the same lower-case words as ours', async () => {
    const r = await runInProcess(['--help']);
    expect(r.stdout).toContain('show this help');
    expect(r.stdout).toContain('print the version');
    expect(r.stdout).not.toMatch(/Show (help|version)/);
  });
});
