// maintenance.ts in-process: fsck prints one line per finding and a summary, and exits 4 on an
// error finding without throwing; gc prints what it removed (and, dry, what it would).
import { unlinkSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { Layout } from '../../../src/internal.js';
import { artifactLayout } from '../../helpers/cli-layout.js';
import { runInProcess } from '../../helpers/fake-io.js';
import { layoutSnapshot } from '../../helpers/snapshot.js';
import { releaseLease } from '../../../src/store/ingest.js';
import { signedImage } from '../../referrers/helpers.js';

describe('fsck', () => {
  it('exits 0 with only a summary on a sound layout', async () => {
    const a = await artifactLayout();
    const r = await runInProcess(['fsck', a.dir]);
    expect(r).toMatchObject({ code: 0, stdout: '' });
    expect(r.stderr).toMatch(
      /^fsck: checked 4 blobs \(.*\), \d+ descriptors: 0 error\(s\), 0 warning\(s\)\n$/,
    );
  });

  it('exits 4 on an error finding, printing it (and the report with --json)', async () => {
    const a = await artifactLayout();
    unlinkSync(Layout.open(a.dir).blobs.path(a.layers['a.txt']));
    const r = await runInProcess(['fsck', a.dir]);
    expect(r.code).toBe(4);
    expect(r.stdout).toMatch(/^error: \[MISSING_BLOB\] /);
    expect(r.stderr).toContain('1 error(s)');
    const json = await runInProcess(['fsck', a.dir, '--json']);
    expect(json.code).toBe(4);
    expect(JSON.parse(json.stdout)).toMatchObject({
      ok: false,
      findings: [{ code: 'MISSING_BLOB' }],
    });
  });

  it('exits 0 when --allow-missing makes the finding a warning', async () => {
    const a = await artifactLayout();
    unlinkSync(Layout.open(a.dir).blobs.path(a.layers['a.txt']));
    const r = await runInProcess(['fsck', a.dir, '--allow-missing']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/^warning: \[MISSING_BLOB\] /);
  });
});

describe('gc', () => {
  it('lists what it would remove in a dry run, changing nothing, then removes it', async () => {
    const a = await artifactLayout();
    const loose = a.layout.blobs.putBytes(Buffer.from('garbage')).digest;
    releaseLease(a.dir); // as when a writer process exits: nothing protects it now
    const before = layoutSnapshot(a.dir);
    const dry = await runInProcess(['gc', a.dir, '--dry-run']);
    expect(dry.stdout).toBe(
      `blob ${loose}\nwould remove 1 blob(s), 0 index entries, 0 ingest file(s); would free 7 B\n`,
    );
    expect(layoutSnapshot(a.dir)).toEqual(before);
    const real = await runInProcess(['gc', a.dir]);
    expect(real.stdout).toBe('removed 1 blob(s), 0 index entries, 0 ingest file(s); freed 7 B\n');
    expect(Layout.open(a.dir).blobs.has(loose)).toBe(false);
  });

  it('names dropped orphan entries in a dry run, and keeps them with --keep-orphans', async () => {
    const { layout, img } = await signedImage('fallback-tag');
    await layout.untag('v1'); // the signature's subject is no longer reachable
    releaseLease(layout.root);
    const fallback = layout.readIndex().manifests[0]!;
    const dry = await runInProcess(['gc', layout.root, '--dry-run']);
    expect(dry.stdout.split('\n')[0]).toBe(
      `entry ${fallback.digest} (sha256-${img.digest.slice(7)})`,
    );
    expect(dry.stdout).toContain('1 index entry, ');
    const kept = await runInProcess(['gc', layout.root, '--dry-run', '--keep-orphans']);
    expect(kept.stdout).toContain('0 index entries');
    expect(kept.stdout).not.toContain('entry sha256:');
  });
});
