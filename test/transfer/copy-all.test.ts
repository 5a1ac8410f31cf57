// copy-all.ts between layouts: which entries are images (not cosign tags, not bookkeeping), what
// names they get in the destination (kept, normalised, untagged by digest), and what is refused
// before anything moves. Registry destinations: test/integration/cli-copy-all.test.ts.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { Annotation, Layout } from '../../src/internal.js';
import { copyAll, isWholeLayoutCopy } from '../../src/transfer/copy-all.js';
import { tmpDir } from '../helpers/tmp.js';
import { cosignLayout, putImage, setEntries, tagEntry } from '../referrers/helpers.js';

describe('copyAll between layouts', () => {
  it('copies every image under its name, cosign tags with their image, untagged by digest', async () => {
    const { layout, img, sig } = await cosignLayout();
    const b = putImage(layout, 'b');
    const c = putImage(layout, 'c');
    const d = putImage(layout, 'd');
    const e = putImage(layout, 'e');
    const entries = layout.readIndex().manifests;
    await setEntries(layout, [
      ...entries,
      // containerd's shape: the full name in its annotation, the bare tag in ref.name.
      {
        ...tagEntry(b, 'v2'),
        annotations: {
          [Annotation.RefName]: 'v2',
          [Annotation.ContainerdImageName]: 'reg.example/team/b:v2',
        },
      },
      tagEntry(c, 'app:v3'), // crane's short form, which we do not write as it is
      { mediaType: d.mediaType, digest: d.digest, size: d.size }, // untagged
      { mediaType: img.mediaType, digest: img.digest, size: img.size }, // untagged, named above
      tagEntry(e, `reg.example/team/e@${e.digest}`), // containerd's digest-only name
    ]);
    const to = join(tmpDir(), 'dst');
    expect(isWholeLayoutCopy(layout.root, to)).toBe(true);
    const r = await copyAll(layout.root, to);
    expect(r).toMatchObject({ copied: 5, failed: 0, skipped: 0 });
    expect(r.images.map((i) => [i.source, i.destination])).toEqual([
      ['v1', `${to}:v1`],
      ['reg.example/team/b:v2', `${to}:reg.example/team/b:v2`],
      ['app:v3', `${to}:docker.io/library/app:v3`],
      // containerd's digest-only name is kept (in its own annotation only).
      [`reg.example/team/e@${e.digest}`, `${to}:reg.example/team/e@${e.digest}`],
      [d.digest, `${to}@${d.digest}`],
    ]);
    const dst = Layout.open(to);
    expect(dst.tags().sort()).toEqual(
      [
        'v1',
        'reg.example/team/b:v2',
        'docker.io/library/app:v3',
        `${img.digest.replace(':', '-')}.sig`,
        `${img.digest.replace(':', '-')}.att`,
      ].sort(),
    );
    expect(dst.resolve({ tag: `${img.digest.replace(':', '-')}.sig` }).digest).toBe(sig.digest);
    const listed = dst.readIndex().manifests.map((m) => m.digest);
    expect(listed).toContain(d.digest);
    expect(listed).toContain(e.digest);
    expect(dst.resolve({ tag: `reg.example/team/e@${e.digest}` }).digest).toBe(e.digest);
    // Copied once: the untagged entry of v1's digest adds no second entry.
    expect(listed.filter((x) => x === img.digest)).toHaveLength(1);

    const again = await copyAll(layout.root, to);
    expect(again).toMatchObject({ copied: 0, upToDate: 5, bytes: 0 });
  });

  it("a hauler store's signature entries travel with their images, not as images", async () => {
    const to = join(tmpDir(), 'from-hauler');
    const store = fileURLToPath(new URL('../../testdata/hauler/v2-store', import.meta.url));
    const r = await copyAll(store, to);
    expect(r.images.map((i) => i.source).sort()).toEqual(
      [
        'hauler/install.sh:latest',
        'hauler/podinfo:6.5.0',
        'index.docker.io/library/alpine:3.20',
        'index.docker.io/library/busybox:1.36',
      ].sort(),
    );
    expect(r.failed).toBe(0);
    // the signatures arrive as cosign tags beside their images
    expect(
      Layout.open(to)
        .tags()
        .filter((t) => t.endsWith('.sig')).length,
    ).toBe(2);
  });

  it('keeps the one-image copy for a layout of one entry, unless the destination is a HOST', async () => {
    const dir = tmpDir();
    const one = Layout.init(join(dir, 'one')).layout;
    const a = putImage(one, 'a');
    await setEntries(one, [tagEntry(a, 'v1')]);
    expect(isWholeLayoutCopy(one.root, join(dir, 'x'))).toBe(false);
    expect(isWholeLayoutCopy(one.root, 'docker://127.0.0.1:5000/app')).toBe(false);
    expect(isWholeLayoutCopy(one.root, 'docker://127.0.0.1:5000')).toBe(true);
    expect(isWholeLayoutCopy(`${one.root}:v1`, join(dir, 'x'))).toBe(false);
  });

  it('refuses a tag in the destination, an archive, a stray --prefix, and nothing to copy', async () => {
    const { layout } = await cosignLayout();
    const dir = tmpDir();
    const cases: [string, Parameters<typeof copyAll>[2], string][] = [
      [`${join(dir, 'a')}:v1`, {}, 'E_USAGE'],
      [`oci-archive:${join(dir, 'a.tar')}`, {}, 'E_USAGE'],
      [join(dir, 'a'), { prefix: 'mirror' }, 'E_USAGE'],
      ['docker://127.0.0.1:9', { prefix: 'Bad' }, 'E_INVALID_REFERENCE'],
      // v1 is a bare tag: it names no repository on a HOST, so nothing can go.
      ['docker://127.0.0.1:9', {}, 'E_USAGE'],
    ];
    for (const [dst, options, code] of cases) {
      await expect(copyAll(layout.root, dst, options), dst).rejects.toMatchObject({ code });
    }
    expect(existsSync(join(dir, 'a'))).toBe(false);
    await expect(copyAll(`${layout.root}:v1`, join(dir, 'a'))).rejects.toMatchObject({
      code: 'E_USAGE',
    });
  });

  it('refuses two images that would get one name, before anything moves', async () => {
    const dir = tmpDir();
    const src = Layout.init(join(dir, 'src')).layout;
    const a = putImage(src, 'a');
    const b = putImage(src, 'b');
    await setEntries(src, [tagEntry(a, 'a.example/team/app:v1'), tagEntry(b, 'v1')]);
    // Into one repository both are `v1`.
    await expect(copyAll(src.root, 'docker://127.0.0.1:9/app')).rejects.toMatchObject({
      code: 'E_CONFLICT',
      details: { names: ['a.example/team/app:v1', 'v1'] },
    });
  });
});
