// `ocilayout serve` with the container clients people run: podman push and pull, buildah push,
// ctr (containerd) pull and push, skopeo and our own copy over HTTPS, all against logins
// (htpasswd made by htpasswd -B) and per-repository rules, where a user without write access is refused. The
// server is the built CLI, started with --listen 127.0.0.1:0 --json: its first stdout line says
// where it listens.
import { spawn, spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it, onTestFinished } from 'vitest';
import { Layout } from '../../src/internal.js';
import { buildahIn, runnableImage } from '../helpers/container-tools.js';
import { enginesAvailable, podmanIn, startContainerd } from '../interop/judge/engines.js';
import { selfSignedCertificate } from '../helpers/registry.js';
import { CLI, runCli } from '../helpers/run-cli.js';
import { startServeCli, type ServeProcess } from '../helpers/serve-cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { requireTools } from '../helpers/tools.js';

interface Listening {
  url: string;
  host: string;
  port: number;
  root: string;
  mode: string;
  tls: boolean;
  authentication: boolean;
}

type Served = ServeProcess & { listening: Listening; host: string };

/** `ocilayout serve ROOT --listen 127.0.0.1:0 --json …`, once its listening line is out. */
async function serveJson(root: string, ...flags: string[]): Promise<Served> {
  const s = await startServeCli(
    root,
    ['--json', ...flags],
    ({ stdout }) => {
      const nl = stdout.indexOf('\n');
      return nl < 0
        ? undefined
        : (JSON.parse(stdout.slice(0, nl)) as { listening: Listening }).listening;
    },
    'SIGTERM',
  );
  return { ...s, listening: s.ready, host: `127.0.0.1:${s.ready.port}` };
}

/** A tree ROOT with a runnable image at repository `src` (tag v1), logins and rules. */
async function securedRoot(): Promise<{ dir: string; root: string; flags: string[] }> {
  const dir = tmpDir();
  const root = join(dir, 'root');
  mkdirSync(root);
  await runnableImage(join(root, 'src'), 'v1');
  const htpasswd = join(dir, 'htpasswd');
  for (const [i, [user, password]] of [
    ['alice', 'a-secret'],
    ['bob', 'b-secret'],
  ].entries()) {
    const r = spawnSync('htpasswd', [
      ...(i === 0 ? ['-c'] : []),
      '-bB',
      htpasswd,
      user!,
      password!,
    ]);
    if (r.status !== 0) throw new Error(`htpasswd: ${r.stderr.toString()}`);
  }
  const access = join(dir, 'access.yaml');
  // alice writes everywhere; bob reads; anonymous clients read `src` only.
  writeFileSync(
    access,
    [
      'rules:',
      '  - repositories: [src]',
      '    read: [anonymous]',
      '    write: [alice]',
      '  - repositories: ["**"]',
      '    read: [bob]',
      '    write: [alice]',
      '',
    ].join('\n'),
  );
  return { dir, root, flags: ['--htpasswd', htpasswd, '--access', access] };
}

const tags = (root: string, repo: string): string[] => Layout.open(join(root, repo)).tags();

describe('serve --json and --quiet', () => {
  it('--json: the first stdout line is where it listens (port 0 resolved), then JSON access lines', async () => {
    const dir = tmpDir();
    const s = await serveJson(dir, '--read-only');
    expect(s.listening).toMatchObject({ host: '127.0.0.1', mode: 'tree', tls: false });
    expect(s.listening.port).toBeGreaterThan(0);
    expect(s.listening.url).toBe(`http://127.0.0.1:${s.listening.port}`);
    expect((await fetch(`${s.listening.url}/v2/`)).status).toBe(200);
    for (let i = 0; i < 50 && s.stdout().split('\n').length < 3; i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    const lines = s.stdout().trim().split('\n');
    expect(JSON.parse(lines[1]!)).toMatchObject({ method: 'GET', path: '/v2/', status: 200 });
    expect(s.stderr()).toBe('');
  });

  it('--quiet: no status line on stderr', async () => {
    const dir = tmpDir();
    const child = spawn(
      process.execPath,
      [CLI, 'serve', dir, '--listen', '127.0.0.1:0', '--quiet', '--read-only'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let err = '';
    child.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((r) => child.on('close', (code) => r(code)));
    await new Promise((r) => setTimeout(r, 1500));
    child.kill('SIGTERM');
    expect(await exited).toBe(0);
    expect(err).toBe('');
  });

  it('a writable non-loopback listen is accepted with logins, refused with anonymous writes', async () => {
    const { root, flags } = await securedRoot();
    const ok = spawnSync(
      process.execPath,
      [CLI, 'serve', root, '--listen', '0.0.0.0:0', '--json', ...flags],
      { encoding: 'utf8', timeout: 3000, killSignal: 'SIGTERM' },
    );
    expect(ok.stdout.split('\n')[0]).toMatch(/"listening":\{"url":"http:\/\/0\.0\.0\.0:\d+"/);
    expect(ok.stderr).toMatch(/warning: passwords cross the network in clear text/);
    const dir = tmpDir();
    const open = join(dir, 'open.yaml');
    writeFileSync(open, 'rules:\n  - repositories: ["**"]\n    write: [anonymous]\n');
    const refused = spawnSync(
      process.execPath,
      [CLI, 'serve', root, '--listen', '0.0.0.0:0', '--htpasswd', flags[1]!, '--access', open],
      { encoding: 'utf8', timeout: 10_000 },
    );
    expect(refused.status).toBe(2);
    expect(refused.stderr).toMatch(/refusing to accept unauthenticated writes/);
  });
});

describe('serve: bad login, rule and TLS files are refused at start', () => {
  const start = (root: string, ...flags: string[]): ReturnType<typeof spawnSync> =>
    spawnSync(process.execPath, [CLI, 'serve', root, '--listen', '127.0.0.1:0', ...flags], {
      encoding: 'utf8',
      timeout: 10_000,
    });

  it('exit 2 with the file and line named; a missing file is E_NOT_FOUND', () => {
    const dir = tmpDir();
    const md5 = join(dir, 'md5');
    writeFileSync(md5, 'alice:$apr1$abcdefgh$0123456789012345678901\n');
    const r1 = start(dir, '--htpasswd', md5);
    expect(r1.status).toBe(2);
    expect(String(r1.stderr)).toMatch(/md5:1: user "alice" has no bcrypt hash/);
    const rules = join(dir, 'rules.yaml');
    writeFileSync(rules, 'rules:\n  - repositories: [a]\n    wirte: [x]\n');
    const r2 = start(dir, '--access', rules);
    expect(r2.status).toBe(2);
    expect(String(r2.stderr)).toMatch(/unknown key "wirte"/);
    const r3 = start(dir, '--tls-cert', md5);
    expect(r3.status).toBe(2);
    expect(String(r3.stderr)).toMatch(/--tls-cert and --tls-key go together/);
    const r4 = start(dir, '--tls-cert', md5, '--tls-key', md5);
    expect(r4.status).toBe(2);
    expect(String(r4.stderr)).toMatch(/TLS certificate or key not usable/);
    const r5 = start(dir, '--htpasswd', join(dir, 'nope'), '--json');
    expect(r5.status).not.toBe(0);
    expect(String(r5.stderr)).toMatch(/E_NOT_FOUND/);
  });
});

describe.skipIf(!requireTools('podman', 'htpasswd'))('podman against serve', () => {
  it('podman login + push, pull back; a reader is refused a push; anonymous pulls where allowed', async () => {
    const { dir, root, flags } = await securedRoot();
    const s = await serveJson(root, ...flags);
    const podman = podmanIn(join(dir, 'p1')).tryRun;
    // Anonymous clients may read `src`: podman takes the image from serve itself.
    const load = podman('pull', '--tls-verify=false', `${s.host}/src:v1`);
    expect(load.status, load.stderr).toBe(0);
    const id = load.stdout.trim().split('\n').pop()!;
    const login = podman('login', '--tls-verify=false', '-u', 'alice', '-p', 'a-secret', s.host);
    expect(login.status, login.stderr).toBe(0);
    const push = podman('push', '--tls-verify=false', id, `docker://${s.host}/team/app:v1`);
    expect(push.status, push.stderr).toBe(0);
    expect(tags(root, 'team/app')).toEqual(['v1']);
    // bob may read, not write: the push is refused, nothing is created
    const denied = podman(
      'push',
      '--tls-verify=false',
      '--creds',
      'bob:b-secret',
      id,
      `docker://${s.host}/team/bob:v1`,
    );
    expect(denied.status).not.toBe(0);
    expect(denied.stderr).toMatch(/denied/);
    // a fresh store pulls it back as bob; without credentials only `src` is readable
    const other = podmanIn(join(dir, 'p2')).tryRun;
    const pull = other(
      'pull',
      '--tls-verify=false',
      '--creds',
      'bob:b-secret',
      `${s.host}/team/app:v1`,
    );
    expect(pull.status, pull.stderr).toBe(0);
    expect(pull.stdout.trim().split('\n').pop()).toBe(id);
    const anon = other('pull', '--tls-verify=false', `${s.host}/team/app:v1`);
    expect(anon.status).not.toBe(0);
    expect(anon.stderr).toMatch(/unauthorized|authentication required/);
    // the access log names users and never carries a password (its lines come after the reply)
    for (let i = 0; i < 100 && !s.stdout().includes('"user":"bob"'); i++) {
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(s.stdout()).toMatch(/"user":"alice"/);
    expect(s.stdout()).not.toMatch(/a-secret|b-secret|Basic /);
  }, 120_000);
});

describe.skipIf(!requireTools('buildah', 'htpasswd'))('buildah against serve', () => {
  it('buildah push with --creds; a reader is refused', async () => {
    const { dir, root, flags } = await securedRoot();
    const s = await serveJson(root, ...flags);
    const buildah = buildahIn(join(dir, 'b'));
    const load = buildah('pull', '--tls-verify=false', `${s.host}/src:v1`);
    expect(load.status, load.stderr).toBe(0);
    const id = load.stdout.trim().split('\n').pop()!;
    const push = buildah(
      'push',
      '--tls-verify=false',
      '--creds',
      'alice:a-secret',
      id,
      `docker://${s.host}/built:v2`,
    );
    expect(push.status, push.stderr).toBe(0);
    expect(tags(root, 'built')).toEqual(['v2']);
    const denied = buildah(
      'push',
      '--tls-verify=false',
      '--creds',
      'bob:b-secret',
      id,
      `docker://${s.host}/built:v3`,
    );
    expect(denied.status).not.toBe(0);
    expect(tags(root, 'built')).toEqual(['v2']);
  }, 120_000);
});

describe.skipIf(!requireTools('htpasswd') || !enginesAvailable())(
  'ctr (containerd) against serve',
  () => {
    it('ctr images pull and push --plain-http with --user; a reader is refused a push', async () => {
      const { dir, root, flags } = await securedRoot();
      const s = await serveJson(root, ...flags);
      const containerd = await startContainerd(join(dir, 'c'));
      onTestFinished(() => containerd.stop());
      const ctr = (...args: string[]) => containerd.tryCtr('ocilayout-test', ...args);
      const ref = `${s.host}/src:v1`;
      const pull = ctr('images', 'pull', '--plain-http', '--snapshotter', 'native', ref);
      expect(pull.status, pull.stderr).toBe(0);
      const push = ctr(
        'images',
        'push',
        '--plain-http',
        '--user',
        'alice:a-secret',
        `${s.host}/from-ctr:v1`,
        ref,
      );
      expect(push.status, push.stderr).toBe(0);
      const pushed = Layout.open(join(root, 'from-ctr'));
      expect(pushed.resolve({ tag: 'v1' }).digest).toBe(
        Layout.open(join(root, 'src')).resolve({ tag: 'v1' }).digest,
      );
      const denied = ctr(
        'images',
        'push',
        '--plain-http',
        '--user',
        'bob:b-secret',
        `${s.host}/from-bob:v1`,
        ref,
      );
      expect(denied.status).not.toBe(0);
      expect(denied.stderr).toMatch(/403/);
    }, 120_000);
  },
);

describe.skipIf(!requireTools('skopeo', 'openssl', 'htpasswd'))(
  'skopeo and ocilayout copy over HTTPS with logins',
  () => {
    it('--tls-cert/--tls-key: skopeo and ocilayout copy, trusting the certificate, push, list and pull', async () => {
      const { dir, root, flags } = await securedRoot();
      const cert = selfSignedCertificate(dir);
      const s = await serveJson(
        root,
        ...flags,
        '--tls-cert',
        cert.certificate,
        '--tls-key',
        cert.key,
      );
      expect(s.listening.url).toBe(`https://127.0.0.1:${s.listening.port}`);
      expect(s.listening.tls).toBe(true);
      const certDir = join(dir, 'certs');
      mkdirSync(certDir);
      copyFileSync(cert.certificate, join(certDir, 'ca.crt'));
      const skopeo = (...args: string[]): ReturnType<typeof spawnSync> =>
        spawnSync('skopeo', ['--insecure-policy', ...args], { encoding: 'utf8', timeout: 60_000 });
      const copy = skopeo(
        'copy',
        '--dest-cert-dir',
        certDir,
        '--dest-creds',
        'alice:a-secret',
        `oci:${join(root, 'src')}:v1`,
        `docker://${s.host}/tls/app:v1`,
      );
      expect(copy.status, String(copy.stderr)).toBe(0);
      const list = skopeo(
        'list-tags',
        '--cert-dir',
        certDir,
        '--creds',
        'bob:b-secret',
        `docker://${s.host}/tls/app`,
      );
      expect(list.status, String(list.stderr)).toBe(0);
      expect((JSON.parse(String(list.stdout)) as { Tags: string[] }).Tags).toEqual(['v1']);
      // Without trusting the certificate, skopeo refuses the server.
      const untrusted = skopeo(
        'list-tags',
        '--creds',
        'bob:b-secret',
        `docker://${s.host}/tls/app`,
      );
      expect(untrusted.status).not.toBe(0);
      expect(String(untrusted.stderr)).toMatch(/certificate/);
      const denied = skopeo(
        'copy',
        '--dest-cert-dir',
        certDir,
        '--dest-creds',
        'bob:b-secret',
        `oci:${join(root, 'src')}:v1`,
        `docker://${s.host}/tls/bob:v1`,
      );
      expect(denied.status).not.toBe(0);
      expect(String(denied.stderr)).toMatch(/denied/);
      // Our own client, trusting the certificate through NODE_EXTRA_CA_CERTS, logs in and copies
      // the image back out; a wrong password is E_UNAUTHORIZED.
      const env = { NODE_EXTRA_CA_CERTS: cert.certificate, DOCKER_CONFIG: dir };
      const from = `docker://${s.host}/tls/app:v1`;
      const login = ['--username', 'bob', '--password-stdin'];
      const back = await runCli(['copy', from, join(dir, 'back'), ...login], {
        input: 'b-secret\n',
        env,
      });
      expect(back.code, back.stderr).toBe(0);
      expect(Layout.open(join(dir, 'back')).resolve({ tag: 'v1' }).digest).toBe(
        Layout.open(join(root, 'src')).resolve({ tag: 'v1' }).digest,
      );
      const wrong = await runCli(['copy', from, join(dir, 'back2'), ...login], {
        input: 'nope\n',
        env,
      });
      expect(wrong.code).not.toBe(0);
      expect(wrong.stderr).toMatch(/E_UNAUTHORIZED/);
    }, 120_000);
  },
);
