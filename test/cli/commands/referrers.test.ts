// referrers.ts in-process: attach/discover/detach/convert arguments and output (tree, --json
// referrers response, plans), and the referrer lines `info` adds. Conventions are the library's.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { renderReferrerSummary } from '../../../src/cli/commands/referrers.js';
import { Layout, MediaType, referrerSummary } from '../../../src/internal.js';
import { artifactLayout } from '../../helpers/cli-layout.js';
import { jsonErrorOf, runInProcess } from '../../helpers/fake-io.js';
import { layoutSnapshot } from '../../helpers/snapshot.js';
import { signedImage, SIG } from '../../referrers/helpers.js';

async function attached(): Promise<{ dir: string; sig: string; work: string; subject: string }> {
  const a = await artifactLayout();
  const file = join(a.work, 'sig.txt');
  writeFileSync(file, 'signature');
  const r = await runInProcess([
    'attach',
    `${a.dir}:v1`,
    file,
    '--artifact-type',
    SIG,
    '--annotation',
    'by=alice',
    '--convention',
    'fallback-tag',
  ]);
  expect(r.code, r.stderr).toBe(0);
  expect(r.stderr).toBe(`attached to ${a.manifest.digest} (fallback-tag)\n`);
  return { dir: a.dir, sig: r.stdout.trim(), work: a.work, subject: a.manifest.digest };
}

describe('attach', () => {
  it('prints the referrer digest, and says when nothing changed', async () => {
    const { dir, sig, work, subject } = await attached();
    expect(sig).toMatch(/^sha256:[0-9a-f]{64}$/);
    const again = await runInProcess([
      'attach',
      `${dir}:v1`,
      join(work, 'sig.txt'),
      '--artifact-type',
      SIG,
      '--annotation',
      'by=alice',
    ]);
    expect(again.stdout.trim()).toBe(sig);
    expect(again.stderr).toBe(`already attached to ${subject}; nothing changed\n`);
  });

  it('needs --artifact-type', async () => {
    const a = await artifactLayout();
    expect((await runInProcess(['attach', `${a.dir}:v1`, '--json'])).code).toBe(2);
  });
});

describe('discover', () => {
  it('draws a tree labelled with the tag, annotations as children', async () => {
    const { dir, sig, subject } = await attached();
    const r = await runInProcess(['discover', `${dir}:v1`]);
    expect(r.stdout).toBe(`${subject} (v1)\n└── ${SIG} ${sig} [fallback-tag]\n    └── by: alice\n`);
  });

  it('prints the referrers API response with --json, filtered by --artifact-type', async () => {
    const { dir, sig } = await attached();
    const all = JSON.parse((await runInProcess(['discover', `${dir}:v1`, '--json'])).stdout);
    expect(all).toMatchObject({ mediaType: MediaType.ImageIndex, manifests: [{ digest: sig }] });
    const none = JSON.parse(
      (await runInProcess(['discover', `${dir}:v1`, '--json', '--artifact-type', 'x/y'])).stdout,
    );
    expect(none.manifests).toEqual([]);
    expect(none.annotations).toBeDefined();
  });

  it('says "no referrers" on stderr, and refuses a bad --depth', async () => {
    const a = await artifactLayout();
    const r = await runInProcess(['discover', `${a.dir}:v1`]);
    expect(r).toMatchObject({ stdout: `${a.manifest.digest} (v1)\n`, stderr: 'no referrers\n' });
    for (const flags of [
      ['--depth', '0'],
      ['--depth', '1.5'],
    ]) {
      const bad = await runInProcess(['discover', `${a.dir}:v1`, ...flags, '--json']);
      expect(jsonErrorOf(bad).code).toBe('E_USAGE');
    }
  });
});

describe('detach', () => {
  it('detaches and says from where; a second time nothing changes', async () => {
    const { dir, sig } = await attached();
    const r = await runInProcess(['detach', `${dir}@${sig}`]);
    expect(r.stdout).toBe(`detached ${sig} from fallback-tag\n`);
    const again = await runInProcess(['detach', `${dir}@${sig}`]);
    expect(again.stdout).toBe(`${sig} was not recorded anywhere; nothing changed\n`);
    const tag = await runInProcess(['detach', `${dir}:v1`, '--json']);
    expect(jsonErrorOf(tag).code).toBe('E_INVALID_REFERENCE');
  });
});

describe('convert', () => {
  it('prints the plan; a dry run changes nothing; converting again changes nothing', async () => {
    const { layout } = await signedImage('fallback-tag');
    const before = layoutSnapshot(layout.root);
    const dry = await runInProcess(['convert', layout.root, '--to', 'per-manifest', '--dry-run']);
    expect(dry.stdout.split('\n')[0]).toBe(
      'would convert fallback-tag → per-manifest: 1 subject(s), 1 referrer(s)',
    );
    expect(dry.stdout).toMatch(/\n {2}- sha256:\S+ \(sha256-[0-9a-f]{64}\)\n {2}\+ sha256:\S+ \(/);
    expect(layoutSnapshot(layout.root)).toEqual(before);
    const real = await runInProcess(['convert', layout.root, '--to', 'per-manifest']);
    expect(real.stdout.split('\n')[0]).toBe(
      'converted fallback-tag → per-manifest: 1 subject(s), 1 referrer(s)',
    );
    const again = await runInProcess(['convert', layout.root, '--to', 'per-manifest']);
    expect(again.stdout).toBe(
      'already per-manifest: 1 subject(s), 1 referrer(s); nothing to change\n',
    );
    expect((await runInProcess(['convert', layout.root])).code).toBe(2); // --to is required
  });
});

describe('renderReferrerSummary', () => {
  it('counts per convention in use', async () => {
    const { layout } = await signedImage('subject-annotation');
    const lines = renderReferrerSummary(referrerSummary(Layout.open(layout.root)));
    expect(lines).toEqual([
      'referrers:     1 of 1 subject(s); subject-annotation 1 entry/1 subject(s)/1 referrer(s)',
    ]);
  });
});
