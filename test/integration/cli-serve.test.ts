// `ocilayout serve` as users run it (the built CLI in its own process), with real clients: skopeo
// copies both ways and lists tags; our own `copy --referrers` pushes a signature that
// `ocilayout discover` then finds in the layout; the access log; SIGTERM stops it cleanly.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Layout } from '../../src/internal.js';
import { artifactLayout, signV1 } from '../helpers/cli-layout.js';
import { makeFixture } from '../registry/fixture.js';
import { cliOk, runCli } from '../helpers/run-cli.js';
import { startServeCli, type ServeProcess } from '../helpers/serve-cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { requireTools } from '../helpers/tools.js';

type Served = ServeProcess & { host: string };

/** Start `ocilayout serve ROOT --listen 127.0.0.1:0 …` and wait until it says where it listens. */
async function serve(root: string, ...flags: string[]): Promise<Served> {
  const s = await startServeCli(
    root,
    flags,
    ({ stderr }) => /on http:\/\/([\d.]+:\d+)/.exec(stderr)?.[1],
  );
  return { ...s, host: s.ready };
}

function skopeo(...args: string[]): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync('skopeo', args, { encoding: 'utf8', timeout: 60_000 });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

const HAVE_SKOPEO = requireTools('skopeo');

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe.skipIf(!HAVE_SKOPEO)('serve with skopeo', () => {
  it('skopeo copy into serve, list-tags, copy back out: same digests; the layout passes fsck', async () => {
    const dir = tmpDir();
    const f = await makeFixture(dir);
    const root = join(dir, 'registry');
    mkdirSync(root);
    const s = await serve(root, '--log-format', 'json');
    const digestFile = join(dir, 'pushed.digest');
    const push = skopeo(
      'copy',
      '--all',
      '--dest-tls-verify=false',
      '--digestfile',
      digestFile,
      `oci:${f.layout.root}:v1`,
      `docker://${s.host}/team/app:v1`,
    );
    expect(push.stderr).toBe('');
    expect(push.status).toBe(0);
    const pushed = readFileSync(digestFile, 'utf8').trim();
    const tags = skopeo('list-tags', '--tls-verify=false', `docker://${s.host}/team/app`);
    expect(tags.status).toBe(0);
    expect((JSON.parse(tags.stdout) as { Tags: string[] }).Tags).toEqual(['v1']);
    // What skopeo pushed is what serve stored and answers with.
    const res = await fetch(`http://${s.host}/v2/team/app/manifests/v1`, {
      headers: { Accept: 'application/vnd.oci.image.index.v1+json' },
    });
    expect(res.headers.get('docker-content-digest')).toBe(pushed);
    expect(sha256(Buffer.from(await res.arrayBuffer()))).toBe(pushed);
    const back = join(dir, 'back');
    const pull = skopeo(
      'copy',
      '--all',
      '--src-tls-verify=false',
      `docker://${s.host}/team/app:v1`,
      `oci:${back}:v1`,
    );
    expect(pull.stderr).toBe('');
    expect(pull.status).toBe(0);
    const raw = skopeo('inspect', '--raw', `oci:${back}:v1`);
    expect(sha256(Buffer.from(raw.stdout))).toBe(pushed);
    await cliOk(['fsck', join(root, 'team', 'app')]);
    // The children skopeo pushed by digest first are reachable through the tagged index now:
    // index.json keeps just that one entry.
    const entries = Layout.open(join(root, 'team', 'app')).readIndex().manifests;
    expect(entries.map((e) => e.digest)).toEqual([pushed]);
    // One JSON access-log line per request on stdout.
    const lines = s.stdout().trim().split('\n');
    const log = lines.map((l) => JSON.parse(l) as { method: string; path: string; status: number });
    expect(
      log.some(
        (e) => e.method === 'PUT' && e.path === '/v2/team/app/manifests/v1' && e.status === 201,
      ),
    ).toBe(true);
    expect(log.every((e) => typeof e.status === 'number')).toBe(true);
  });

  it('--read-only: skopeo cannot push, can pull', async () => {
    const dir = tmpDir();
    const f = await makeFixture(dir);
    const s = await serve(f.layout.root, '--read-only', '--name', 'app');
    const push = skopeo(
      'copy',
      '--all',
      '--dest-tls-verify=false',
      `oci:${f.layout.root}:v1`,
      `docker://${s.host}/app:v2`,
    );
    expect(push.status).not.toBe(0);
    const pull = skopeo(
      'copy',
      '--all',
      '--src-tls-verify=false',
      `docker://${s.host}/app:v1`,
      `oci:${join(dir, 'out')}:v1`,
    );
    expect(pull.status).toBe(0);
  });

  it('one blob download at a time, each verified: skopeo pulls an image whole all the same', async () => {
    const dir = tmpDir();
    const f = await makeFixture(dir);
    const s = await serve(
      f.layout.root,
      '--name',
      'app',
      '--max-blob-streams',
      '1',
      '--verify-reads',
      'always',
    );
    const out = join(dir, 'out');
    const pull = skopeo(
      'copy',
      '--all',
      '--src-tls-verify=false',
      `docker://${s.host}/app:v1`,
      `oci:${out}:v1`,
    );
    expect(pull.stderr).toBe('');
    expect(pull.status).toBe(0);
    await cliOk(['fsck', out]);
  });
});

describe('serve with our own CLI', () => {
  it('a signature pushed with copy --referrers shows in ocilayout discover on the layout', async () => {
    const f = await artifactLayout();
    await signV1(f);
    const root = join(f.work, 'registry');
    mkdirSync(root);
    const s = await serve(root);
    const copied = JSON.parse(
      await cliOk(['copy', '--json', '--referrers', `${f.dir}:v1`, `docker://${s.host}/app:v1`]),
    ) as { referrersApi: string[]; fallbackTags: string[] };
    expect(copied.referrersApi).toEqual([f.manifest.digest]);
    expect(copied.fallbackTags).toEqual([]);
    const found = JSON.parse(await cliOk(['discover', '--json', `${join(root, 'app')}:v1`])) as {
      manifests: { artifactType: string }[];
    };
    expect(found.manifests.map((m) => m.artifactType)).toEqual(['application/vnd.example.sig']);
    // And the text access log names each request.
    expect(s.stdout()).toMatch(/"PUT \/v2\/app\/manifests\/v1" 201/);
  });

  it('SIGTERM: exits 0 after dropping open uploads; no part file or lease is left', async () => {
    const root = tmpDir();
    const s = await serve(root);
    const post = await fetch(`http://${s.host}/v2/app/blobs/uploads/`, { method: 'POST' });
    const loc = post.headers.get('location')!;
    await fetch(`http://${s.host}${loc}`, { method: 'PATCH', body: 'partial' });
    expect(readdirSync(join(root, 'app', 'ingest')).some((n) => n.endsWith('.part'))).toBe(true);
    s.child.kill('SIGTERM');
    expect(await s.exited).toBe(0);
    // No part file, no lease: the layout the abandoned upload created holds nothing, so it went.
    expect(readdirSync(root)).toEqual([]);
    expect(s.stderr()).toMatch(/SIGTERM: finishing requests in flight/);
  });

  it('refuses unauthenticated writes on a non-loopback address unless told (exit 2)', async () => {
    const root = tmpDir();
    const r = await runCli(['serve', root, '--listen', '0.0.0.0:0']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/unauthenticated writes/);
    const bad = await runCli(['serve', root, '--listen', 'nonsense']);
    expect(bad.code).toBe(2);
  });

  it('--max-blob-streams and --verify-reads refuse what they cannot use (exit 2)', async () => {
    const root = tmpDir();
    const streams = await runCli(['serve', root, '--max-blob-streams', '0']);
    expect(streams.code).toBe(2);
    expect(streams.stderr).toMatch(/--max-blob-streams/);
    const verify = await runCli(['serve', root, '--verify-reads', 'sometimes']);
    expect(verify.code).toBe(2);
    expect(verify.stderr).toMatch(/verify-reads/);
  });
});
