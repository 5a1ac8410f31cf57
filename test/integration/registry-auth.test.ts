// Basic auth against a real docker-registry configured with a bcrypt htpasswd file: no credentials
// and wrong credentials fail cleanly (exit 8, E_UNAUTHORIZED, destination untouched); credentials
// from --username/--password-stdin, from a docker config.json and from the credential helper it
// names (credsStore, a shell script speaking docker's helper protocol) work.
import { chmodSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Layout } from '../../src/internal.js';
import { jsonError } from '../helpers/cli-layout.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { runCli } from '../helpers/run-cli.js';
import { layoutSnapshot } from '../helpers/snapshot.js';
import { tmpDir } from '../helpers/tmp.js';
import { requireTools } from '../helpers/tools.js';
import { makeFixture, type Fixture } from '../registry/fixture.js';

const HAVE = requireTools('docker-registry');
const USER = 'alice';
const PASSWORD = 's3cret pass:word';

describe.runIf(HAVE)('registry basic auth (htpasswd)', () => {
  let registry: RunningRegistry;
  let work: string;
  let f: Fixture;
  const noConfig = (): NodeJS.ProcessEnv => ({ DOCKER_CONFIG: join(work, 'empty-config') });

  beforeAll(async () => {
    registry = await startRegistry({ basicAuth: { username: USER, password: PASSWORD } });
    work = mkdtempSync(join(tmpdir(), 'ocilayout-regauth-'));
    f = await makeFixture(work, 'fallback-tag', 10_000);
  });
  afterAll(async () => {
    await registry?.stop();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('without credentials: E_UNAUTHORIZED, exit 8, a hint, and the destination layout unchanged', async () => {
    const dest = Layout.init(join(tmpDir(), 'dest')).layout.root;
    const before = layoutSnapshot(dest);
    const r = await runCli(['copy', '--json', `docker://${registry.host}/app:v1`, dest], {
      env: noConfig(),
    });
    expect(r.code, r.stderr).toBe(8);
    const err = jsonError(r);
    expect(err.code).toBe('E_UNAUTHORIZED');
    expect(err.message).toContain(registry.host);
    expect(err.hint).toContain('--password-stdin');
    expect(layoutSnapshot(dest)).toEqual(before);
  });

  it('pushes with --username and --password-stdin', async () => {
    const r = await runCli(
      [
        'copy',
        '--referrers',
        '--username',
        USER,
        '--password-stdin',
        '--json',
        `${f.layout.root}:v1`,
        `docker://${registry.host}/app`,
      ],
      { env: noConfig(), input: `${PASSWORD}\n` },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).descriptor.digest).toBe(f.index.digest);
  });

  it('refuses a wrong password with E_UNAUTHORIZED', async () => {
    const r = await runCli(
      [
        'copy',
        '--username',
        USER,
        '--password-stdin',
        '--json',
        `docker://${registry.host}/app:v1`,
        join(tmpDir(), 'x'),
      ],
      { env: noConfig(), input: 'wrong\n' },
    );
    expect(r.code).toBe(8);
    expect(jsonError(r).code).toBe('E_UNAUTHORIZED');
    expect(jsonError(r).message).toContain('rejected');
  });

  it('pulls with credentials from $DOCKER_CONFIG/config.json (auth = base64 user:password)', async () => {
    const configDir = join(tmpDir(), 'docker');
    mkdirSync(configDir);
    const auth = Buffer.from(`${USER}:${PASSWORD}`).toString('base64');
    writeFileSync(
      join(configDir, 'config.json'),
      JSON.stringify({ auths: { [`http://${registry.host}`]: { auth } } }),
    );
    const dest = join(tmpDir(), 'pulled');
    const r = await runCli(
      ['copy', '--referrers', '--json', `docker://${registry.host}/app:v1`, dest],
      {
        env: { DOCKER_CONFIG: configDir },
      },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(Layout.open(dest).resolve({ tag: 'v1' }).digest).toBe(f.index.digest);
    expect(JSON.parse(r.stdout).referrers).toHaveLength(3);
  });

  it('pulls with credentials from the credsStore helper config.json names (docker-credential-*)', async () => {
    const configDir = join(tmpDir(), 'docker');
    const bin = join(tmpDir(), 'bin');
    mkdirSync(configDir);
    mkdirSync(bin);
    writeFileSync(join(configDir, 'config.json'), JSON.stringify({ credsStore: 'ocltest' }));
    // The helper answers only for this registry, as `docker login` would have stored it.
    const answer = JSON.stringify({ ServerURL: registry.host, Username: USER, Secret: PASSWORD });
    writeFileSync(
      join(bin, 'docker-credential-ocltest'),
      `#!/bin/sh\n[ "$1" = get ] || exit 2\n[ "$(cat)" = '${registry.host}' ] || { echo 'credentials not found in native keychain'; exit 1; }\necho '${answer}'\n`,
    );
    chmodSync(join(bin, 'docker-credential-ocltest'), 0o755);
    const dest = join(tmpDir(), 'pulled-helper');
    const r = await runCli(['copy', '--json', `docker://${registry.host}/app:v1`, dest], {
      env: { DOCKER_CONFIG: configDir, PATH: `${bin}:${process.env['PATH'] ?? ''}` },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(Layout.open(dest).resolve({ tag: 'v1' }).digest).toBe(f.index.digest);
    // The helper named but not installed: a clear E_UNAUTHORIZED naming it, nothing written.
    const r2 = await runCli(
      ['copy', '--json', `docker://${registry.host}/app:v1`, join(tmpDir(), 'n')],
      {
        env: { DOCKER_CONFIG: configDir },
      },
    );
    expect(r2.code).toBe(8);
    expect(jsonError(r2)).toMatchObject({ code: 'E_UNAUTHORIZED' });
    expect(jsonError(r2).message).toContain('docker-credential-ocltest');
  });

  it('refuses --username without --password-stdin (no passwords on the command line)', async () => {
    const r = await runCli(
      ['copy', '--username', USER, `docker://${registry.host}/app:v1`, join(tmpDir(), 'y')],
      { env: noConfig() },
    );
    expect(r.code).toBe(2);
  });
});
