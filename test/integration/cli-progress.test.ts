// What long operations and a registry that is down look like from the CLI: on a pipe, one retry
// line at most and then the error with its code; on a terminal (`script`'s pty, which reports 0
// columns), retries on one line redrawn in place and a progress line no wider than 80 columns.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { freePort } from '../helpers/registry.js';
import { runCli, runCliInTerminal } from '../helpers/run-cli.js';
import { tmpDir } from '../helpers/tmp.js';

/** Clear to the end of the line (ANSI EL). */
const CLEAR = '\x1b[K';

const env = (dir: string): NodeJS.ProcessEnv => ({ DOCKER_CONFIG: join(dir, 'no-config') });

/** The lines of `text`, `\r\n` or `\n` ended, without the last empty one. */
const lines = (text: string): string[] => text.replace(/\r\n/g, '\n').split('\n').slice(0, -1);

describe('a registry nothing listens on', () => {
  it.each([
    ['copy', (port: number, dir: string) => ['copy', `docker://127.0.0.1:${port}/app:v1`, dir]],
    ['manifest get', (port: number) => ['manifest', 'get', `docker://127.0.0.1:${port}/app:v1`]],
  ])('%s on a pipe: one retry line, then the error naming ECONNREFUSED', async (_, args) => {
    const dir = tmpDir();
    const port = await freePort();
    const r = await runCli(args(port, join(dir, 'dest')), { env: env(dir) });
    expect(r.code).toBe(8);
    const out = lines(r.stderr);
    expect(out, r.stderr).toHaveLength(3);
    expect(out[0]).toMatch(
      new RegExp(
        `^ocilayout: warning: 127\\.0\\.0\\.1:${port} unreachable \\(ECONNREFUSED\\); retry 1/4 in .*further retries are not reported`,
      ),
    );
    expect(out[1]).toMatch(/^ocilayout: error \[E_NETWORK\]: .*ECONNREFUSED after 5 attempts$/);
    expect(out[2]).toMatch(/^ {2}hint: /);
  });

  it('sync on a pipe: one retry line for the whole run, the failure reported, its code the exit', async () => {
    const dir = tmpDir();
    const port = await freePort();
    const list = join(dir, 'images.txt');
    writeFileSync(list, `127.0.0.1:${port}/app:v1\n`);
    const r = await runCli(['sync', list, join(dir, 'dest')], { env: env(dir) });
    expect(r.code).toBe(8);
    expect(r.stderr.match(/retry \d\/4/g)).toEqual(['retry 1/4']);
    expect(r.stderr).toMatch(/\[1\/1\] 127\.0\.0\.1:\d+\/app:v1: failed: E_NETWORK/);
    expect(r.stderr).toMatch(/^ocilayout: error \[E_NETWORK\]/m);
  });

  it('--quiet: only the error', async () => {
    const dir = tmpDir();
    const port = await freePort();
    const r = await runCli(['manifest', 'get', '-q', `docker://127.0.0.1:${port}/app:v1`], {
      env: env(dir),
    });
    expect(r.code).toBe(8);
    expect(lines(r.stderr)[0]).toMatch(/^ocilayout: error \[E_NETWORK\]/);
  });

  it('on a terminal: every retry on one line, cleared before the error', async () => {
    const dir = tmpDir();
    const port = await freePort();
    const r = runCliInTerminal(['copy', `docker://127.0.0.1:${port}/app:v1`, join(dir, 'dest')]);
    expect(r.code).toBe(8);
    const [retries, ...rest] = lines(r.output);
    expect(rest).toHaveLength(1); // the hint
    expect(retries!.match(/retry \d\/4/g)).toEqual([
      'retry 1/4',
      'retry 2/4',
      'retry 3/4',
      'retry 4/4',
    ]);
    expect(retries).toContain(`\r${CLEAR}ocilayout: error [E_NETWORK]: `);
    expect(retries).toMatch(/ECONNREFUSED after 5 attempts$/);
  });
});

describe('progress on a terminal that reports 0 columns', () => {
  it('push draws whole frames at most 79 wide, and clears them before the result', () => {
    const dir = tmpDir();
    const file = join(dir, 'big.bin');
    writeFileSync(file, Buffer.alloc(8 * 1024 * 1024, 7));
    const r = runCliInTerminal(['push', `${join(dir, 'layout')}:v1`, file]);
    expect(r.code, r.output).toBe(0);
    const frames = r.output
      .split('\r')
      .filter((s) => s.startsWith('push '))
      .map((s) => (s.endsWith(CLEAR) ? s.slice(0, -CLEAR.length) : s));
    expect(frames.length).toBeGreaterThan(0);
    for (const f of frames) {
      expect(f.length).toBeLessThanOrEqual(79);
      expect(f).toMatch(/^push \[[#.]+\] +\d+% [\d.]+ [KMG]?i?B \/ 8\.0 MiB/);
    }
    expect(r.output.split(`\r${CLEAR}`).at(-1)).toMatch(/^sha256:[0-9a-f]{64}\r?\n$/);
  });

  it('push on a pipe: no progress at all', async () => {
    const dir = tmpDir();
    const file = join(dir, 'big.bin');
    writeFileSync(file, Buffer.alloc(8 * 1024 * 1024, 7));
    const r = await runCli(['push', `${join(dir, 'layout')}:v1`, file]);
    expect(r.code).toBe(0);
    expect(r.stderr).toBe(`created layout ${join(dir, 'layout')}\n`);
  });
});
