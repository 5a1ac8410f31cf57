import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { MediaType, digestOf, parseDigest } from '../../src/internal.js';
import { artifactLayout, jsonError } from '../helpers/cli-layout.js';
import { cliOk, runCli } from '../helpers/run-cli.js';
import { layoutSnapshot } from '../helpers/snapshot.js';

describe('ocilayout manifest get', () => {
  it('prints the exact stored bytes; -o writes them; --json adds the descriptor', async () => {
    const f = await artifactLayout();
    const stored = readFileSync(f.layout.blobs.path(parseDigest(f.manifest.digest)));
    const raw = await runCli(['manifest', 'get', `${f.dir}:v1`]);
    expect(raw.code).toBe(0);
    expect(Buffer.from(raw.stdout).equals(stored)).toBe(true);
    const out = join(f.work, 'm.json');
    expect(await cliOk(['manifest', 'get', `${f.dir}:v1`, '-o', out])).toBe('');
    expect(readFileSync(out).equals(stored)).toBe(true);
    const json = JSON.parse(await cliOk(['manifest', 'get', `${f.dir}:v1`, '--json']));
    expect(json.descriptor).toMatchObject({ digest: f.manifest.digest });
    expect(json.manifest).toEqual(JSON.parse(stored.toString('utf8')));
  });
});

describe('ocilayout manifest put', () => {
  it('stores from a file with a tag and from stdin untagged', async () => {
    const f = await artifactLayout();
    const doc = JSON.parse(
      readFileSync(f.layout.blobs.path(parseDigest(f.manifest.digest)), 'utf8'),
    );
    doc.annotations = { changed: 'yes' };
    const text = JSON.stringify(doc);
    writeFileSync(join(f.work, 'm.json'), text);
    const digest = (await cliOk(['manifest', 'put', `${f.dir}:v2`, join(f.work, 'm.json')])).trim();
    expect(digest).toBe(digestOf(text));
    expect(f.layout.resolve({ tag: 'v2' }).digest).toBe(digest);

    doc.annotations = { from: 'stdin' };
    const stdinText = JSON.stringify(doc);
    const desc = JSON.parse(
      await cliOk(['manifest', 'put', f.dir, '-', '--json'], { input: stdinText }),
    );
    expect(desc).toMatchObject({ mediaType: MediaType.ImageManifest, digest: digestOf(stdinText) });
    expect(f.layout.readIndex().manifests.map((e) => e.digest)).toContain(digestOf(stdinText));
  });

  it.each([
    ['invalid JSON', 'not json', [], 4, 'E_INVALID_JSON'],
    ['a schema violation', '{"schemaVersion":2,"layers":[]}', [], 4, 'E_SCHEMA'],
    [
      'a missing layer',
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaType.ImageManifest,
        config: { mediaType: MediaType.Empty, digest: `sha256:${'1'.repeat(64)}`, size: 2 },
        layers: [],
      }),
      [],
      3,
      'E_NOT_FOUND',
    ],
    ['a wrong @digest', '{}', ['AT'], 4, 'E_DIGEST_MISMATCH'],
  ])('refuses %s (exit %i) and changes nothing', async (_n, body, flags, exit, code) => {
    const f = await artifactLayout();
    const file = join(f.work, 'bad.json');
    writeFileSync(file, body);
    const ref = flags.includes('AT') ? `${f.dir}@${digestOf('other')}` : `${f.dir}:v9`;
    const before = layoutSnapshot(f.dir);
    const r = await runCli(['manifest', 'put', ref, file, '--json']);
    expect(r.code).toBe(exit);
    expect(jsonError(r).code).toBe(code);
    expect(layoutSnapshot(f.dir)).toEqual(before);
  });

  it('-n refuses (exit 7) to move a tag off other content; the manifest blob may stay', async () => {
    const f = await artifactLayout();
    const doc = JSON.parse(
      readFileSync(f.layout.blobs.path(parseDigest(f.manifest.digest)), 'utf8'),
    );
    doc.annotations = { changed: 'yes' };
    writeFileSync(join(f.work, 'm.json'), JSON.stringify(doc));
    const index = readFileSync(join(f.dir, 'index.json'));
    const r = await runCli([
      'manifest',
      'put',
      '-n',
      `${f.dir}:v1`,
      join(f.work, 'm.json'),
      '--json',
    ]);
    expect(r.code).toBe(7);
    expect(jsonError(r).code).toBe('E_CONFLICT');
    expect(readFileSync(join(f.dir, 'index.json')).equals(index)).toBe(true);
  });

  it('--allow-missing accepts a sparse manifest', async () => {
    const f = await artifactLayout();
    const sparse = JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ImageManifest,
      config: { mediaType: MediaType.Empty, digest: `sha256:${'1'.repeat(64)}`, size: 2 },
      layers: [],
    });
    const out = await cliOk(['manifest', 'put', `${f.dir}:sparse`, '-', '--allow-missing'], {
      input: sparse,
    });
    expect(out.trim()).toBe(digestOf(sparse));
  });
});

describe('ocilayout manifest delete', () => {
  it('deletes by tag and by digest; refuses (exit 7) while an index references it', async () => {
    const f = await artifactLayout();
    const index = JSON.stringify({
      schemaVersion: 2,
      mediaType: MediaType.ImageIndex,
      manifests: [
        { mediaType: f.manifest.mediaType, digest: f.manifest.digest, size: f.manifest.size },
      ],
    });
    const indexDigest = (
      await cliOk(['manifest', 'put', `${f.dir}:idx`, '-'], { input: index })
    ).trim();
    const before = layoutSnapshot(f.dir);
    const refused = await runCli(['manifest', 'delete', `${f.dir}:v1`, '--json']);
    expect(refused.code).toBe(7);
    expect(jsonError(refused).code).toBe('E_CONFLICT');
    expect(layoutSnapshot(f.dir)).toEqual(before);

    const del = JSON.parse(await cliOk(['manifest', 'delete', `${f.dir}:idx`, '--json']));
    expect(del).toMatchObject({
      digest: indexDigest,
      tags: ['idx'],
      entriesRemoved: 1,
      blobRemoved: true,
    });
    expect((await cliOk(['manifest', 'delete', `${f.dir}@${f.manifest.digest}`])).trim()).toBe(
      f.manifest.digest,
    );
    expect(await cliOk(['tags', f.dir])).toBe('');
    const gone = await runCli(['manifest', 'delete', `${f.dir}@${f.manifest.digest}`, '--json']);
    expect(gone.code).toBe(3);
    expect(jsonError(gone).code).toBe('E_NOT_FOUND');
  });
});
