// Referrers with real tools: after `ocilayout attach` in each convention, and after `ocilayout convert`
// to each other one, the shared harness (shared/interop/check-layout.sh: umoci ls/stat/gc, skopeo
// inspect/copy, oci-image-tool, docker-registry push/pull) passes with 0 failures and finds every
// referrer (its own reader, layout-walk.mjs, is independent of ocilayout).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cliOk } from '../helpers/run-cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { requireTools } from '../helpers/tools.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const CHECK_LAYOUT = resolve(ROOT, '..', 'shared', 'interop', 'check-layout.sh');
/** The shared harness sits beside the repo; missing, it skips locally and fails in CI. */
function harnessPresent(): boolean {
  if (existsSync(CHECK_LAYOUT)) return true;
  const msg = `shared interop harness not found at ${CHECK_LAYOUT}`;
  if (process.env['CI'] === 'true') throw new Error(`${msg}; CI requires it`);
  console.warn(`SKIP: ${msg}`);
  return false;
}
const HAVE =
  requireTools('skopeo', 'umoci', 'oci-image-tool', 'docker-registry', 'jq', 'curl') &&
  harnessPresent();

const CONVENTIONS = ['fallback-tag', 'subject-annotation', 'per-manifest'] as const;

/** check-layout.sh must pass with no failure and report `referrers: N found`. */
function expectInterop(dir: string, referrers: number): void {
  const r = spawnSync('bash', [CHECK_LAYOUT, '--no-unpack', dir], {
    encoding: 'utf8',
    timeout: 170_000,
  });
  const out = `${r.stdout}${r.stderr}`;
  expect(out, out).toMatch(/^interop: \d+ passed, 0 failed/m);
  expect(out, out).toMatch(new RegExp(`^PASS +referrers: ${referrers} found`, 'm'));
  expect(out).toMatch(/PASS +\[v1\] umoci stat/);
  expect(out).toMatch(/PASS +\[v1\] skopeo inspect --raw/);
  expect(r.status).toBe(0);
}

describe.skipIf(!HAVE)('referrers interop (check-layout.sh)', () => {
  it.each(CONVENTIONS.map((c, i) => [c, CONVENTIONS[(i + 1) % 3]!] as const))(
    'attach in %s, then convert to %s: real tools still read every image and referrer',
    async (convention, next) => {
      const work = tmpDir('ocilayout-refinterop-');
      const dir = join(work, 'layout');
      cpSync(fileURLToPath(new URL('../../testdata/peers/umoci-image', import.meta.url)), dir, {
        recursive: true,
      });
      const file = join(work, 'sbom.json');
      writeFileSync(file, '{"spdxVersion":"SPDX-2.3"}');
      const sbom = (
        await cliOk([
          'attach',
          `${dir}:v1`,
          `${file}:application/spdx+json`,
          '--artifact-type',
          'application/spdx+json',
          '--convention',
          convention,
        ])
      ).trim();
      await cliOk([
        'attach',
        `${dir}@${sbom}`,
        file,
        '--artifact-type',
        'application/vnd.example.signature.v1+json',
        '--convention',
        convention,
      ]);
      expectInterop(dir, 2);
      await cliOk(['convert', dir, '--to', next]);
      expectInterop(dir, 2);
    },
  );
});
