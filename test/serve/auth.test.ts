// Logins and per-repository rules: htpasswd files as `htpasswd -B` writes them, the access-rule
// file's shape and matching, and the server's answers (401 with a Basic challenge, 403 DENIED,
// a filtered catalog, no mount from a repository the client may not read), the login cache, and
// HTTPS.
import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { request as httpsRequest } from 'node:https';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  AccessControl,
  parseAccessRules,
  parseHtpasswd,
  type AccessRule,
} from '../../src/serve/auth.js';
import { serveLayouts } from '../../src/serve/server.js';
import { selfSignedCertificate } from '../helpers/registry.js';
import { tmpDir } from '../helpers/tmp.js';
import { requireTools } from '../helpers/tools.js';
import { OCI_MANIFEST, errorCodes, sha256, startServe, testImage } from './helpers.js';

const HAVE_HTPASSWD = requireTools('htpasswd');

/** An htpasswd file written by htpasswd itself (bcrypt, cost `cost`). */
function htpasswdFile(dir: string, users: Record<string, string>, cost = 5): string {
  const file = join(dir, 'htpasswd');
  for (const [i, [user, password]] of Object.entries(users).entries()) {
    const flags = i === 0 ? ['-c'] : [];
    const r = spawnSync('htpasswd', [...flags, '-bB', '-C', String(cost), file, user, password], {
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`htpasswd: ${r.stderr}`);
  }
  return file;
}

const basic = (user: string, password: string): Record<string, string> => ({
  Authorization: `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`,
});

describe('parseHtpasswd', () => {
  it.skipIf(!HAVE_HTPASSWD)('reads what htpasswd -B writes', () => {
    const file = htpasswdFile(tmpDir(), { alice: 'a-secret', bob: 'b-secret' });
    const users = parseHtpasswd(readFileSync(file, 'utf8'), file);
    expect([...users.keys()]).toEqual(['alice', 'bob']);
    expect(users.get('alice')).toMatch(/^\$2y\$05\$/);
  });

  it('refuses other hash formats, costs over 12, reserved and repeated names', () => {
    const bcrypt5 = '$2y$05$TkXV9zE655L8ot9YRV5z6OWK3c3bGm2RuV4ioNzXlMl4JCRGh1ExC';
    expect(() => parseHtpasswd('alice:$apr1$abc$0123456789012345678901\n', 'f')).toThrow(
      /f:1: user "alice" has no bcrypt hash/,
    );
    expect(() => parseHtpasswd(`alice:${bcrypt5.replace('$05$', '$13$')}`, 'f')).toThrow(/cost 13/);
    expect(() => parseHtpasswd(`anonymous:${bcrypt5}`, 'f')).toThrow(/user name/);
    expect(() => parseHtpasswd(`*:${bcrypt5}`, 'f')).toThrow(/user name/);
    expect(() => parseHtpasswd(`a:${bcrypt5}\n\n# c\na:${bcrypt5}\n`, 'f')).toThrow(
      /f:4: .* twice/,
    );
    expect(parseHtpasswd(`# comment\r\na:${bcrypt5}\r\n`, 'f').get('a')).toBe(bcrypt5);
  });
});

describe('parseAccessRules and matching', () => {
  const users = new Map([
    ['alice', '$2y$04$TkXV9zE655L8ot9YRV5z6OWK3c3bGm2RuV4ioNzXlMl4JCRGh1ExC'],
    ['bob', '$2y$04$TkXV9zE655L8ot9YRV5z6OWK3c3bGm2RuV4ioNzXlMl4JCRGh1ExC'],
  ]);
  const yaml = `
rules:
  - repositories: [team/**]
    read: ["*"]
    write: [alice]
  - repositories: ["public-*", "mirror/*/stable"]
    read: [anonymous]
    write: [bob]
  - repositories: ["**"]
    read: [alice]
    write: [bob]
`;

  it('the first rule whose pattern matches decides; write includes read', () => {
    const ac = new AccessControl({ users, rules: parseAccessRules(yaml, 'rules.yaml') });
    const alice = { user: 'alice' };
    const bob = { user: 'bob' };
    const anon = { user: undefined };
    expect(ac.can(alice, 'team', 'write')).toBe(true); // team/** covers team itself
    expect(ac.can(alice, 'team/a/b', 'write')).toBe(true);
    expect(ac.can(bob, 'team/a', 'read')).toBe(true);
    expect(ac.can(bob, 'team/a', 'write')).toBe(false); // the first match decides, not the last
    expect(ac.can(anon, 'team/a', 'read')).toBe(false);
    expect(ac.can(anon, 'public-web', 'read')).toBe(true);
    expect(ac.can(bob, 'public-web', 'read')).toBe(true); // by write
    expect(ac.can(alice, 'public-web', 'read')).toBe(true); // what anonymous may, users may
    expect(ac.can(alice, 'public-web', 'write')).toBe(false);
    expect(ac.can(anon, 'mirror/x/stable', 'read')).toBe(true);
    expect(ac.can(anon, 'mirror/x/y/stable', 'read')).toBe(false); // * stays in one component
    expect(ac.can(alice, 'other/thing', 'read')).toBe(true);
    expect(ac.can(alice, 'other/thing', 'write')).toBe(false);
    expect(ac.can(bob, 'other/thing', 'write')).toBe(true);
    expect(ac.anonymousWrites).toBe(false);
  });

  it('patterns: ** at the start, in the middle and at the end spans whole components', () => {
    const rules = parseAccessRules(
      'rules:\n  - repositories: ["**/app", "a/**/b", "c/**", "d*x"]\n    read: [anonymous]\n',
      'r.yaml',
    );
    const ac = new AccessControl({ rules });
    const reads = (name: string): boolean => ac.can({ user: undefined }, name, 'read');
    for (const yes of [
      'app',
      'x/app',
      'x/y/app',
      'a/b',
      'a/x/b',
      'a/x/y/b',
      'c',
      'c/d/e',
      'dx',
      'd-ex',
    ]) {
      expect(reads(yes), yes).toBe(true);
    }
    for (const no of ['xapp', 'x/xapp', 'ab', 'a/xb', 'a/b/c', 'cc', 'd/x', 'dx/y']) {
      expect(reads(no), no).toBe(false);
    }
  });

  it('without rules every user reads and writes, anonymous nothing', () => {
    const ac = new AccessControl({ users });
    expect(ac.can({ user: 'bob' }, 'a/b', 'write')).toBe(true);
    expect(ac.can({ user: undefined }, 'a/b', 'read')).toBe(false);
  });

  it('refuses unknown keys, bad patterns, and users the htpasswd file lacks', () => {
    const parse = (text: string): AccessRule[] => parseAccessRules(text, 'r.yaml');
    expect(() => parse('rules:\n  - repositories: [a]\n    raed: [x]\n')).toThrow(
      /unknown key "raed"/,
    );
    expect(() => parse('rulez: []\n')).toThrow(/unknown key "rulez"/);
    expect(() => parse('rules:\n  - read: [anonymous]\n')).toThrow(/no repositories/);
    expect(() => parse('rules:\n  - repositories: [A/B]\n')).toThrow(/bad pattern/);
    expect(() => parse('rules:\n  - repositories: [a]\n    read: anonymous\n')).toThrow(/list/);
    expect(() => parse('rules: [')).toThrow(/not YAML/);
    const rules = parse('rules:\n  - repositories: [a]\n    write: [carol]\n');
    expect(() => new AccessControl({ users, rules })).toThrow(
      /"carol", who is not in the htpasswd/,
    );
  });
});

describe.skipIf(!HAVE_HTPASSWD)('a server with logins', () => {
  async function start(rules?: string, cost = 5): Promise<Awaited<ReturnType<typeof startServe>>> {
    const dir = tmpDir();
    const file = htpasswdFile(dir, { alice: 'a-secret', bob: 'b-secret' }, cost);
    const users = parseHtpasswd(readFileSync(file, 'utf8'), file);
    const access = new AccessControl({
      users,
      rules: rules === undefined ? undefined : parseAccessRules(rules, 'rules.yaml'),
    });
    const root = join(dir, 'root');
    mkdirSync(root);
    return startServe(root, { access });
  }

  it('GET /v2/: 401 with a Basic challenge until the client logs in; bad passwords stay 401', async () => {
    const reg = await start();
    const anon = await fetch(`${reg.url}/v2/`);
    expect(anon.status).toBe(401);
    expect(anon.headers.get('www-authenticate')).toBe('Basic realm="ocilayout", charset="UTF-8"');
    expect(await errorCodes(anon)).toEqual(['UNAUTHORIZED']);
    expect((await fetch(`${reg.url}/v2/`, { headers: basic('alice', 'a-secret') })).status).toBe(
      200,
    );
    for (const headers of [
      basic('alice', 'wrong'),
      basic('nobody', 'a-secret'),
      { Authorization: 'Bearer abc' },
      { Authorization: 'Basic !!!' },
    ]) {
      const res = await fetch(`${reg.url}/v2/`, { headers });
      expect(res.status).toBe(401);
      expect(res.headers.get('www-authenticate')).toMatch(/^Basic /);
    }
  });

  it('per-repository rules: a reader cannot push (403 DENIED), anonymous pulls where allowed', async () => {
    const reg = await start(`
rules:
  - repositories: ["pub"]
    read: [anonymous]
    write: [alice]
  - repositories: ["**"]
    read: [bob]
    write: [alice]
`);
    const img = testImage('auth');
    // alice pushes both repositories
    for (const repo of ['pub', 'priv']) {
      for (const blob of [img.config, img.layer]) {
        const res = await fetch(`${reg.url}/v2/${repo}/blobs/uploads/?digest=${sha256(blob)}`, {
          method: 'POST',
          body: blob,
          headers: basic('alice', 'a-secret'),
        });
        expect(res.status).toBe(201);
      }
      const put = await fetch(`${reg.url}/v2/${repo}/manifests/v1`, {
        method: 'PUT',
        body: img.manifest,
        headers: { ...basic('alice', 'a-secret'), 'Content-Type': OCI_MANIFEST },
      });
      expect(put.status).toBe(201);
    }
    // bob reads but may not write: 403 DENIED, nothing stored
    expect(
      (await fetch(`${reg.url}/v2/priv/manifests/v1`, { headers: basic('bob', 'b-secret') }))
        .status,
    ).toBe(200);
    const denied = await fetch(`${reg.url}/v2/priv/manifests/v2`, {
      method: 'PUT',
      body: img.manifest,
      headers: { ...basic('bob', 'b-secret'), 'Content-Type': OCI_MANIFEST },
    });
    expect(denied.status).toBe(403);
    expect(await errorCodes(denied)).toEqual(['DENIED']);
    await expect(
      (await fetch(`${reg.url}/v2/priv/tags/list`, { headers: basic('bob', 'b-secret') })).json(),
    ).resolves.toEqual({ name: 'priv', tags: ['v1'] });
    // anonymous: pub is readable (empty credentials count as none), priv asks for a login
    expect((await fetch(`${reg.url}/v2/pub/manifests/v1`)).status).toBe(200);
    expect((await fetch(`${reg.url}/v2/pub/manifests/v1`, { headers: basic('', '') })).status).toBe(
      200,
    );
    const anonPriv = await fetch(`${reg.url}/v2/priv/manifests/v1`);
    expect(anonPriv.status).toBe(401);
    expect(anonPriv.headers.get('www-authenticate')).toMatch(/^Basic realm=/);
    const anonPush = await fetch(`${reg.url}/v2/pub/blobs/uploads/`, { method: 'POST' });
    expect(anonPush.status).toBe(401);
    // the catalog lists only what the client may read
    const cat = async (h: Record<string, string>): Promise<unknown> =>
      (await fetch(`${reg.url}/v2/_catalog`, { headers: h })).json();
    expect(await cat({})).toEqual({ repositories: ['pub'] });
    expect(await cat(basic('bob', 'b-secret'))).toEqual({ repositories: ['priv', 'pub'] });
    // so does the web view's list, and its repository page asks for a login like the API
    const home = async (h: Record<string, string>): Promise<string> =>
      (await fetch(`${reg.url}/`, { headers: h })).text();
    expect(await home({})).toContain('/ui/pub');
    expect(await home({})).not.toContain('priv');
    expect(await home(basic('bob', 'b-secret'))).toContain('/ui/priv');
    expect((await fetch(`${reg.url}/ui/priv`)).status).toBe(401);
    // the access log names the user, never the password or the header
    const log = reg.access.join('\n');
    expect(log).not.toMatch(/a-secret|b-secret|Basic/);
  });

  it('a mount from a repository the client may not read opens a session instead (202)', async () => {
    const reg = await start(`
rules:
  - repositories: [secret]
    write: [alice]
  - repositories: ["**"]
    write: [alice, bob]
`);
    const blob = Buffer.from('only alice may read this');
    const res = await fetch(`${reg.url}/v2/secret/blobs/uploads/?digest=${sha256(blob)}`, {
      method: 'POST',
      body: blob,
      headers: basic('alice', 'a-secret'),
    });
    expect(res.status).toBe(201);
    const mount = (who: Record<string, string>): Promise<Response> =>
      fetch(`${reg.url}/v2/mine/blobs/uploads/?mount=${sha256(blob)}&from=secret`, {
        method: 'POST',
        headers: who,
      });
    expect((await mount(basic('bob', 'b-secret'))).status).toBe(202);
    expect((await mount(basic('alice', 'a-secret'))).status).toBe(201);
  });

  it('a verified login is remembered: 30 requests at bcrypt cost 12 take far less than 30 checks', async () => {
    const reg = await start(undefined, 12);
    const headers = basic('alice', 'a-secret');
    const t0 = Date.now();
    expect((await fetch(`${reg.url}/v2/`, { headers })).status).toBe(200);
    const first = Date.now() - t0;
    const t1 = Date.now();
    for (let i = 0; i < 30; i++) {
      expect((await fetch(`${reg.url}/v2/`, { headers })).status).toBe(200);
    }
    const rest = Date.now() - t1;
    // One check costs ~300 ms here; 30 uncached ones would take ~9 s.
    expect(first).toBeGreaterThan(50);
    expect(rest).toBeLessThan(first * 5);
    // A wrong password is never remembered as right.
    expect((await fetch(`${reg.url}/v2/`, { headers: basic('alice', 'a-secreT') })).status).toBe(
      401,
    );
  }, 30_000);
});

describe.skipIf(!requireTools('openssl'))('TLS', () => {
  it('a key that does not match the certificate, or no PEM at all, is E_USAGE at start', async () => {
    const dir = tmpDir();
    const a = selfSignedCertificate(join(dir));
    mkdirSync(join(dir, 'b'));
    const b = selfSignedCertificate(join(dir, 'b'));
    const start = (cert: Buffer, key: Buffer): Promise<unknown> =>
      serveLayouts({ root: dir, tls: { cert, key } }, { host: '127.0.0.1', port: 0 });
    await expect(start(readFileSync(a.certificate), readFileSync(b.key))).rejects.toMatchObject({
      code: 'E_USAGE',
      message: expect.stringMatching(/TLS certificate or key not usable/) as unknown,
    });
    await expect(start(Buffer.from('no pem'), readFileSync(a.key))).rejects.toMatchObject({
      code: 'E_USAGE',
    });
  });

  it('serves HTTPS with the given certificate; a client trusting it pulls', async () => {
    const dir = tmpDir();
    const cert = selfSignedCertificate(dir);
    const root = join(dir, 'root');
    mkdirSync(root);
    const reg = await startServe(root, {
      tls: { cert: readFileSync(cert.certificate), key: readFileSync(cert.key) },
    });
    expect(reg.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const get = (path: string): Promise<{ status: number; body: string }> =>
      new Promise((resolve, reject) => {
        const req = httpsRequest(
          `${reg.url}${path}`,
          { ca: readFileSync(cert.certificate) },
          (res) => {
            let body = '';
            res.on('data', (b: Buffer) => (body += b.toString()));
            res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
          },
        );
        req.on('error', reject);
        req.end();
      });
    expect((await get('/v2/')).status).toBe(200);
    // Plain HTTP to the TLS port gets no registry answer.
    await expect(fetch(reg.url.replace('https:', 'http:') + '/v2/')).rejects.toThrow();
    // A client that does not trust the certificate is refused by TLS itself.
    await expect(fetch(`${reg.url}/v2/`)).rejects.toThrow();
  });
});
