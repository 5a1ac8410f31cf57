// The referrers-API path through the built CLI, against the spec-faithful referrers test server
// (test/helpers/referrers-server.ts; docker-registry 2.8.2 has no referrers API).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Layout, referrerGraph } from '../../src/internal.js';
import { jsonError } from '../helpers/cli-layout.js';
import { startReferrersServer, type ReferrersServer } from '../helpers/referrers-server.js';
import { runCli } from '../helpers/run-cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { makeFixture, type Fixture } from '../registry/fixture.js';

describe('copy with a registry that has the referrers API', () => {
  let server: ReferrersServer;
  let work: string;
  let f: Fixture;
  const env = (): NodeJS.ProcessEnv => ({ DOCKER_CONFIG: join(work, 'no-config') });

  beforeAll(async () => {
    server = await startReferrersServer();
    work = mkdtempSync(join(tmpdir(), 'ocilayout-regapi-'));
    f = await makeFixture(work, 'per-manifest', 50_000);
  });
  afterAll(async () => {
    await server?.close();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('push: the registry answers OCI-Subject, so auto writes no fallback tag', async () => {
    const r = await runCli(
      ['copy', '--referrers', '--json', `${f.layout.root}:v1`, `docker://${server.host}/app`],
      { env: env() },
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.referrersApi.sort()).toEqual([f.index.digest, f.amd64.digest, f.sbom].sort());
    expect(out.fallbackTags).toEqual([]);
    expect([...server.tags.keys()]).toEqual(['app:v1']);
  });

  it('pull: referrers come from the API, land in the layout convention, digests kept', async () => {
    const dest = join(tmpDir(), 'back');
    const r = await runCli(
      [
        'copy',
        '--referrers',
        '--convention',
        'fallback-tag',
        '--json',
        `docker://${server.host}/app:v1`,
        dest,
      ],
      { env: env() },
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.referrersFrom).toEqual(['api']);
    expect(out.conventions).toEqual(['fallback-tag']);
    expect(server.log.filter((l) => l.startsWith('GET /v2/app/referrers/')).length).toBeGreaterThan(
      0,
    );
    const graph = referrerGraph(Layout.open(dest));
    expect(graph.referrersOf(f.index.digest).map((d) => d.digest)).toEqual([f.sig]);
    expect(graph.referrersOf(f.sbom).map((d) => d.digest)).toEqual([f.sbomSig]);
  });

  it('--referrers-mode api fails cleanly against a registry without the API', async () => {
    const old = await startReferrersServer({ referrersApi: false });
    try {
      const r = await runCli(
        [
          'copy',
          '--referrers',
          '--referrers-mode',
          'api',
          '--json',
          `${f.layout.root}:v1`,
          `docker://${old.host}/app`,
        ],
        { env: env() },
      );
      expect(r.code).toBe(8);
      expect(jsonError(r).code).toBe('E_REGISTRY');
      expect(jsonError(r).hint).toContain('--referrers-mode');
      expect(old.tags.size).toBe(0);
    } finally {
      await old.close();
    }
  });
});
