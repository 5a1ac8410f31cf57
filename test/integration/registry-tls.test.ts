// HTTPS against a real docker-registry serving a self-signed certificate (the other registry tests
// speak plain HTTP on loopback): an untrusted certificate is refused with a clear error and nothing
// is written; trusted through NODE_EXTRA_CA_CERTS (Node's way to add a private CA), the copy goes
// over TLS both ways with every referrer, and skopeo, verifying TLS against the same CA, reads it.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Layout, referrerGraph } from '../../src/internal.js';
import { jsonError } from '../helpers/cli-layout.js';
import { selfSignedCertificate, startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { runCli } from '../helpers/run-cli.js';
import { layoutSnapshot } from '../helpers/snapshot.js';
import { tmpDir } from '../helpers/tmp.js';
import { requireTools } from '../helpers/tools.js';
import { makeFixture, type Fixture } from '../registry/fixture.js';

const HAVE = requireTools('docker-registry', 'skopeo', 'openssl');

describe.runIf(HAVE)('copy over HTTPS (docker-registry with a self-signed certificate)', () => {
  let registry: RunningRegistry;
  let work: string;
  let cert: { certificate: string; key: string };
  let f: Fixture;
  const env = (trust: boolean): NodeJS.ProcessEnv => ({
    DOCKER_CONFIG: join(work, 'no-docker-config'),
    ...(trust ? { NODE_EXTRA_CA_CERTS: cert.certificate } : {}),
  });

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'ocilayout-regtls-'));
    cert = selfSignedCertificate(work);
    registry = await startRegistry({ tls: cert });
    f = await makeFixture(work, 'fallback-tag');
  });
  afterAll(async () => {
    await registry?.stop();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('refuses a certificate it cannot verify (exit 8), and never falls back to plain HTTP', async () => {
    const dest = Layout.init(join(tmpDir(), 'dest')).layout.root;
    const before = layoutSnapshot(dest);
    const r = await runCli(
      ['copy', '--json', `${f.layout.root}:v1`, `docker://${registry.host}/app`],
      {
        env: env(false),
      },
    );
    expect(r.code, r.stderr).toBe(8);
    expect(jsonError(r)).toMatchObject({
      code: 'E_NETWORK',
      message: expect.stringMatching(/self-signed certificate/i),
      hint: expect.stringContaining('NODE_EXTRA_CA_CERTS'),
    });
    // Nothing reached the registry: a pull with the CA trusted finds no such tag.
    const pull = await runCli(['copy', '--json', `docker://${registry.host}/app:v1`, dest], {
      env: env(true),
    });
    expect(pull.code).not.toBe(0);
    expect(layoutSnapshot(dest)).toEqual(before);
  });

  it('with the CA trusted: layout → registry → fresh layout over TLS, referrers and digests kept', async () => {
    const repo = `${registry.host}/team/app`;
    const push = await runCli(
      ['copy', '--referrers', '--json', `${f.layout.root}:v1`, `docker://${repo}`],
      { env: env(true) },
    );
    expect(push.code, push.stderr).toBe(0);
    expect(JSON.parse(push.stdout).descriptor.digest).toBe(f.index.digest);

    // skopeo verifies TLS with the same CA (--cert-dir takes *.crt as CAs) and reads our bytes.
    const certDir = join(tmpDir(), 'certs');
    mkdirSync(certDir);
    copyFileSync(cert.certificate, join(certDir, 'ca.crt'));
    const raw = spawnSync('skopeo', [
      'inspect',
      '--raw',
      '--cert-dir',
      certDir,
      `docker://${repo}:v1`,
    ]);
    expect(raw.status, raw.stderr.toString()).toBe(0);
    expect(`sha256:${createHash('sha256').update(raw.stdout).digest('hex')}`).toBe(f.index.digest);

    const dest = join(tmpDir(), 'pulled');
    const pull = await runCli(['copy', '--referrers', '--json', `docker://${repo}:v1`, dest], {
      env: env(true),
    });
    expect(pull.code, pull.stderr).toBe(0);
    const layout = Layout.open(dest);
    expect(layout.resolve({ tag: 'v1' }).digest).toBe(f.index.digest);
    const graph = referrerGraph(layout);
    expect(graph.referrersOf(f.index.digest).map((d) => d.digest)).toEqual([f.sig]);
  });
});
