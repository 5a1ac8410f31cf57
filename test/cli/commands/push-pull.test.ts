// push-pull.ts in-process: how push and pull read their arguments and report. The artifact rules
// themselves are the library's (test/push-pull.test.ts).
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Annotation, digestOf, Layout } from '../../../src/internal.js';
import { artifactLayout } from '../../helpers/cli-layout.js';
import { jsonErrorOf, runInProcess } from '../../helpers/fake-io.js';
import { layoutSnapshot } from '../../helpers/snapshot.js';
import { tmpDir } from '../../helpers/tmp.js';

describe('push', () => {
  it('creates the layout, says so, and tags the artifact with its files and annotations', async () => {
    const work = tmpDir();
    writeFileSync(join(work, 'a.txt'), 'A');
    const dir = join(work, 'new');
    const r = await runInProcess([
      'push',
      `${dir}:v1`,
      `${join(work, 'a.txt')}:text/plain`,
      '--annotation',
      'team=infra',
      '--artifact-type',
      'application/x.example',
    ]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(`created layout ${dir}`);
    const layout = Layout.open(dir);
    expect(r.stdout).toBe(`${layout.resolve({ tag: 'v1' }).digest}\n`);
    const m = layout.getManifest({ tag: 'v1' }).parsed;
    expect(m.kind === 'manifest' && m.doc).toMatchObject({
      artifactType: 'application/x.example',
      annotations: { team: 'infra' },
      layers: [{ mediaType: 'text/plain', annotations: { [Annotation.Title]: 'a.txt' } }],
    });
  });

  it('refuses a digest reference and a malformed annotation before writing', async () => {
    const a = await artifactLayout();
    const before = layoutSnapshot(a.dir);
    const digest = await runInProcess(['push', `${a.dir}@${a.manifest.digest}`, '--json']);
    expect(jsonErrorOf(digest).code).toBe('E_INVALID_REFERENCE');
    const annotation = await runInProcess([
      'push',
      `${a.dir}:v2`,
      join(a.work, 'a.txt'),
      '--annotation',
      'novalue',
      '--json',
    ]);
    expect(jsonErrorOf(annotation).code).toBe('E_USAGE');
    expect(layoutSnapshot(a.dir)).toEqual(before);
  });
});

describe('pull', () => {
  it('writes each titled layer and prints the paths', async () => {
    const a = await artifactLayout();
    const out = join(a.work, 'out');
    const r = await runInProcess(['pull', `${a.dir}:v1`, '-o', out]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout.trim().split('\n').sort()).toEqual(
      [join(out, 'a.txt'), join(out, 'b.json')].sort(),
    );
    expect(readFileSync(join(out, 'a.txt'), 'utf8')).toBe('hello\n');
  });

  it('needs -o (E_USAGE) and warns when no layer has a title', async () => {
    const a = await artifactLayout();
    expect((await runInProcess(['pull', `${a.dir}:v1`])).code).toBe(2);
    const layer = a.layout.blobs.putBytes(Buffer.from('untitled'));
    const manifest = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      artifactType: 'application/x.t',
      config: {
        mediaType: 'application/vnd.oci.empty.v1+json',
        digest: digestOf('{}'),
        size: 2,
      },
      layers: [{ mediaType: 'application/octet-stream', digest: layer.digest, size: layer.size }],
    };
    await a.layout.putManifest(Buffer.from(JSON.stringify(manifest)), { tag: 'bare' });
    const r = await runInProcess(['pull', `${a.dir}:bare`, '-o', join(a.work, 'bare')]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('skipped 1 layer(s) without a title annotation');
    expect(r.stderr).toContain('warning: no layer has a title; nothing written');
    expect(r.stdout).toBe('');
  });
});
