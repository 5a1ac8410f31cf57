// copy.ts in-process: argument checks before anything is opened, the result on stdout (digest, or
// JSON with the destination), the summary on stderr, progress only on a terminal; with docker://
// endpoints against the referrers test server (per-blob progress, --plain-http, credentials).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { Io } from '../../../src/cli/io.js';
import { run } from '../../../src/cli/main.js';
import { Layout } from '../../../src/internal.js';
import { artifactLayout } from '../../helpers/cli-layout.js';
import { fakeIo, jsonErrorOf, runInProcess } from '../../helpers/fake-io.js';
import { startReferrersServer, type ReferrersServer } from '../../helpers/referrers-server.js';
import { layoutSnapshot } from '../../helpers/snapshot.js';
import { tmpDir } from '../../helpers/tmp.js';
import { makeFixture } from '../../registry/fixture.js';

describe('copy', () => {
  it.each([
    [['--concurrency', '0'], 'E_USAGE'],
    [['--concurrency', '1.5'], 'E_USAGE'],
    [['--convention', 'per-manifest'], 'E_USAGE'],
  ])('refuses %j (%s) before creating the destination', async (flags, code) => {
    const a = await artifactLayout();
    const dst = join(a.work, 'dst');
    const r = await runInProcess(['copy', `${a.dir}:v1`, dst, ...flags, '--json']);
    expect(r.code).toBe(2);
    expect(jsonErrorOf(r).code).toBe(code);
    expect(existsSync(dst)).toBe(false);
  });

  it('refuses a destination that names a digest (E_INVALID_REFERENCE)', async () => {
    const a = await artifactLayout();
    const dst = join(a.work, 'dst');
    const r = await runInProcess(['copy', `${a.dir}:v1`, `${dst}@${a.manifest.digest}`, '--json']);
    expect(jsonErrorOf(r).code).toBe('E_INVALID_REFERENCE');
    expect(existsSync(dst)).toBe(false);
  });

  it('prints the digest, the summary on stderr, and tags as the source unless told', async () => {
    const a = await artifactLayout();
    const dst = join(a.work, 'dst');
    const r = await runInProcess(['copy', `${a.dir}:v1`, dst, '--no-link']);
    expect(r).toMatchObject({ code: 0, stdout: `${a.manifest.digest}\n` });
    expect(r.stderr).toBe(
      `copied v1 to ${dst}: 0 linked, 4 copied, 0 already there, 707 B placed\n`,
    );
    expect(Layout.open(dst).tags()).toEqual(['v1']);
    const json = await runInProcess(['copy', `${a.dir}:v1`, `${dst}:again`, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({
      destination: dst,
      tag: 'again',
      descriptor: { digest: a.manifest.digest },
    });
    expect(json.stderr).toBe('');
    expect(Layout.open(dst).tags()).toEqual(['again', 'v1']);
  });

  it('draws a blob counter and bytes on a terminal only', async () => {
    const a = await artifactLayout();
    const tty = fakeIo({ isTTY: true });
    expect(await run(['copy', `${a.dir}:v1`, join(a.work, 'tty')], tty.io)).toBe(0);
    expect(tty.stderr()).toMatch(/\rcopy \[4\/4\] \[#+\] 100% [\d.]+ (B|KiB) \/ [\d.]+ (B|KiB)/);
    const plain = fakeIo({ isTTY: false });
    expect(await run(['copy', `${a.dir}:v1`, join(a.work, 'plain')], plain.io)).toBe(0);
    expect(plain.stderr()).not.toContain('[4/4]');
  });
});

function ttyIo(isTTY: boolean): { io: Io; out: () => string; err: () => string } {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const o: Buffer[] = [];
  const e: Buffer[] = [];
  stdout.on('data', (b: Buffer) => o.push(b));
  stderr.on('data', (b: Buffer) => e.push(b));
  const io: Io = { stdout, stderr, stdin: Readable.from([]), isTTY, env: {} };
  return { io, out: () => Buffer.concat(o).toString(), err: () => Buffer.concat(e).toString() };
}

describe('copy with docker:// endpoints (CLI layer)', () => {
  let server: ReferrersServer | undefined;
  const savedConfig = process.env['DOCKER_CONFIG'];
  afterEach(async () => {
    await server?.close();
    server = undefined;
    if (savedConfig === undefined) delete process.env['DOCKER_CONFIG'];
    else process.env['DOCKER_CONFIG'] = savedConfig;
  });

  it('shows overall progress on a TTY, then a summary', async () => {
    const work = tmpDir();
    const f = await makeFixture(work, 'fallback-tag', 2_000_000);
    server = await startReferrersServer();
    process.env['DOCKER_CONFIG'] = work; // no config.json there
    const t = ttyIo(true);
    const code = await run(
      ['copy', '--referrers', `${f.layout.root}:v1`, `docker://${server.host}/app`],
      t.io,
    );
    expect(code, t.err()).toBe(0);
    const ESC = String.fromCharCode(27); // the line is redrawn with CR + "erase line"
    expect(t.err()).toContain(`${ESC}[K\rcopy [`);
    expect(t.err()).toMatch(/\rcopy \[\d+\/\d+\] \[[#.]+\] +\d+% [\d.]+ (KiB|MiB) \/ [\d.]+ MiB/);
    expect(t.err()).toContain('copied v1 to docker://');
    expect(t.err()).toContain('3 referrer(s) via referrers API');
    expect(t.out().trim()).toBe(f.index.digest);
  });

  it('prints no progress without a TTY, and the summary as JSON with --json', async () => {
    const work = tmpDir();
    const f = await makeFixture(work, 'fallback-tag', 1000);
    server = await startReferrersServer();
    process.env['DOCKER_CONFIG'] = work;
    const t = ttyIo(false);
    const code = await run(
      ['copy', '--json', `${f.layout.root}:v1`, `docker://${server.host}/app:v2`],
      t.io,
    );
    expect(code, t.err()).toBe(0);
    expect(t.err()).not.toContain('\r');
    const out = JSON.parse(t.out());
    expect(out).toMatchObject({ tag: 'v2', descriptor: { digest: f.index.digest }, manifests: 3 });
  });
});

describe('--plain-http HOST', () => {
  let server: ReferrersServer | undefined;
  afterEach(async () => {
    await server?.close();
    server = undefined;
  });

  it.each([
    [['--plain-http']],
    [['--plain-http=']],
    [['--plain-http', ' ']],
    [['--plain-http', '127.0.0.1:1', '--plain-http']],
  ])('refuses %j without a host as E_USAGE before any request', async (flags) => {
    const work = tmpDir();
    const f = await makeFixture(work, 'fallback-tag', 100);
    const before = layoutSnapshot(f.layout.root);
    const t = ttyIo(false);
    const code = await run(
      ['copy', '--json', `${f.layout.root}:v1`, 'docker://127.0.0.1:1/app', ...flags],
      t.io,
    );
    expect(code).toBe(2);
    expect(JSON.parse(t.err().trim().split('\n').pop()!)).toMatchObject({
      error: { code: 'E_USAGE' },
    });
    expect(t.out()).toBe('');
    expect(layoutSnapshot(f.layout.root)).toEqual(before);
  });

  it('takes exactly one HOST, leaving SOURCE and DESTINATION positional', async () => {
    const work = tmpDir();
    const f = await makeFixture(work, 'fallback-tag', 100);
    server = await startReferrersServer();
    const t = ttyIo(false);
    const code = await run(
      ['copy', '--plain-http', server.host, `${f.layout.root}:v1`, `docker://${server.host}/app`],
      t.io,
    );
    expect(code, t.err()).toBe(0);
    expect(server.log.some((l) => l.startsWith('PUT /v2/app/manifests/v1'))).toBe(true);
  });
});
