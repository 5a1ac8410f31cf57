// run(argv, io) in-process with a fake Io: the exit status for each error family, where messages
// and results go (stdout vs stderr), the --json error shape, and usage errors from yargs itself.
import { createServer, type Server } from 'node:http';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { run } from '../../src/cli/main.js';
import { EXIT_CODE, Layout } from '../../src/internal.js';
import { withLayoutLock } from '../../src/store/lock.js';
import { artifactLayout } from '../helpers/cli-layout.js';
import { fakeIo, jsonErrorOf, runInProcess, type InProcessResult } from '../helpers/fake-io.js';
import { layoutSnapshot } from '../helpers/snapshot.js';
import { tmpDir } from '../helpers/tmp.js';

/** Run once in text mode and once with --json; both must fail with `code`, the status its family's. */
async function expectFailure(argv: string[], code: keyof typeof EXIT_CODE): Promise<void> {
  const text = await runInProcess(argv);
  expect(text.code, text.stderr).toBe(EXIT_CODE[code]);
  expect(text.stdout).toBe('');
  expect(text.stderr).toContain(`[${code}]`);
  const json = await runInProcess(['--json', ...argv]);
  expect(json.code).toBe(EXIT_CODE[code]);
  expect(json.stdout).toBe('');
  expect(jsonErrorOf(json)).toMatchObject({ code, details: expect.any(Object) });
}

describe('run', () => {
  describe('when stdout stops taking output', () => {
    /** stdout failing every write with `code` on a later tick, as a closed pipe or full disk does. */
    function brokenStdout(code: string) {
      const f = fakeIo();
      const stdout = new Writable({
        write: (_c, _e, cb) =>
          setImmediate(() => cb(Object.assign(new Error(`${code}: injected`), { code }))),
      });
      return { io: { ...f.io, stdout }, stderr: f.stderr };
    }

    it.each([
      ['ENOSPC', ['tags'], /\[E_IO\].*ENOSPC/],
      ['ENOSPC', ['manifest', 'get'], /\[E_IO\].*ENOSPC/],
      ['EPIPE', ['tags'], /^$/], // a reader that left: quiet, as other Unix tools are
    ])('%s on %j exits 9 (E_IO), never 0 or an internal error', async (code, cmd, said) => {
      const a = await artifactLayout();
      const b = brokenStdout(code);
      const ref = cmd[0] === 'tags' ? a.dir : `${a.dir}:v1`;
      expect(await run([...cmd, ref], b.io)).toBe(EXIT_CODE.E_IO);
      expect(EXIT_CODE.E_IO).toBe(9);
      expect(b.stderr()).toMatch(said);
    });

    it('with --json, reports the failure as the JSON error line', async () => {
      const a = await artifactLayout();
      const b = brokenStdout('EPIPE');
      expect(await run(['tags', a.dir, '--json'], b.io)).toBe(9);
      const last = JSON.parse(b.stderr().trim()) as { error: { code: string } };
      expect(last.error).toMatchObject({ code: 'E_IO', details: { errno: 'EPIPE' } });
    });
  });

  describe('when the command succeeds', () => {
    it('exits 0 with the result on stdout and messages on stderr', async () => {
      const a = await artifactLayout();
      const r = await runInProcess(['tag', `${a.dir}:v1`, 'v2']);
      expect(r).toMatchObject({ code: 0, stdout: `${a.manifest.digest}\n` });
      expect(Layout.open(a.dir).tags()).toEqual(['v1', 'v2']);
    });

    it('prints JSON on stdout with --json given anywhere', async () => {
      const a = await artifactLayout();
      const r = await runInProcess(['resolve', `${a.dir}:v1`, '--json']);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ digest: a.manifest.digest });
    });

    it('silences info messages with --quiet / -q but keeps the result', async () => {
      const a = await artifactLayout();
      const loud = await runInProcess(['copy', `${a.dir}:v1`, join(a.work, 'loud')]);
      expect(loud.stderr).toContain('copied v1');
      for (const q of ['--quiet', '-q']) {
        const r = await runInProcess(['copy', `${a.dir}:v1`, join(a.work, q), q]);
        expect(r).toEqual({ code: 0, stdout: `${a.manifest.digest}\n`, stderr: '' });
      }
    });

    it('shows help and the version with exit 0', async () => {
      const help = await runInProcess(['--help']);
      expect(help.code).toBe(0);
      expect(help.stdout).toContain('ocilayout <command>');
      expect(help.stdout).toContain('Exit codes:');
      const version = await runInProcess(['--version']);
      expect(version.code).toBe(0);
      expect(version.stdout.trim()).toMatch(/^\d+\.\d+\.\d+/);
    });
  });

  describe('when the arguments are wrong', () => {
    it.each([
      [[]],
      [['no-such-command']],
      [['tags']],
      [['tags', 'a', 'b']],
      [['tags', '.', '--no-such-flag']],
      [['push', 'x:v1', 'f', '--annotation']], // nargs:1 with no value: a yargs YError
      [['copy', '--concurrency', '0', 'a:v1', 'b']],
      [['tags', '.', '--lock-timeout', 'abc']], // NaN: a writer would wait forever
      [['tags', '.', '--lock-timeout', '-1']],
    ])('%j exits 2 with E_USAGE, a pointer to --help, nothing on stdout', async (argv) => {
      const r = await runInProcess(argv);
      expect(r.code, r.stderr).toBe(2);
      expect(r.stdout).toBe('');
      expect(r.stderr).toContain('--help');
      const json = await runInProcess([...argv, '--json']);
      expect(json.code).toBe(2);
      expect(json.stdout).toBe('');
      expect(jsonErrorOf(json).code).toBe('E_USAGE');
    });

    it('maps a malformed reference to exit 2 with its own code', async () => {
      await expectFailure(['resolve', 'dir@sha256:zz'], 'E_INVALID_DIGEST');
      await expectFailure(['untag', 'dir'], 'E_INVALID_REFERENCE');
    });
  });

  describe('when the library throws', () => {
    it('exits 3 for a missing layout or tag', async () => {
      const a = await artifactLayout();
      await expectFailure(['tags', join(a.work, 'nowhere')], 'E_NOT_A_LAYOUT');
      await expectFailure(['resolve', `${a.dir}:nope`], 'E_NOT_FOUND');
    });

    it('exits 4 for a corrupt index.json and leaves it alone', async () => {
      const a = await artifactLayout();
      writeFileSync(join(a.dir, 'index.json'), '{"manifests": [');
      const before = layoutSnapshot(a.dir);
      await expectFailure(['tag', `${a.dir}:v1`, 'v2'], 'E_INVALID_JSON');
      expect(layoutSnapshot(a.dir)).toEqual(before);
    });

    it('exits 5 while another writer holds the lock', async () => {
      const a = await artifactLayout();
      const before = layoutSnapshot(a.dir);
      await withLayoutLock(a.dir, () =>
        expectFailure(['tag', `${a.dir}:v1`, 'v2', '--lock-timeout', '0.05'], 'E_LOCK_TIMEOUT'),
      );
      expect(layoutSnapshot(a.dir)).toEqual(before);
    });

    it('exits 6 for a manifest over the size cap from stdin', async () => {
      const a = await artifactLayout();
      const f = fakeIo({ stdin: Buffer.alloc(4 * 1024 * 1024 + 1, 0x20) });
      const code = await run(['manifest', 'put', `${a.dir}:big`, '-', '--json'], f.io);
      expect(code).toBe(6);
      expect(jsonErrorOf({ code, stdout: f.stdout(), stderr: f.stderr() }).code).toBe(
        'E_TOO_LARGE',
      );
    });

    it('exits 7 when init meets a file', async () => {
      const work = tmpDir();
      writeFileSync(join(work, 'file'), 'x');
      await expectFailure(['init', join(work, 'file')], 'E_CONFLICT');
    });

    it('exits 9 for an I/O failure writing the output', async () => {
      const a = await artifactLayout();
      writeFileSync(join(a.work, 'plain'), 'x');
      const out = join(a.work, 'plain', 'blob');
      await expectFailure(['blob', 'get', `${a.dir}@${a.layers['a.txt']}`, '-o', out], 'E_IO');
    });
  });

  describe('when a registry fails', () => {
    let server: Server | undefined;
    afterEach(async () => {
      if (server !== undefined) await new Promise((r) => server!.close(r));
      server = undefined;
    });

    it('exits 8 for an unexpected registry status', async () => {
      server = createServer((_req, res) => {
        res.writeHead(400, { 'content-type': 'application/json' });
        res.end('{"errors":[{"code":"DENIED","message":"no"}]}');
      });
      await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
      const port = (server.address() as { port: number }).port;
      const a = await artifactLayout();
      await expectFailure(
        ['copy', `${a.dir}:v1`, `docker://127.0.0.1:${port}/app`, '--plain-http', '127.0.0.1'],
        'E_REGISTRY',
      );
    });
  });

  describe('when something that is not an OcilayoutError escapes', () => {
    it('exits 1 as an internal error, with the stack only under --debug', async () => {
      const dir = join(tmpDir(), 'l');
      mkdirSync(dir);
      const spy = vi.spyOn(Layout, 'open').mockImplementation(() => {
        throw new TypeError('boom');
      });
      try {
        const plain: InProcessResult = await runInProcess(['tags', dir]);
        expect(plain.code).toBe(1);
        expect(plain.stderr).toContain('internal error: boom');
        expect(plain.stderr).not.toContain('    at ');
        const debug = await runInProcess(['tags', dir, '--debug']);
        expect(debug.code).toBe(1);
        expect(debug.stderr).toContain('    at ');
        const json = await runInProcess(['tags', dir, '--json']);
        expect(json.code).toBe(1);
        expect(jsonErrorOf(json)).toEqual({ code: 'E_INTERNAL', message: 'boom', details: {} });
      } finally {
        spy.mockRestore();
      }
    });
  });

  it('prints a hint line after the error when the error has one', async () => {
    const dir = join(tmpDir(), 'nowhere');
    const r = await runInProcess(['tags', dir]);
    expect(r.stderr).toMatch(/^ocilayout: error \[E_NOT_A_LAYOUT\]: .*\n {2}hint: /);
    const json = await runInProcess(['tags', dir, '--json']);
    expect(r.code).toBe(3);
    expect(jsonErrorOf(json).hint).toEqual(expect.any(String));
    expect(json.stderr.trim().split('\n')).toHaveLength(1);
  });
});
