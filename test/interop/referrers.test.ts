// Referrers with real tools: after `ocilayout attach` in each convention, and after `ocilayout convert`
// to each other one, the interop judge (judge/judge.ts: umoci ls/stat/gc, skopeo inspect/copy,
// oci-image-tool, docker-registry push/pull) passes with 0 failures and finds every referrer (its own
// reader, judge/walk.ts, is independent of ocilayout).
import { cpSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { cliOk } from '../helpers/run-cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { requireTools } from '../helpers/tools.js';
import { JUDGE_TOOLS, judgeLayout } from './judge/judge.js';

const HAVE = requireTools(...JUDGE_TOOLS);

const CONVENTIONS = ['fallback-tag', 'subject-annotation', 'per-manifest'] as const;

/** The judge must pass with no failure and report `referrers: N found`. */
async function expectInterop(dir: string, referrers: number): Promise<void> {
  const verdict = await judgeLayout(dir, { unpack: false });
  const out = verdict.report;
  expect(verdict.failed, out).toBe(0);
  expect(out, out).toMatch(new RegExp(`^PASS +referrers: ${referrers} found`, 'm'));
  expect(out).toMatch(/PASS +\[v1\] umoci stat/);
  expect(out).toMatch(/PASS +\[v1\] skopeo inspect --raw/);
}

describe.skipIf(!HAVE)('referrers interop (the judge)', () => {
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
      await expectInterop(dir, 2);
      await cliOk(['convert', dir, '--to', next]);
      await expectInterop(dir, 2);
    },
  );
});
