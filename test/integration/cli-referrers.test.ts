// attach / discover / detach / convert through the built CLI: output formats, exit codes, and the
// layout left unchanged by bad input; several processes attaching to one subject at once.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  FILTERS_APPLIED_ANNOTATION,
  Layout,
  MediaType,
  fallbackTagFor,
  referrerGraph,
} from '../../src/internal.js';
import { artifactLayout, jsonError } from '../helpers/cli-layout.js';
import { cosignLayout } from '../referrers/helpers.js';
import { cliOk, runCli } from '../helpers/run-cli.js';
import { layoutSnapshot } from '../helpers/snapshot.js';

const SIG = 'application/vnd.example.signature.v1+json';
const SBOM = 'application/spdx+json';

async function signed() {
  const f = await artifactLayout();
  const sigFile = join(f.work, 'sig.json');
  writeFileSync(sigFile, '{"sig":1}');
  return { ...f, sigFile };
}

describe('ocilayout attach / discover / detach / convert', () => {
  it('attaches, discovers as a tree and as the referrers API index, detaches', async () => {
    const f = await signed();
    const sbom = (
      await cliOk([
        'attach',
        `${f.dir}:v1`,
        `${f.sigFile}:application/json`,
        '--artifact-type',
        SBOM,
        '--annotation',
        'k=v',
      ])
    ).trim();
    expect(sbom).toMatch(/^sha256:[a-f0-9]{64}$/);
    const sigDesc = JSON.parse(
      await cliOk([
        'attach',
        `${f.dir}@${sbom}`,
        f.sigFile,
        '--artifact-type',
        SIG,
        '--json',
        '--convention',
        'fallback-tag',
      ]),
    );
    expect(sigDesc).toMatchObject({ mediaType: MediaType.ImageManifest, artifactType: SIG });

    const tree = await cliOk(['discover', `${f.dir}:v1`]);
    expect(tree.split('\n')[0]).toBe(`${f.manifest.digest} (v1)`);
    expect(tree).toContain(`${SBOM} ${sbom} [per-manifest]`);
    expect(tree).toContain('k: v');
    expect(tree).toContain(`${SIG} ${sigDesc.digest} [fallback-tag]`);
    expect(await cliOk(['discover', `${f.dir}:v1`, '--depth', '1'])).not.toContain(sigDesc.digest);

    const api = JSON.parse(await cliOk(['discover', `${f.dir}:v1`, '--json']));
    expect(api).toEqual({
      schemaVersion: 2,
      mediaType: MediaType.ImageIndex,
      manifests: [
        {
          mediaType: MediaType.ImageManifest,
          digest: sbom,
          size: expect.any(Number) as number,
          annotations: { k: 'v' },
          artifactType: SBOM,
        },
      ],
    });
    // --json --depth N: the same response, each descriptor carrying its own subject's response
    // `manifests` as `referrers`, down to N levels; depth 1 is the flat response unchanged.
    expect(JSON.parse(await cliOk(['discover', `${f.dir}:v1`, '--json', '--depth', '1']))).toEqual(
      api,
    );
    const ofSbom = JSON.parse(await cliOk(['discover', `${f.dir}@${sbom}`, '--json']));
    expect(ofSbom.manifests.map((d: { digest: string }) => d.digest)).toEqual([sigDesc.digest]);
    const depth2 = JSON.parse(await cliOk(['discover', `${f.dir}:v1`, '--json', '--depth', '2']));
    expect(depth2).toEqual({
      ...api,
      manifests: [{ ...api.manifests[0], referrers: ofSbom.manifests }],
    });
    const depth3 = JSON.parse(await cliOk(['discover', `${f.dir}:v1`, '--json', '--depth', '3']));
    expect(depth3.manifests[0].referrers).toEqual([{ ...ofSbom.manifests[0], referrers: [] }]);

    const filtered = JSON.parse(
      await cliOk(['discover', `${f.dir}:v1`, '--json', '--artifact-type', SIG]),
    );
    expect(filtered).toEqual({
      schemaVersion: 2,
      mediaType: MediaType.ImageIndex,
      manifests: [],
      annotations: { [FILTERS_APPLIED_ANNOTATION]: 'artifactType' },
    });

    const detached = JSON.parse(await cliOk(['detach', `${f.dir}@${sigDesc.digest}`, '--json']));
    expect(detached).toMatchObject({ conventions: ['fallback-tag'], changed: true });
    expect(JSON.parse(await cliOk(['discover', `${f.dir}@${sbom}`, '--json'])).manifests).toEqual(
      [],
    );
  });

  it('attach again is a no-op (same digest, layout unchanged)', async () => {
    const f = await signed();
    const first = await cliOk(['attach', `${f.dir}:v1`, f.sigFile, '--artifact-type', SIG]);
    const before = layoutSnapshot(f.dir);
    const r = await runCli(['attach', `${f.dir}:v1`, f.sigFile, '--artifact-type', SIG]);
    expect(r).toMatchObject({ code: 0, stdout: first });
    expect(r.stderr).toContain('already attached');
    expect(layoutSnapshot(f.dir)).toEqual(before);
  });

  it('convert --dry-run --json plans without writing; convert applies it; info counts per convention', async () => {
    const f = await signed();
    await cliOk([
      'attach',
      `${f.dir}:v1`,
      f.sigFile,
      '--artifact-type',
      SIG,
      '--convention',
      'per-manifest',
    ]);
    const before = layoutSnapshot(f.dir);
    const plan = JSON.parse(
      await cliOk(['convert', f.dir, '--to', 'fallback-tag', '--dry-run', '--json']),
    );
    expect(plan).toMatchObject({
      to: 'fallback-tag',
      from: ['per-manifest'],
      subjects: 1,
      referrers: 1,
      dryRun: true,
      changed: true,
    });
    expect(layoutSnapshot(f.dir)).toEqual(before);
    const text = await cliOk(['convert', f.dir, '--to', 'fallback-tag']);
    expect(text).toContain(`(${fallbackTagFor(f.manifest.digest)})`);
    const info = JSON.parse(await cliOk(['info', f.dir, '--json']));
    expect(info.referrers).toMatchObject({
      inUse: ['fallback-tag'],
      subjects: 1,
      referrers: 1,
      conventions: { 'fallback-tag': { entries: 1, subjects: 1, referrers: 1 } },
    });
    expect(await cliOk(['info', f.dir])).toMatch(
      /referrers: +1 of 1 subject\(s\); fallback-tag 1 entry/,
    );
    expect((await cliOk(['convert', f.dir, '--to', 'fallback-tag'])).trim()).toMatch(
      /^already fallback-tag/,
    );
  });

  it("lists cosign's .sig/.att tags as referrers, counts them in info, convert leaves them", async () => {
    const { layout, img, sig, att } = await cosignLayout();
    const dir = layout.root;
    const SIG_AT = 'application/vnd.dev.cosign.artifact.sig.v1+json';
    const ATT_AT = 'application/vnd.dev.cosign.artifact.att.v1+json';
    const tree = await cliOk(['discover', `${dir}:v1`]);
    expect(tree.split('\n')[0]).toBe(`${img.digest} (v1)`);
    expect(tree).toContain(`${SIG_AT} ${sig.digest} [cosign-tag]`);
    expect(tree).toContain(`${ATT_AT} ${att.digest} [cosign-tag]`);
    const response = JSON.parse(await cliOk(['discover', `${dir}:v1`, '--json']));
    expect(response.manifests).toHaveLength(2);
    for (const d of response.manifests) {
      expect(d.annotations).toMatchObject({ 'dev.ocilayout.referrer.source': 'cosign-tag' });
    }
    const filtered = JSON.parse(
      await cliOk(['discover', `${dir}:v1`, '--json', '--artifact-type', ATT_AT]),
    );
    expect(filtered.manifests.map((d: { digest: string }) => d.digest)).toEqual([att.digest]);
    const info = await cliOk(['info', dir]);
    expect(info).toMatch(/referrers: +2 of 1 subject\(s\)/);
    expect(info).toMatch(/^ +2 only by cosign tag$/m);
    const before = layoutSnapshot(dir);
    expect((await cliOk(['convert', dir, '--to', 'fallback-tag'])).trim()).toMatch(/^already/);
    expect(layoutSnapshot(dir)).toEqual(before);
  });

  it('detaches a cosign signature by digest or by its tag; gc then removes it', async () => {
    const { layout, img, sig, att } = await cosignLayout();
    layout.close(); // this process's gc lease on what it wrote
    const dir = layout.root;
    const attTag = `${img.digest.replace(':', '-')}.att`;
    const bySig = JSON.parse(await cliOk(['detach', `${dir}@${sig.digest}`, '--json']));
    expect(bySig).toMatchObject({ digest: sig.digest, entriesRemoved: 1, changed: true });
    expect(bySig.cosignTags).toEqual([expect.stringMatching(/^sha256-[0-9a-f]{64}\.sig$/)]);
    expect(await cliOk(['detach', `${dir}:${attTag}`])).toMatch(
      new RegExp(`^detached ${att.digest}; removed 1 own entry \\(cosign tag ${attTag}\\)`),
    );
    const response = JSON.parse(await cliOk(['discover', `${dir}:v1`, '--json']));
    expect(response.manifests).toEqual([]);
    const gc = JSON.parse(await cliOk(['gc', dir, '--json']));
    expect(gc.removedBlobs).toEqual(expect.arrayContaining([sig.digest, att.digest]));
  });

  it('gc keeps referrers of a live image and fsck finds nothing wrong', async () => {
    const f = await signed();
    for (const convention of ['fallback-tag', 'subject-annotation', 'per-manifest']) {
      writeFileSync(f.sigFile, convention);
      await cliOk([
        'attach',
        `${f.dir}:v1`,
        f.sigFile,
        '--artifact-type',
        SIG,
        '--convention',
        convention,
      ]);
    }
    const before = referrerGraph(Layout.open(f.dir)).referrersOf(f.manifest.digest);
    expect(before).toHaveLength(3);
    const gc = JSON.parse(await cliOk(['gc', f.dir, '--json']));
    expect(gc.removedBlobs).toEqual([]);
    await cliOk(['fsck', f.dir]);
    expect(referrerGraph(Layout.open(f.dir)).referrersOf(f.manifest.digest)).toEqual(before);
  });

  it.each([
    [['attach', 'DIR:v1', 'FILE'], 2, 'E_USAGE'], // no --artifact-type
    [['attach', 'DIR:nope', 'FILE', '--artifact-type', SIG], 3, 'E_NOT_FOUND'],
    [['attach', 'DIR:v1', 'FILE', '--artifact-type', SIG, '--convention', 'bogus'], 2, 'E_USAGE'],
    [['attach', 'DIR:v1', 'WORK/missing', '--artifact-type', SIG], 3, 'E_NOT_FOUND'],
    [['discover', 'DIR:v1', '--depth', '0'], 2, 'E_USAGE'],
    [['detach', 'DIR:v1'], 2, 'E_INVALID_REFERENCE'],
    [['detach', `DIR:sha256-${'0'.repeat(64)}.sig`], 3, 'E_NOT_FOUND'],
    [['detach', 'DIR@MANIFEST'], 2, 'E_USAGE'], // not a referrer
    [['detach', `DIR@sha256:${'0'.repeat(64)}`], 3, 'E_NOT_FOUND'],
    [['convert', 'DIR', '--to', 'bogus'], 2, 'E_USAGE'],
  ])('%j exits %i (%s) and changes nothing', async (args, code, errCode) => {
    const f = await signed();
    const fill = (a: string): string =>
      a
        .replace('DIR', f.dir)
        .replace('FILE', f.sigFile)
        .replace('WORK', f.work)
        .replace('MANIFEST', f.manifest.digest);
    const before = layoutSnapshot(f.dir);
    const r = await runCli([...args.map(fill), '--json']);
    expect(r.code).toBe(code);
    expect(r.stdout).toBe('');
    // yargs' own usage errors are plain text even with --json (src/cli/main.ts); the rest are JSON.
    if (r.stderr.startsWith('{')) expect(jsonError(r).code).toBe(errCode);
    else expect(errCode).toBe('E_USAGE');
    expect(layoutSnapshot(f.dir)).toEqual(before);
  });
});

describe('concurrent attach', () => {
  it.each(['fallback-tag', 'subject-annotation', 'per-manifest'])(
    'six processes attaching to one subject in %s lose nothing',
    async (convention) => {
      const f = await signed();
      const runs = Array.from({ length: 6 }, (_, i) => {
        const file = join(f.work, `sig-${i}.json`);
        writeFileSync(file, `{"n":${i}}`);
        return runCli([
          'attach',
          `${f.dir}:v1`,
          file,
          '--artifact-type',
          SIG,
          '--convention',
          convention,
        ]);
      });
      const results = await Promise.all(runs);
      for (const r of results) expect(r.code, r.stderr).toBe(0);
      const digests = results.map((r) => r.stdout.trim()).sort();
      const found = referrerGraph(Layout.open(f.dir))
        .referrersOf(f.manifest.digest)
        .map((d) => d.digest);
      expect(found).toEqual(digests);
      await cliOk(['fsck', f.dir]);
    },
  );
});
