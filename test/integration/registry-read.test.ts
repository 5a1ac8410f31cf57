// The read verbs (`tags`, `resolve`, `manifest get`, `blob get`, `discover`) on docker:// references,
// through the built CLI: against docker-registry 2.8.2 (no referrers API: the fallback tag) and the
// spec-faithful referrers server (the API). Each prints what the same verb prints for the layout the
// content came from.
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fallbackTagFor } from '../../src/internal.js';
import { makeFixture, type Fixture } from '../registry/fixture.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { startReferrersServer, type ReferrersServer } from '../helpers/referrers-server.js';
import { runCli } from '../helpers/run-cli.js';
import { requireTools } from '../helpers/tools.js';

const HAVE = requireTools('docker-registry');

describe.runIf(HAVE)('read verbs on a registry (docker-registry, fallback tag)', () => {
  let registry: RunningRegistry;
  let f: Fixture;
  let work: string;
  let repo: string;
  const env = (): NodeJS.ProcessEnv => ({ DOCKER_CONFIG: join(work, 'no-docker-config') });
  const cli = (args: string[]) => runCli(args, { env: env() });
  /** The same command on the layout and on the registry: both succeed with the same stdout. */
  async function same(args: (ref: string) => string[], local: string, remote: string) {
    const l = await cli(args(local));
    const r = await cli(args(remote));
    expect(l.code, l.stderr).toBe(0);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toBe(l.stdout);
    return r.stdout;
  }
  /** `same` for --json: the layout's descriptor also carries index.json's ref.name annotation. */
  async function sameJson(args: (ref: string) => string[], local: string, remote: string) {
    const l = await cli(args(local));
    const r = await cli(args(remote));
    expect(l.code, l.stderr).toBe(0);
    expect(r.code, r.stderr).toBe(0);
    const fromLayout = JSON.parse(l.stdout);
    const d = fromLayout.descriptor ?? fromLayout;
    expect(d.annotations).toEqual({ 'org.opencontainers.image.ref.name': 'v1' });
    delete d.annotations;
    const got = JSON.parse(r.stdout);
    expect(got).toEqual(fromLayout);
    return got;
  }

  beforeAll(async () => {
    registry = await startRegistry();
    work = mkdtempSync(join(tmpdir(), 'ocilayout-regread-'));
    f = await makeFixture(work, 'fallback-tag', 20_000);
    repo = `${registry.host}/team/app`;
    const r = await cli(['copy', '--referrers', `${f.layout.root}:v1`, `docker://${repo}`]);
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(async () => {
    await registry?.stop();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('tags: the repository’s tags, fallback tags only with --all', async () => {
    const plain = await cli(['tags', '--json', `docker://${repo}`]);
    expect(plain.code, plain.stderr).toBe(0);
    expect(JSON.parse(plain.stdout)).toEqual(['v1']);
    const all = await cli(['tags', '--all', `docker://${repo}`]);
    expect(all.code, all.stderr).toBe(0);
    expect(all.stdout.trim().split('\n').sort()).toEqual(
      ['v1', ...[f.index.digest, f.amd64.digest, f.sbom].map(fallbackTagFor)].sort(),
    );
    const tagged = await cli(['tags', `docker://${repo}:v1`]);
    expect(tagged.code).not.toBe(0);
    expect(tagged.stderr).toMatch(/names a tag/);
  });

  it('resolve: the digest, and --json the descriptor, as for the layout', async () => {
    const out = await same((r) => ['resolve', r], `${f.layout.root}:v1`, `docker://${repo}:v1`);
    expect(out.trim()).toBe(f.index.digest);
    const json = await sameJson(
      (r) => ['resolve', '--json', r],
      `${f.layout.root}:v1`,
      `docker://${repo}:v1`,
    );
    expect(json).toMatchObject({ digest: f.index.digest, size: f.index.size });
  });

  it('manifest get: exact bytes (by tag and by digest), --json descriptor + document', async () => {
    const bytes = await same(
      (r) => ['manifest', 'get', r],
      `${f.layout.root}:v1`,
      `docker://${repo}:v1`,
    );
    expect(`sha256:${createHash('sha256').update(bytes).digest('hex')}`).toBe(f.index.digest);
    await same(
      (r) => ['manifest', 'get', r],
      `${f.layout.root}@${f.amd64.digest}`,
      `docker://${repo}@${f.amd64.digest}`,
    );
    const json = await sameJson(
      (r) => ['manifest', 'get', '--json', r],
      `${f.layout.root}:v1`,
      `docker://${repo}:v1`,
    );
    expect(json.descriptor.digest).toBe(f.index.digest);
    expect(json.manifest.manifests).toHaveLength(2);
    const missing = await cli(['manifest', 'get', `docker://${repo}:nope`]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/not found/);
  });

  it('blob get: streamed to stdout or -o FILE, verified; a missing blob fails', async () => {
    const amd = f.layout.getManifest({ digest: f.amd64.digest });
    const layer = JSON.parse(amd.bytes.toString('utf8')).layers[0];
    const bytes = await same(
      (r) => ['blob', 'get', r],
      `${f.layout.root}@${layer.digest}`,
      `docker://${repo}@${layer.digest}`,
    );
    expect(Buffer.byteLength(bytes, 'latin1')).toBeGreaterThan(0);
    const file = join(work, 'layer.bin');
    const r = await cli(['blob', 'get', '--json', '-o', file, `docker://${repo}@${layer.digest}`]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ digest: layer.digest, size: layer.size });
    const got = readFileSync(file);
    expect(`sha256:${createHash('sha256').update(got).digest('hex')}`).toBe(layer.digest);
    // --size disagreeing with what the registry serves: refused, and no file written.
    const bad = join(work, 'bad.bin');
    const wrong = await cli([
      'blob',
      'get',
      '--size',
      String(layer.size - 1),
      '-o',
      bad,
      `docker://${repo}@${layer.digest}`,
    ]);
    expect(wrong.code).not.toBe(0);
    expect(wrong.stderr).toMatch(/E_SIZE_MISMATCH|bytes/);
    expect(() => readFileSync(bad)).toThrow();
    const absent = await cli([
      'blob',
      'get',
      '-o',
      bad,
      `docker://${repo}@sha256:${'0'.repeat(64)}`,
    ]);
    expect(absent.code).not.toBe(0);
    expect(absent.stderr).toMatch(/not found/);
    const noDigest = await cli(['blob', 'get', '-o', bad, `docker://${repo}:v1`]);
    expect(noDigest.code).not.toBe(0);
    expect(noDigest.stderr).toMatch(/digest/);
  });

  it('discover: the fallback tag’s referrers, the same --json (flat and --depth 2) as the layout', async () => {
    for (const extra of [[], ['--depth', '2'], ['--artifact-type', 'application/spdx+json']]) {
      const json = JSON.parse(
        await same(
          (r) => ['discover', '--json', ...extra, r],
          `${f.layout.root}@${f.amd64.digest}`,
          `docker://${repo}@${f.amd64.digest}`,
        ),
      );
      expect(json.manifests.map((d: { digest: string }) => d.digest)).toEqual([f.sbom]);
      if (extra[0] === '--depth') {
        expect(json.manifests[0].referrers.map((d: { digest: string }) => d.digest)).toEqual([
          f.sbomSig,
        ]);
      }
    }
    const tree = await cli(['discover', `docker://${repo}:v1`]);
    expect(tree.code, tree.stderr).toBe(0);
    expect(tree.stdout).toContain(`${f.index.digest} (v1)`);
    expect(tree.stdout).toContain(`application/vnd.example.signature ${f.sig}`);
    expect(tree.stdout).toContain('org.example.signer: alice');
  });
});

describe('read verbs on a registry with the referrers API', () => {
  let server: ReferrersServer;
  let work: string;
  let f: Fixture;
  const env = (): NodeJS.ProcessEnv => ({ DOCKER_CONFIG: join(work, 'no-config') });

  beforeAll(async () => {
    server = await startReferrersServer();
    work = mkdtempSync(join(tmpdir(), 'ocilayout-regread-api-'));
    f = await makeFixture(work, 'per-manifest', 10_000);
    const r = await runCli(
      ['copy', '--referrers', `${f.layout.root}:v1`, `docker://${server.host}/app`],
      {
        env: env(),
      },
    );
    expect(r.code, r.stderr).toBe(0);
  });
  afterAll(async () => {
    await server?.close();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('discover asks the referrers API and prints the layout’s tree and response', async () => {
    const r = await runCli(
      ['discover', '--json', '--depth', '3', `docker://${server.host}/app:v1`],
      {
        env: env(),
      },
    );
    expect(r.code, r.stderr).toBe(0);
    const local = await runCli(['discover', '--json', '--depth', '3', `${f.layout.root}:v1`]);
    expect(JSON.parse(r.stdout)).toEqual(JSON.parse(local.stdout));
    expect(server.log.some((l) => l.startsWith('GET /v2/app/referrers/'))).toBe(true);
    expect([...server.tags.keys()]).toEqual(['app:v1']); // no fallback tag was needed or read
    const tree = await runCli(['discover', `docker://${server.host}/app@${f.amd64.digest}`], {
      env: env(),
    });
    expect(tree.code, tree.stderr).toBe(0);
    expect(tree.stdout).toContain(`application/spdx+json ${f.sbom}`);
    expect(tree.stdout).toContain(`application/vnd.example.signature ${f.sbomSig}`);
  });
});
