// `ocilayout copy` judged by real tools: the destination is read by skopeo and umoci, holds exactly
// the blobs skopeo's own copy holds, and passes the interop judge (judge/judge.ts). Sources are written
// by umoci (built here) and by skopeo (testdata/peers/skopeo-layout).
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cliOk } from '../helpers/run-cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { requireTools } from '../helpers/tools.js';
import { JUDGE_TOOLS, judgeLayout } from './judge/judge.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const TOOLS = requireTools(...JUDGE_TOOLS);

function run(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  }
  return r.stdout;
}
const skopeo = (...args: string[]): string => run('skopeo', ['--insecure-policy', ...args]);
const sha256 = (b: Buffer | string): string =>
  `sha256:${createHash('sha256').update(b).digest('hex')}`;
const blobNames = (layout: string): string[] => readdirSync(join(layout, 'blobs', 'sha256')).sort();

/** skopeo's view of a tag: the raw manifest bytes' digest (what it would push). */
function skopeoDigest(layout: string, tag: string): string {
  const raw = spawnSync('skopeo', [
    '--insecure-policy',
    'inspect',
    '--raw',
    `oci:${layout}:${tag}`,
  ]);
  if (raw.status !== 0) throw new Error(`skopeo inspect --raw failed: ${raw.stderr.toString()}`);
  return sha256(raw.stdout);
}

describe.runIf(TOOLS)('copy interop with skopeo and umoci', () => {
  let umociSrc: string;

  let sourceDir: string | undefined;
  afterAll(() => {
    if (sourceDir !== undefined) rmSync(sourceDir, { recursive: true, force: true });
  });

  beforeAll(() => {
    const dir = mkdtempSync(join(tmpdir(), 'ocilayout-copy-interop-'));
    sourceDir = dir;
    umociSrc = join(dir, 'umoci');
    const files = join(dir, 'files');
    mkdirSync(files);
    // Over copy's 1 MiB small-blob limit (gzip of random data stays that big): the hashed path runs.
    writeFileSync(join(files, 'data.bin'), randomBytes(3 * 1024 * 1024));
    run('umoci', ['init', '--layout', umociSrc]);
    run('umoci', ['new', '--image', `${umociSrc}:v1`]);
    run('umoci', ['insert', '--image', `${umociSrc}:v1`, files, '/data']);
    run('umoci', ['config', '--image', `${umociSrc}:v1`, '--config.cmd', '/bin/true']);
  });

  it('a linked copy of a umoci image reads back in skopeo and umoci, with the same blobs as skopeo copies', async () => {
    const dir = tmpDir('ocilayout-copy-interop-');
    const ours = join(dir, 'ours');
    const theirs = join(dir, 'theirs');

    const printed = (await cliOk(['copy', `${umociSrc}:v1`, ours])).trim();
    skopeo('copy', '-q', `oci:${umociSrc}:v1`, `oci:${theirs}:v1`);

    expect(skopeoDigest(ours, 'v1')).toBe(printed);
    expect(skopeoDigest(umociSrc, 'v1')).toBe(printed);
    expect(run('umoci', ['ls', '--layout', ours]).trim().split('\n')).toEqual(['v1']);
    expect(blobNames(ours)).toEqual(blobNames(theirs));
  });

  it('a streamed copy under a new tag passes the judge and skopeo copies it on', async () => {
    const dir = tmpDir('ocilayout-copy-interop-');
    const ours = join(dir, 'ours');
    const onward = join(dir, 'onward');

    const printed = (
      await cliOk(['copy', '--no-link', `${umociSrc}:v1`, `${ours}:release`])
    ).trim();
    skopeo('copy', '-q', '--preserve-digests', `oci:${ours}:release`, `oci:${onward}:release`);

    expect(skopeoDigest(onward, 'release')).toBe(printed);
    expect(run('umoci', ['ls', '--layout', ours]).trim()).toBe('release');
    const verdict = await judgeLayout(ours, { registry: false });
    expect(verdict.failed, verdict.report).toBe(0);
    expect(verdict.report).toMatch(/^PASS +umoci ls: lists the 1 tag/m);
  });

  it('copies a layout written by skopeo into one umoci and the judge accept, with every tag kept apart', async () => {
    const src = join(ROOT, 'testdata', 'peers', 'skopeo-layout');
    const expected = JSON.parse(
      readFileSync(join(ROOT, 'testdata', 'peers', 'expected.json'), 'utf8'),
    ) as Record<string, { tags: Record<string, string> }>;
    const want = expected['skopeo-layout']!.tags['v1']!;
    const dst = join(tmpDir('ocilayout-copy-interop-'), 'dst');

    // --no-link: never share inodes with files under version control.
    const printed = (await cliOk(['copy', '--no-link', `${src}:v1`, dst])).trim();
    await cliOk(['copy', '--no-link', `${src}:v1`, `${dst}:again`]);

    expect(printed).toBe(want);
    expect(skopeoDigest(dst, 'v1')).toBe(want);
    expect(run('umoci', ['ls', '--layout', dst]).trim().split('\n').sort()).toEqual([
      'again',
      'v1',
    ]);
    const verdict = await judgeLayout(dst, { registry: false });
    expect(verdict.failed, verdict.report).toBe(0);
    expect(verdict.report).toMatch(/^PASS +umoci ls: lists the 2 tag/m);
  });

  it.each(['auto', 'fallback-tag', 'subject-annotation'])(
    'copy --referrers --convention %s of an oras-style layout passes the judge (referrers included)',
    async (convention) => {
      const src = join(ROOT, 'testdata', 'peers', 'oras-style');
      const dst = join(tmpDir('ocilayout-copy-interop-'), 'dst');

      const printed = (
        await cliOk([
          'copy',
          '--no-link',
          '--referrers',
          '--convention',
          convention,
          `${src}:v1`,
          dst,
        ])
      ).trim();

      expect(skopeoDigest(dst, 'v1')).toBe(printed);
      const verdict = await judgeLayout(dst, { registry: false });
      expect(verdict.failed, verdict.report).toBe(0);
      // The judge's own referrer census (judge/walk.ts) finds both signatures.
      expect(verdict.report).toMatch(/^PASS +referrers: 2 found/m);
      expect(verdict.report).toContain('ebe2a4b1');
      expect(verdict.report).toContain('8af53600');
    },
  );
});
