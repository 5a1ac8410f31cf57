// In the reliability suite (integration project): about 15 s of real registry rounds.
// Eight copies of one image (with its referrers) into one fresh repository of a real
// docker-registry at once, each under its own tag. They PUT the same manifests concurrently, and
// distribution's filesystem storage rewrites a stored manifest in place, so for a moment a
// manifest that names it as a child is refused (400 MANIFEST_BLOB_UNKNOWN). Every copy must still
// succeed, and every tag name the whole image.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyRefs } from '../../src/internal.js';
import { RegistryClient } from '../../src/registry/client.js';
import { DEFAULT_RETRY_POLICY } from '../../src/registry/retry.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { requireTools } from '../helpers/tools.js';
import { makeFixture, type Fixture } from '../registry/fixture.js';

const HAVE = requireTools('docker-registry');
const COPIES = 8;
const ROUNDS = 6;
const NO_CONFIG = { path: '/nonexistent', credentials: new Map(), helpers: new Map() };
const opts = { retry: DEFAULT_RETRY_POLICY, dockerConfig: NO_CONFIG, referrers: true };

describe.runIf(HAVE)('concurrent copies of one image into a fresh repository', () => {
  let registry: RunningRegistry;
  let work: string;
  let fixture: Fixture;

  beforeAll(async () => {
    registry = await startRegistry();
    work = mkdtempSync(join(tmpdir(), 'ocilayout-shared-manifests-'));
    fixture = await makeFixture(work, 'fallback-tag', 1_000_000);
  });
  afterAll(async () => {
    await registry?.stop();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it(`${COPIES} copies at once all succeed, ${ROUNDS} rounds`, async () => {
    const client = new RegistryClient(registry.host, { retry: DEFAULT_RETRY_POLICY });
    const failures: string[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const repo = `shared${round}`;
      const results = await Promise.allSettled(
        Array.from({ length: COPIES }, (_, i) =>
          copyRefs(`${fixture.layout.root}:v1`, `docker://${registry.host}/${repo}:t${i}`, opts),
        ),
      );
      results.forEach((r, i) => {
        if (r.status === 'rejected') failures.push(`round ${round} copy ${i}: ${String(r.reason)}`);
      });
      for (let i = 0; i < COPIES; i++) {
        const head = await client.headManifest(repo, `t${i}`);
        if (head?.digest !== fixture.index.digest) failures.push(`round ${round}: t${i} missing`);
      }
    }
    expect(failures).toEqual([]);
  }, 240_000);
});
