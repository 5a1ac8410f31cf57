import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { artifactLayout, jsonError, signV1 } from '../helpers/cli-layout.js';
import { cliOk, runCli } from '../helpers/run-cli.js';
import { layoutSnapshot } from '../helpers/snapshot.js';

const FALLBACK = `sha256-${'c'.repeat(64)}`;

describe('ocilayout tag / untag / tags / resolve', () => {
  it('tags, lists (hiding fallback tags unless --all), resolves and untags', async () => {
    const f = await artifactLayout();
    expect((await cliOk(['tag', `${f.dir}:v1`, 'latest', FALLBACK])).trim()).toBe(
      f.manifest.digest,
    );
    expect(await cliOk(['tags', f.dir])).toBe('latest\nv1\n');
    expect(JSON.parse(await cliOk(['tags', f.dir, '--json']))).toEqual(['latest', 'v1']);
    expect(JSON.parse(await cliOk(['tags', f.dir, '--all', '--json']))).toEqual([
      'latest',
      FALLBACK,
      'v1',
    ]);
    expect((await cliOk(['resolve', `${f.dir}:latest`])).trim()).toBe(f.manifest.digest);
    expect(
      JSON.parse(await cliOk(['resolve', `${f.dir}@${f.manifest.digest}`, '--json'])),
    ).toMatchObject({
      mediaType: f.manifest.mediaType,
      digest: f.manifest.digest,
      size: f.manifest.size,
    });
    const untag = JSON.parse(await cliOk(['untag', `${f.dir}:latest`, '--json']));
    expect(untag).toMatchObject({ tag: 'latest', removed: [{ digest: f.manifest.digest }] });
    expect(await cliOk(['tags', f.dir, '--all'])).toBe(`${FALLBACK}\nv1\n`);
  });

  it('full image names: tag, list in full, resolve, copy, untag; LAYOUT:REPO/PATH:TAG', async () => {
    const f = await artifactLayout();
    const full = 'example.com/team/app:v1';
    await cliOk(['tag', `${f.dir}:v1`, full, 'localhost:5000/x/y:v1']);
    expect(await cliOk(['tags', f.dir])).toBe(`${full}\nlocalhost:5000/x/y:v1\nv1\n`);
    // Was read as layout `DIR:example.com/team/app` with tag v1.
    expect((await cliOk(['resolve', `${f.dir}:${full}`])).trim()).toBe(f.manifest.digest);
    // A copy keeps the name, in both annotations.
    const dest = join(f.work, 'dest');
    await cliOk(['copy', `oci:${f.dir}:${full}`, dest]); // skopeo's form, split at the first colon
    expect(await cliOk(['tags', dest])).toBe(`${full}\n`);
    // The bare v1 is a name of its own; untagging it leaves the full names.
    await cliOk(['untag', `${f.dir}:v1`]);
    expect(await cliOk(['tags', f.dir])).toBe(`${full}\nlocalhost:5000/x/y:v1\n`);
    // Now two full names share v1: the bare tag is ambiguous (exit 2), a full name is not.
    const ambiguous = await runCli(['resolve', `${f.dir}:v1`]);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toContain(`tag v1 is ambiguous: 2 images have it`);
    await cliOk(['untag', `${f.dir}:localhost:5000/x/y:v1`]);
    expect((await cliOk(['resolve', `${f.dir}:v1`])).trim()).toBe(f.manifest.digest);
    // A full name LAYOUT:NAME could not address is refused, nothing written.
    const before = layoutSnapshot(f.dir);
    const bad = await runCli(['tag', `${f.dir}:v1`, 'app:v2']);
    expect(bad.code).toBe(2);
    expect(bad.stderr).toContain('E_INVALID_TAG');
    expect(layoutSnapshot(f.dir)).toEqual(before);
  });

  it('tag --json names the descriptor and the tags', async () => {
    const f = await artifactLayout();
    const out = JSON.parse(
      await cliOk(['tag', `${f.dir}@${f.manifest.digest}`, 'a', 'b', '--json']),
    );
    expect(out).toMatchObject({ descriptor: { digest: f.manifest.digest }, tags: ['a', 'b'] });
  });

  it('resolves a bare LAYOUT holding exactly one entry', async () => {
    const f = await artifactLayout();
    expect((await cliOk(['resolve', f.dir])).trim()).toBe(f.manifest.digest);
  });

  it.each([
    [['untag', 'DIR:nope'], 3, 'E_NOT_FOUND'],
    [['resolve', 'DIR:nope'], 3, 'E_NOT_FOUND'],
    [['untag', `DIR@sha256:${'0'.repeat(64)}`], 2, 'E_INVALID_REFERENCE'],
    [['tag', 'DIR:v1', '.bad'], 2, 'E_INVALID_TAG'],
    [['tag', 'DIR:v1', 'x'.repeat(129)], 2, 'E_INVALID_TAG'],
    [['tags', 'DIR/missing'], 3, 'E_NOT_A_LAYOUT'],
  ])('%j exits %i with %s and changes nothing', async (args, exit, code) => {
    const f = await artifactLayout();
    const before = layoutSnapshot(f.dir);
    const r = await runCli([...args.map((a) => a.replace('DIR', f.dir)), '--json']);
    expect(r.code).toBe(exit);
    expect(jsonError(r).code).toBe(code);
    expect(r.stdout).toBe('');
    expect(layoutSnapshot(f.dir)).toEqual(before);
  });
});

describe('ocilayout info', () => {
  it('summarises the layout in text and --json', async () => {
    const f = await artifactLayout();
    const text = await cliOk(['info', f.dir]);
    expect(text).toContain(`layout:        ${f.dir}`);
    expect(text).toContain('tags:          1 (v1)');
    expect(text).toContain('blobs:         4 (');
    const json = JSON.parse(await cliOk(['info', f.dir, '--json']));
    expect(json).toMatchObject({
      layout: f.dir,
      imageLayoutVersion: '1.0.0',
      indexEntries: 1,
      tags: ['v1'],
      fallbackTags: 0,
      blobs: { count: 4 },
      strays: [],
    });
    expect(json.blobs.totalBytes).toBe(6 + 7 + 2 + f.manifest.size);
  });

  it('--no-clobber and -n refuse (exit 7) to move a tag off other content, changing nothing', async () => {
    const f = await artifactLayout();
    await cliOk(['tag', `${f.dir}:v1`, 'stable']);
    writeFileSync(join(f.work, 'c.txt'), 'other\n');
    await cliOk(['push', `${f.dir}:v2`, join(f.work, 'c.txt')]);
    const before = layoutSnapshot(f.dir);
    for (const flag of ['--no-clobber', '-n']) {
      const r = await runCli(['tag', flag, `${f.dir}:v2`, 'new', 'stable', '--json']);
      expect(r.code).toBe(7);
      expect(jsonError(r)).toMatchObject({ code: 'E_CONFLICT' });
      expect(jsonError(r).message).toContain(f.manifest.digest);
    }
    expect(layoutSnapshot(f.dir)).toEqual(before);
    // Re-tagging the same content is no clobbering.
    await cliOk(['tag', '-n', `${f.dir}:v1`, 'stable']);
  });

  it('warns when a tag moves off a subject that has referrers, naming discover', async () => {
    const f = await artifactLayout();
    await signV1(f);
    writeFileSync(join(f.work, 'c.txt'), 'other\n');
    await cliOk(['push', `${f.dir}:v2`, join(f.work, 'c.txt')]);
    const quiet = await runCli(['tag', `${f.dir}:v2`, 'other']);
    expect(quiet.stderr).toBe('');
    // Still listed under another tag: said, without the gc warning.
    await cliOk(['tag', `${f.dir}:v1`, 'keep']);
    const kept = await runCli(['tag', `${f.dir}:v2`, 'v1']);
    expect(kept.code).toBe(0);
    expect(kept.stderr).toContain(`tag v1 moved off ${f.manifest.digest}, which has 1 referrer`);
    expect(kept.stderr).toContain('another entry still lists it');
    expect(kept.stderr).not.toContain('gc removes');
    const r = await runCli(['tag', `${f.dir}:v2`, 'keep']);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(`tag keep moved off ${f.manifest.digest}, which has 1 referrer`);
    expect(r.stderr).toContain('gc removes them');
    expect(r.stderr).toContain(`ocilayout discover ${f.dir}@${f.manifest.digest}`);
  });
});
