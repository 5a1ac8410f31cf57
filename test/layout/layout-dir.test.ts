// Layout.init and Layout.open: what makes a directory a layout (src/layout-dir.ts).
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, expect, it, vi } from 'vitest';
import { digestOf } from '../../src/digest.js';
import { Layout, emptyIndex } from '../../src/layout/layout.js';
import { MediaType } from '../../src/media-types.js';
import { OciLayoutSchema } from '../../src/schema/layout-files.js';
import { serializeIndex } from '../../src/store/index-store.js';
import { freshDir, imageManifest, makeLayout, tagged } from '../helpers/make-layout.js';
import { layoutSnapshot } from '../helpers/snapshot.js';
import { mountSmallFs, smallFsUnavailable } from '../helpers/small-fs.js';

function emptyConfig(layout: Layout): { mediaType: string; digest: string; size: number } {
  const { digest, size } = layout.blobs.putBytes(Buffer.from('{}'));
  return { mediaType: MediaType.Empty, digest, size };
}

describe('Layout.init', () => {
  it('creates oci-layout, an empty index.json and blobs/ in a new directory', () => {
    const root = join(freshDir(), 'new', 'nested');
    const { layout, created } = Layout.init(root);
    expect(created).toBe(true);
    expect(layout.root).toBe(root);
    expect(JSON.parse(readFileSync(join(root, 'oci-layout'), 'utf8'))).toEqual({
      imageLayoutVersion: '1.0.0',
    });
    expect(readFileSync(join(root, 'index.json'), 'utf8')).toBe(serializeIndex(emptyIndex()));
    expect(readdirSync(root).sort()).toEqual(['blobs', 'index.json', 'oci-layout']);
  });

  it('accepts an empty existing directory', () => {
    const root = freshDir();
    expect(Layout.init(root).created).toBe(true);
  });

  it('is idempotent: an existing layout is opened unchanged', async () => {
    const root = join(freshDir(), 'l');
    const { layout } = Layout.init(root);
    const m = await layout.putManifest(
      Buffer.from(JSON.stringify(imageManifest(emptyConfig(layout), []))),
      { tag: 'v1', allowMissing: true },
    );
    const before = layoutSnapshot(root);
    const again = Layout.init(root);
    expect(again.created).toBe(false);
    expect(layoutSnapshot(root)).toEqual(before);
    expect(again.layout.resolve({ tag: 'v1' }).digest).toBe(m.digest);
  });

  it('refuses a non-empty directory that is not a layout (E_CONFLICT), touching nothing', () => {
    const root = freshDir();
    writeFileSync(join(root, 'notes.txt'), 'mine');
    const before = layoutSnapshot(root, { ignoreIngest: false });
    expect(() => Layout.init(root)).toThrow(expect.objectContaining({ code: 'E_CONFLICT' }));
    expect(layoutSnapshot(root, { ignoreIngest: false })).toEqual(before);
  });

  it('refuses a path that is a file (E_CONFLICT)', () => {
    const file = join(freshDir(), 'f');
    writeFileSync(file, 'x');
    expect(() => Layout.init(file)).toThrow(expect.objectContaining({ code: 'E_CONFLICT' }));
  });

  it.each([
    ['only oci-layout', { 'oci-layout': '{"imageLayoutVersion":"1.0.0"}' }],
    ['only blobs/ and ingest/', { 'blobs/sha256/.keep': '', 'ingest/x.part': '' }],
    [
      'oci-layout and a crashed temp file',
      { 'oci-layout': '{"imageLayoutVersion":"1.0.0"}', '.tmp-x.index.json': '{' },
    ],
  ])('completes a half-created layout (%s)', (_name, files) => {
    const root = freshDir();
    for (const [rel, text] of Object.entries(files)) {
      mkdirSync(dirname(join(root, rel)), { recursive: true });
      writeFileSync(join(root, rel), text);
    }
    const { layout } = Layout.init(root);
    expect(layout.readIndex()).toEqual(emptyIndex());
  });

  it('refuses a directory with an index.json but no oci-layout (not a layout of ours), unchanged', () => {
    // init writes oci-layout first, so index.json alone is someone else's directory.
    const fx = makeLayout({
      ociLayout: null,
      index: {
        schemaVersion: 2,
        manifests: [tagged({ mediaType: 'a/b', digest: digestOf('x'), size: 1 }, 'kept')],
      },
    });
    const before = layoutSnapshot(fx.root, { ignoreIngest: false });
    expect(() => Layout.init(fx.root)).toThrow(expect.objectContaining({ code: 'E_NOT_A_LAYOUT' }));
    expect(layoutSnapshot(fx.root, { ignoreIngest: false })).toEqual(before);
  });
});

describe('Layout.open', () => {
  // zod's first use of a schema builds it: on every layout command, more than the rest of a small
  // command's layout work. A plain oci-layout file is checked by hand (imageLayoutVersionOf).
  it('reads a plain oci-layout file without asking zod', () => {
    const root = makeLayout({}, join(freshDir(), 'l')).root;
    const spy = vi.spyOn(OciLayoutSchema, 'safeParse');
    try {
      expect(Layout.open(root).root).toBe(root);
      expect(spy).not.toHaveBeenCalled();
    } finally {
      spy.mockRestore();
    }
  });

  it.each([
    ['no directory', (root: string) => join(root, 'missing'), 'E_NOT_A_LAYOUT'],
    [
      'no oci-layout',
      (root: string) => makeLayout({ ociLayout: null }, join(root, 'l')).root,
      'E_NOT_A_LAYOUT',
    ],
    [
      'no index.json',
      (root: string) => makeLayout({ index: null }, join(root, 'l')).root,
      'E_NOT_A_LAYOUT',
    ],
    [
      'imageLayoutVersion 2.0.0',
      (root: string) =>
        makeLayout({ ociLayout: { imageLayoutVersion: '2.0.0' } }, join(root, 'l')).root,
      'E_NOT_A_LAYOUT',
    ],
    [
      'oci-layout not JSON',
      (root: string) => makeLayout({ ociLayout: '{' }, join(root, 'l')).root,
      'E_INVALID_JSON',
    ],
    [
      'oci-layout without a version',
      (root: string) => makeLayout({ ociLayout: { version: '1.0.0' } }, join(root, 'l')).root,
      'E_SCHEMA',
    ],
    [
      'a regular file',
      (root: string) => {
        writeFileSync(join(root, 'file'), 'x');
        return join(root, 'file');
      },
      'E_NOT_A_LAYOUT',
    ],
  ])('fails for %s', (_name, make, code) => {
    const path = make(freshDir());
    expect(() => Layout.open(path)).toThrow(expect.objectContaining({ code }));
  });

  it('suggests init only where init would succeed, and names a reference or file given instead', () => {
    const root = freshDir();
    const hintOf = (path: string): string | undefined => {
      try {
        Layout.open(path);
      } catch (err) {
        expect(err).toMatchObject({ code: 'E_NOT_A_LAYOUT' });
        return (err as { hint?: string }).hint;
      }
      throw new Error(`${path} opened`);
    };
    mkdirSync(join(root, 'empty'));
    mkdirSync(join(root, 'docs'));
    writeFileSync(join(root, 'docs', 'README.md'), 'not a layout');
    const half = makeLayout({ index: null }, join(root, 'half')).root;
    const halfOther = makeLayout(
      { index: null, files: { 'notes.txt': 'x' } },
      join(root, 'ho'),
    ).root;
    const lay = makeLayout({}, join(root, 'lay')).root;
    writeFileSync(join(root, 'x.tar'), 'a tar');

    const missing = join(root, 'missing');
    expect(hintOf(missing)).toBe(`create one with \`ocilayout init ${missing}\``);
    expect(hintOf(join(root, 'empty'))).toContain('ocilayout init');
    expect(hintOf(half)).toContain(`if \`ocilayout init ${half}\` was interrupted`);
    // init refuses a directory holding other files: suggesting it would only lead to a second error.
    expect(hintOf(join(root, 'docs'))).toBeUndefined();
    expect(hintOf(halfOther)).toBeUndefined();
    expect(hintOf(`${lay}:v1`)).toMatch(
      new RegExp(`^${lay}:v1 is a reference; this command takes the layout directory ${lay} `),
    );
    expect(hintOf(`${lay}@sha256:${'a'.repeat(64)}`)).toContain('is a reference');
    expect(hintOf(join(root, 'x.tar'))).toContain('is a file');
    expect(hintOf(join(root, 'x.tar'))).not.toContain('ocilayout init');
  });

  it('accepts extra fields in oci-layout and unknown files in the directory', () => {
    const fx = makeLayout({
      ociLayout: { imageLayoutVersion: '1.0.0', 'vnd.example': true },
      files: {
        'manifest.json': '[]', // docker save
        '_uploads/upload.1': '', // olareg
        '.umoci-1234/x': '', // umoci
        'index.json.lock': '', // BuildKit
        'ingest/abc_123': '', // oras-go
      },
    });
    expect(Layout.open(fx.root).readIndex()).toEqual(emptyIndex());
  });

  it('resolves relative paths to an absolute root', () => {
    const fx = makeLayout();
    const rel = join('.', fx.root.slice(process.cwd().length + 1));
    if (fx.root.startsWith(process.cwd())) expect(Layout.open(rel).root).toBe(fx.root);
    else expect(Layout.open(fx.root).root).toBe(fx.root);
  });
});

const noMount = smallFsUnavailable();
if (noMount !== undefined) console.warn(`SKIP layout-dir full-disk test: ${noMount}`);

describe.skipIf(noMount !== undefined)('Layout.init on a full disk', () => {
  it('takes back what it made when a file cannot be written (ENOSPC)', () => {
    const mnt = mountSmallFs('64k').dir;
    // Fill it: directories still fit (tmpfs charges them no pages), file contents do not.
    try {
      execFileSync('dd', ['if=/dev/zero', `of=${join(mnt, 'fill')}`, 'bs=4k'], { stdio: 'ignore' });
    } catch {
      /* dd stops with ENOSPC */
    }
    expect(() => Layout.init(join(mnt, 'new'))).toThrow(expect.objectContaining({ code: 'E_IO' }));
    expect(readdirSync(mnt)).toEqual(['fill']);
    // An existing empty directory stays, empty.
    mkdirSync(join(mnt, 'empty'));
    expect(() => Layout.init(join(mnt, 'empty'))).toThrow(
      expect.objectContaining({ code: 'E_IO' }),
    );
    expect(readdirSync(join(mnt, 'empty'))).toEqual([]);
  });
});
