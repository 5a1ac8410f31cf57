import {
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  symlinkSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  Annotation,
  DEFAULT_ARTIFACT_TYPE,
  EMPTY_DIGEST,
  MediaType,
  buildArtifactManifest,
  digestOf,
  parseDigest,
  pullFiles,
  pushFiles,
  type Descriptor,
  type Layout,
} from '../../src/internal.js';
import { layoutSnapshot } from '../helpers/snapshot.js';
import { tmpDir, tmpLayout } from '../helpers/tmp.js';

function writeFiles(files: Record<string, string | Buffer>): string {
  const dir = tmpDir('ocilayout-src-');
  for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data);
  return dir;
}

/** Store a manifest whose layers carry the given titles (bypassing push's own checks). */
async function craftArtifact(
  layout: Layout,
  layers: { title?: string; data: string }[],
  tag = 'crafted',
): Promise<Descriptor[]> {
  const descs = layers.map(({ title, data }) => {
    const r = layout.blobs.putBytes(Buffer.from(data));
    const d: Descriptor = { mediaType: MediaType.Layer, digest: r.digest, size: r.size };
    if (title !== undefined) d.annotations = { [Annotation.Title]: title };
    return d;
  });
  layout.blobs.putBytes(Buffer.from('{}'));
  const { bytes } = buildArtifactManifest({ layers: descs });
  await layout.putManifest(bytes, { tag });
  return descs;
}

describe('pushFiles', () => {
  it('stores each file as a titled layer over the empty config and tags the manifest', async () => {
    const layout = tmpLayout();
    const src = writeFiles({ 'a.txt': 'hello\n', 'b.json': '{"x":1}' });
    const { descriptor, manifest } = await pushFiles(
      layout,
      [{ path: join(src, 'a.txt') }, { path: join(src, 'b.json'), mediaType: 'application/json' }],
      { tag: 'v1', annotations: { team: 'infra' } },
    );
    expect(layout.resolve({ tag: 'v1' }).digest).toBe(descriptor.digest);
    expect(manifest.artifactType).toBe(DEFAULT_ARTIFACT_TYPE);
    expect(manifest.config.digest).toBe(EMPTY_DIGEST);
    expect(layout.blobs.has(parseDigest(EMPTY_DIGEST))).toBe(true);
    expect(manifest.annotations).toEqual({ team: 'infra' });
    expect(manifest.layers.map((l) => [l.annotations?.[Annotation.Title], l.mediaType])).toEqual([
      ['a.txt', MediaType.Layer],
      ['b.json', 'application/json'],
    ]);
    expect(manifest.layers[0]!.digest).toBe(digestOf('hello\n'));
    expect(layout.readManifest(descriptor).kind).toBe('manifest');
  });

  it('is deterministic: the same inputs give the same digest and no new index entry', async () => {
    const layout = tmpLayout();
    const src = writeFiles({ 'a.txt': 'same' });
    const one = await pushFiles(layout, [{ path: join(src, 'a.txt') }], { tag: 'v1' });
    const before = layoutSnapshot(layout.root);
    const two = await pushFiles(layout, [{ path: join(src, 'a.txt') }], { tag: 'v1' });
    expect(two.descriptor.digest).toBe(one.descriptor.digest);
    expect(layoutSnapshot(layout.root)).toEqual(before);
  });

  it('streams a multi-chunk file and stores it byte for byte', async () => {
    const layout = tmpLayout();
    const big = Buffer.alloc(3 * 1024 * 1024 + 17);
    for (let i = 0; i < big.length; i++) big[i] = (i * 31) % 251;
    const src = writeFiles({ 'big.bin': big });
    const { manifest } = await pushFiles(layout, [{ path: join(src, 'big.bin') }]);
    const layer = manifest.layers[0]!;
    expect(layer).toMatchObject({ digest: digestOf(big), size: big.length });
    expect(readFileSync(layout.blobs.path(parseDigest(layer.digest))).equals(big)).toBe(true);
  });

  it('uses a config file with its media type, and the given artifactType', async () => {
    const layout = tmpLayout();
    const src = writeFiles({ 'cfg.json': '{"c":true}', 'f.txt': 'f' });
    const { manifest } = await pushFiles(layout, [{ path: join(src, 'f.txt') }], {
      artifactType: 'application/vnd.example.thing',
      config: { path: join(src, 'cfg.json'), mediaType: 'application/vnd.example.config+json' },
    });
    expect(manifest.artifactType).toBe('application/vnd.example.thing');
    expect(manifest.config).toMatchObject({
      mediaType: 'application/vnd.example.config+json',
      digest: digestOf('{"c":true}'),
    });
  });

  it('with no files stores one empty layer and lists the manifest untagged', async () => {
    const layout = tmpLayout();
    const { descriptor, manifest } = await pushFiles(layout, []);
    expect(manifest.layers).toEqual([expect.objectContaining({ digest: EMPTY_DIGEST })]);
    expect(layout.readIndex().manifests.map((e) => e.digest)).toEqual([descriptor.digest]);
    expect(layout.tags()).toEqual([]);
  });

  describe('when the input is bad, nothing is written', () => {
    const cases: [string, (src: string) => Parameters<typeof pushFiles>[1], object, string][] = [
      ['a missing file', (s) => [{ path: join(s, 'nope') }], {}, 'E_NOT_FOUND'],
      ['a directory', (s) => [{ path: s }], {}, 'E_USAGE'],
      [
        'two files with the same name',
        (s) => [{ path: join(s, 'a.txt') }, { path: join(s, 'sub', 'a.txt') }],
        {},
        'E_USAGE',
      ],
      ['a bad media type', (s) => [{ path: join(s, 'a.txt'), mediaType: 'text' }], {}, 'E_USAGE'],
      ['an invalid tag', (s) => [{ path: join(s, 'a.txt') }], { tag: '-bad' }, 'E_INVALID_TAG'],
      [
        'a bad artifact type',
        (s) => [{ path: join(s, 'a.txt') }],
        { artifactType: 'nope' },
        'E_USAGE',
      ],
    ];
    it.each(cases)('refuses %s', async (_name, files, options, code) => {
      const layout = tmpLayout();
      const src = writeFiles({ 'a.txt': 'a' });
      mkdirSync(join(src, 'sub'));
      writeFileSync(join(src, 'sub', 'a.txt'), 'other');
      const before = layoutSnapshot(layout.root);
      await expect(pushFiles(layout, files(src), options)).rejects.toMatchObject({ code });
      expect(layoutSnapshot(layout.root)).toEqual(before);
    });

    it('refuses a malformed index.json before storing any blob', async () => {
      const layout = tmpLayout();
      writeFileSync(join(layout.root, 'index.json'), '{"schemaVersion":2,');
      const src = writeFiles({ 'a.txt': 'a' });
      const before = layoutSnapshot(layout.root);
      await expect(pushFiles(layout, [{ path: join(src, 'a.txt') }])).rejects.toMatchObject({
        code: 'E_INVALID_JSON',
      });
      expect(layoutSnapshot(layout.root)).toEqual(before);
    });
  });
});

describe('pullFiles', () => {
  it('writes each titled layer to DIR/<title> and reports untitled ones as skipped', async () => {
    const layout = tmpLayout();
    await craftArtifact(layout, [
      { title: 'one.txt', data: 'first' },
      { data: 'untitled' },
      { title: 'two.txt', data: 'second' },
    ]);
    const out = join(tmpDir(), 'new', 'dir');
    const r = await pullFiles(layout, { tag: 'crafted' }, out);
    expect(r.files.map((f) => f.title)).toEqual(['one.txt', 'two.txt']);
    expect(r.skipped.map((d) => d.digest)).toEqual([digestOf('untitled')]);
    expect(readFileSync(join(out, 'one.txt'), 'utf8')).toBe('first');
    expect(readFileSync(join(out, 'two.txt'), 'utf8')).toBe('second');
    expect(readdirSync(out).sort()).toEqual(['one.txt', 'two.txt']);
  });

  it('round-trips what pushFiles stored', async () => {
    const layout = tmpLayout();
    const src = writeFiles({ 'x.bin': Buffer.from([0, 1, 2, 255]) });
    await pushFiles(layout, [{ path: join(src, 'x.bin') }], { tag: 'v1' });
    const out = tmpDir();
    await pullFiles(layout, { tag: 'v1' }, out);
    expect(readFileSync(join(out, 'x.bin'))).toEqual(Buffer.from([0, 1, 2, 255]));
  });

  it('replaces an existing regular file atomically', async () => {
    const layout = tmpLayout();
    await craftArtifact(layout, [{ title: 'f.txt', data: 'new' }]);
    const out = tmpDir();
    writeFileSync(join(out, 'f.txt'), 'old content');
    await pullFiles(layout, { tag: 'crafted' }, out);
    expect(readFileSync(join(out, 'f.txt'), 'utf8')).toBe('new');
    expect(readdirSync(out)).toEqual(['f.txt']);
  });

  it('refuses to replace a symlink and leaves its target untouched', async () => {
    const layout = tmpLayout();
    await craftArtifact(layout, [{ title: 'f.txt', data: 'evil' }]);
    const base = tmpDir();
    const out = join(base, 'out');
    mkdirSync(out);
    writeFileSync(join(base, 'victim'), 'precious');
    symlinkSync(join(base, 'victim'), join(out, 'f.txt'));
    await expect(pullFiles(layout, { tag: 'crafted' }, out)).rejects.toMatchObject({
      code: 'E_UNSAFE_ENTRY',
    });
    expect(readFileSync(join(base, 'victim'), 'utf8')).toBe('precious');
    expect(readdirSync(out)).toEqual(['f.txt']);
  });

  describe('when a title is unsafe, nothing is written anywhere', () => {
    it.each(['../evil', '/etc/evil', 'a/b', '..', '.', '', 'a\\b', 'x\ny', 'x'.repeat(256)])(
      'refuses %j',
      async (title) => {
        const layout = tmpLayout();
        await craftArtifact(layout, [
          { title: 'ok.txt', data: 'fine' },
          { title, data: 'evil' },
        ]);
        const base = tmpDir();
        const out = join(base, 'out');
        await expect(pullFiles(layout, { tag: 'crafted' }, out)).rejects.toMatchObject({
          code: 'E_UNSAFE_ENTRY',
        });
        expect(readdirSync(base)).toEqual([]); // not even DIR was created
        expect(existsSync('/etc/evil')).toBe(false);
      },
    );
  });

  it('refuses two layers with the same title', async () => {
    const layout = tmpLayout();
    await craftArtifact(layout, [
      { title: 'f', data: '1' },
      { title: 'f', data: '2' },
    ]);
    await expect(pullFiles(layout, { tag: 'crafted' }, tmpDir())).rejects.toMatchObject({
      code: 'E_UNSAFE_ENTRY',
    });
  });

  describe('when a blob is damaged, no output file (and no temp file) is left', () => {
    it.each([
      ['corrupted', 'E_DIGEST_MISMATCH', (p: string) => writeFileSync(p, 'XXXXXX')],
      ['truncated', 'E_SIZE_MISMATCH', (p: string) => truncateSync(p, 3)],
    ])('%s blob → %s', async (_name, code, damage) => {
      const layout = tmpLayout();
      const [good, bad] = await craftArtifact(layout, [
        { title: 'good.txt', data: 'intact' },
        { title: 'bad.txt', data: 'damage' },
      ]);
      expect(good).toBeDefined();
      damage(layout.blobs.path(parseDigest(bad!.digest)));
      const out = tmpDir();
      await expect(pullFiles(layout, { tag: 'crafted' }, out)).rejects.toMatchObject({ code });
      // All-or-nothing: the intact file was staged but never renamed into place.
      expect(readdirSync(out)).toEqual([]);
    });
  });

  it('refuses an output path that is not a directory', async () => {
    const layout = tmpLayout();
    await craftArtifact(layout, [{ title: 'f', data: 'x' }]);
    const file = join(tmpDir(), 'plain');
    writeFileSync(file, 'keep');
    await expect(pullFiles(layout, { tag: 'crafted' }, file)).rejects.toMatchObject({
      code: 'E_CONFLICT',
    });
    expect(readFileSync(file, 'utf8')).toBe('keep');
  });

  it('reports a missing layer blob before writing anything', async () => {
    const layout = tmpLayout();
    const [layer] = await craftArtifact(layout, [{ title: 'f', data: 'gone' }]);
    layout.blobs.delete(parseDigest(layer!.digest));
    const out = join(tmpDir(), 'out');
    await expect(pullFiles(layout, { tag: 'crafted' }, out)).rejects.toMatchObject({
      code: 'E_NOT_FOUND',
    });
    expect(existsSync(out)).toBe(false);
  });

  describe('when the reference is an image index', () => {
    async function multiPlatform(layout: Layout): Promise<void> {
      const children: Descriptor[] = [];
      for (const arch of ['amd64', 'arm64']) {
        const [layer] = await craftArtifact(layout, [{ title: `${arch}.txt`, data: arch }], arch);
        expect(layer).toBeDefined();
        const child = layout.resolve({ tag: arch });
        children.push({
          mediaType: child.mediaType,
          digest: child.digest,
          size: child.size,
          platform: { os: 'linux', architecture: arch },
        });
      }
      const index = { schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: children };
      await layout.putManifest(Buffer.from(JSON.stringify(index)), { tag: 'multi' });
    }

    it('needs --platform, and names the choices', async () => {
      const layout = tmpLayout();
      await multiPlatform(layout);
      const err = await pullFiles(layout, { tag: 'multi' }, tmpDir()).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'E_INVALID_REFERENCE' });
      expect((err as { hint: string }).hint).toContain('linux/arm64');
    });

    it('picks the child for the platform', async () => {
      const layout = tmpLayout();
      await multiPlatform(layout);
      const out = tmpDir();
      const r = await pullFiles(layout, { tag: 'multi' }, out, { platform: 'linux/arm64' });
      expect(r.manifest.digest).toBe(layout.resolve({ tag: 'arm64' }).digest);
      expect(readdirSync(out)).toEqual(['arm64.txt']);
    });

    it('refuses a platform that is not there', async () => {
      const layout = tmpLayout();
      await multiPlatform(layout);
      await expect(
        pullFiles(layout, { tag: 'multi' }, tmpDir(), { platform: 'linux/s390x' }),
      ).rejects.toMatchObject({ code: 'E_INVALID_REFERENCE' });
    });
  });
});
