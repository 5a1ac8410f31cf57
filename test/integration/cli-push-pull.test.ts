import { existsSync, readdirSync, readFileSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  Annotation,
  Layout,
  MediaType,
  buildArtifactManifest,
  digestOf,
  type Descriptor,
} from '../../src/internal.js';
import { artifactLayout, jsonError, signV1 } from '../helpers/cli-layout.js';
import { cliOk, runCli } from '../helpers/run-cli.js';
import { layoutSnapshot } from '../helpers/snapshot.js';
import { tmpDir } from '../helpers/tmp.js';

describe('ocilayout push', () => {
  it('creates the layout, prints the manifest digest, and --json prints the descriptor', async () => {
    const work = tmpDir();
    writeFileSync(join(work, 'notes.md'), '# notes\n');
    writeFileSync(join(work, 'x:y'), 'colon in the name');
    const dir = join(work, 'new-layout');
    const digest = (
      await cliOk([
        'push',
        `${dir}:v1`,
        '--annotation',
        'team=infra',
        join(work, 'notes.md') + ':text/markdown',
        join(work, 'x:y'),
        '--artifact-type',
        'application/vnd.example.docs',
      ])
    ).trim();
    expect(digest).toMatch(/^sha256:[0-9a-f]{64}$/);
    const layout = Layout.open(dir);
    expect(layout.resolve({ tag: 'v1' }).digest).toBe(digest);
    const m = layout.readManifest(layout.resolve({ tag: 'v1' }));
    expect(m.doc).toMatchObject({
      artifactType: 'application/vnd.example.docs',
      annotations: { team: 'infra' },
      layers: [
        { mediaType: 'text/markdown', annotations: { [Annotation.Title]: 'notes.md' } },
        { mediaType: MediaType.Layer, annotations: { [Annotation.Title]: 'x:y' } },
      ],
    });

    const again = JSON.parse(
      await cliOk([
        'push',
        `${dir}:v1`,
        join(work, 'notes.md') + ':text/markdown',
        join(work, 'x:y'),
        '--json',
        '--artifact-type',
        'application/vnd.example.docs',
        '--annotation',
        'team=infra',
      ]),
    ) as Descriptor;
    expect(again).toEqual({
      mediaType: MediaType.ImageManifest,
      digest,
      size: expect.any(Number) as number,
      artifactType: 'application/vnd.example.docs',
    });
  });

  it('exits 3 for a missing file and 2 for a digest reference, changing nothing', async () => {
    const f = await artifactLayout();
    const before = layoutSnapshot(f.dir);
    const missing = await runCli(['push', `${f.dir}:v2`, join(f.work, 'nope.txt'), '--json']);
    expect(missing.code).toBe(3);
    expect(jsonError(missing).code).toBe('E_NOT_FOUND');
    const byDigest = await runCli([
      'push',
      `${f.dir}@${f.manifest.digest}`,
      join(f.work, 'a.txt'),
      '--json',
    ]);
    expect(byDigest.code).toBe(2);
    expect(jsonError(byDigest).code).toBe('E_INVALID_REFERENCE');
    expect(layoutSnapshot(f.dir)).toEqual(before);
  });

  it('-n refuses (exit 7) to move a tag off other content, writing nothing', async () => {
    const f = await artifactLayout();
    writeFileSync(join(f.work, 'site.txt'), 'a site\n');
    const before = layoutSnapshot(f.dir);
    for (const flag of ['-n', '--no-clobber']) {
      const r = await runCli(['push', flag, `${f.dir}:v1`, join(f.work, 'site.txt'), '--json']);
      expect(r.code).toBe(7);
      expect(jsonError(r)).toMatchObject({ code: 'E_CONFLICT' });
    }
    expect(layoutSnapshot(f.dir)).toEqual(before);
    // The same files again make the same manifest: no clobbering, exit 0.
    const again = ['push', '-n', `${f.dir}:v1`, join(f.work, 'a.txt')];
    expect((await cliOk([...again, `${join(f.work, 'b.json')}:application/json`])).trim()).toBe(
      f.manifest.digest,
    );
    expect((await cliOk(['push', '-n', `${f.dir}:v2`, join(f.work, 'site.txt')])).trim()).toMatch(
      /^sha256:/,
    );
  });

  it('warns when it moves a tag off a signed subject, naming discover', async () => {
    const f = await artifactLayout();
    await signV1(f);
    writeFileSync(join(f.work, 'site.txt'), 'a site\n');
    const r = await runCli(['push', `${f.dir}:v1`, join(f.work, 'site.txt')]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`tag v1 moved off ${f.manifest.digest}`);
    expect(r.stderr).toContain('1 referrer');
    expect(r.stderr).toContain(`ocilayout discover ${f.dir}@${f.manifest.digest}`);
  });

  it('says a word after FILE: is not a media type (exit 2), and creates no layout', async () => {
    const work = tmpDir();
    writeFileSync(join(work, 'sbom.spdx.json'), '{}');
    const dir = join(work, 'lay');
    const r = await runCli(['push', `${dir}:x`, join(work, 'sbom.spdx.json') + ':spdx']);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('"spdx" is not a media type');
    expect(r.stderr).toContain(join(work, 'sbom.spdx.json'));
    expect(r.stderr).not.toContain('not found');
    expect(r.stderr).toContain('hint: write FILE:TYPE/SUBTYPE');
    expect(existsSync(dir)).toBe(false);
    const json = await runCli(['--json', 'push', `${dir}:x`, join(work, 'sbom.spdx.json:spdx')]);
    expect(jsonError(json)).toMatchObject({
      code: 'E_USAGE',
      hint: expect.stringContaining('FILE:TYPE/SUBTYPE') as string,
    });
  });
});

describe('ocilayout pull', () => {
  it('writes the titled layers and prints their paths; --json describes them', async () => {
    const f = await artifactLayout();
    const out = join(f.work, 'out');
    const text = await cliOk(['pull', `${f.dir}:v1`, '-o', out]);
    expect(text.trim().split('\n')).toEqual([join(out, 'a.txt'), join(out, 'b.json')]);
    expect(readFileSync(join(out, 'a.txt'), 'utf8')).toBe('hello\n');
    const json = JSON.parse(
      await cliOk(['pull', `${f.dir}@${f.manifest.digest}`, '-o', out, '--json']),
    );
    expect(json).toMatchObject({
      manifest: { digest: f.manifest.digest },
      files: [
        { title: 'a.txt', path: join(out, 'a.txt'), digest: f.layers['a.txt'], size: 6 },
        {
          title: 'b.json',
          path: join(out, 'b.json'),
          digest: f.layers['b.json'],
          size: 7,
          mediaType: 'application/json',
        },
      ],
      skipped: [],
    });
  });

  it('refuses a title that escapes DIR and writes nothing anywhere', async () => {
    const f = await artifactLayout();
    const evil = f.layout.blobs.putBytes(Buffer.from('pwned'));
    const layer: Descriptor = {
      mediaType: MediaType.Layer,
      digest: evil.digest,
      size: evil.size,
      annotations: { [Annotation.Title]: '../evil' },
    };
    await f.layout.putManifest(buildArtifactManifest({ layers: [layer] }).bytes, { tag: 'evil' });
    const base = tmpDir();
    const out = join(base, 'out');
    const before = layoutSnapshot(f.dir);
    const r = await runCli(['pull', `${f.dir}:evil`, '-o', out, '--json']);
    expect(r.code).toBe(6);
    expect(jsonError(r).code).toBe('E_UNSAFE_ENTRY');
    expect(r.stdout).toBe('');
    expect(readdirSync(base)).toEqual([]);
    expect(existsSync(join(base, 'evil'))).toBe(false);
    expect(layoutSnapshot(f.dir)).toEqual(before);
  });

  it.each([
    ['corrupted', 'E_DIGEST_MISMATCH', (p: string) => writeFileSync(p, '{"x":2}')],
    ['truncated', 'E_SIZE_MISMATCH', (p: string) => truncateSync(p, 2)],
  ])('fails on a %s layer with %s, exit 4, and leaves no output file', async (_n, code, damage) => {
    const f = await artifactLayout();
    damage(f.layout.blobs.path(f.layers['b.json']));
    const out = join(f.work, 'out');
    const before = layoutSnapshot(f.dir);
    const r = await runCli(['pull', `${f.dir}:v1`, '-o', out, '--json']);
    expect(r.code).toBe(4);
    expect(jsonError(r).code).toBe(code);
    expect(readdirSync(out)).toEqual([]); // a.txt was fine but is not committed alone
    expect(layoutSnapshot(f.dir)).toEqual(before);
  });

  it('explains that an index needs --platform (exit 2)', async () => {
    const f = await artifactLayout();
    const index = {
      schemaVersion: 2,
      mediaType: MediaType.ImageIndex,
      manifests: [
        {
          mediaType: f.manifest.mediaType,
          digest: f.manifest.digest,
          size: f.manifest.size,
          platform: { os: 'linux', architecture: 'amd64' },
        },
      ],
    };
    await f.layout.putManifest(Buffer.from(JSON.stringify(index)), { tag: 'multi' });
    const r = await runCli(['pull', `${f.dir}:multi`, '-o', join(f.work, 'o')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('E_INVALID_REFERENCE');
    expect(r.stderr).toContain('--platform');
    await cliOk(['pull', `${f.dir}:multi`, '--platform', 'linux/amd64', '-o', join(f.work, 'o')]);
    expect(readFileSync(join(f.work, 'o', 'b.json'), 'utf8')).toBe('{"x":1}');
    expect(digestOf(readFileSync(join(f.work, 'o', 'a.txt')))).toBe(f.layers['a.txt']);
  });
});
