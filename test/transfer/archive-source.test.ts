// archive-source.ts: an archive read once by import's reader into a private staging layout and
// served as a layout source. Which image a REF (or none) names, the reader's verdicts (corrupt
// content, warnings, compression) reaching copy, and that the staging layout never outlives it.
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { copyRefs } from '../../src/transfer/endpoints.js';
import { Layout } from '../../src/layout/layout.js';
import { gz, layoutTar } from '../helpers/make-tar.js';
import { multiPlatformLayout } from '../helpers/make-layout.js';
import { tmpDir } from '../helpers/tmp.js';

// The staging layout goes to os.tmpdir(): a private one per test shows what is left there.
let staging: string;
let savedTmp: string | undefined;
beforeEach(() => {
  savedTmp = process.env['TMPDIR'];
  staging = mkdtempSync(join(tmpdir(), 'ocilayout-staging-test-'));
  process.env['TMPDIR'] = staging;
});
afterEach(() => {
  if (savedTmp === undefined) delete process.env['TMPDIR'];
  else process.env['TMPDIR'] = savedTmp;
  rmSync(staging, { recursive: true, force: true });
});

/** Staging layouts still in the temp directory (tmpDir()'s own directories aside). */
const stagingLeft = (): string[] =>
  readdirSync(staging).filter((n) => n.startsWith('ocilayout-archive-'));

describe('an archive as a copy source', () => {
  it('reads a gzipped archive, says what it ignored, and leaves no staging behind', async () => {
    const made = multiPlatformLayout(join(tmpDir(), 'src'));
    const dir = tmpDir();
    const file = join(dir, 'in.tar.gz');
    writeFileSync(
      file,
      gz(layoutTar(made.root, { extra: [{ name: 'notes.txt', body: 'not part of a layout' }] })),
    );
    const dst = join(dir, 'dst');
    const r = await copyRefs(`oci-archive:${file}`, dst, { platforms: ['linux/arm64'] });
    expect(r.tag).toBe('v1');
    expect(r.filteredFrom?.platforms).toEqual(['linux/arm64']);
    expect(r.warnings).toContain('ignored archive entry notes.txt');
    expect(Layout.open(dst).resolve({ tag: 'v1' }).digest).toBe(r.descriptor.digest);
    expect(stagingLeft()).toEqual([]);
  });

  it('a corrupt blob fails the read: no destination, no staging left', async () => {
    const made = multiPlatformLayout(join(tmpDir(), 'src'));
    const layer = made.d['arm64layer']!.digest.replace(':', '/');
    const dir = tmpDir();
    const file = join(dir, 'bad.tar');
    writeFileSync(file, layoutTar(made.root, { override: { [`blobs/${layer}`]: 'tampered' } }));
    await expect(copyRefs(`oci-archive:${file}`, join(dir, 'dst'))).rejects.toMatchObject({
      code: expect.stringMatching(/^E_(DIGEST|SIZE)_MISMATCH$/),
    });
    expect(readdirSync(dir)).toEqual(['bad.tar']);
    expect(stagingLeft()).toEqual([]);
  });

  it('a failure mid-transfer removes the staging layout too', async () => {
    const made = multiPlatformLayout(join(tmpDir(), 'src'));
    const dir = tmpDir();
    const file = join(dir, 'in.tar');
    writeFileSync(file, layoutTar(made.root));
    const boom = new Error('injected failure');
    await expect(
      copyRefs(`oci-archive:${file}`, join(dir, 'dst'), {
        onEvent: (e) => {
          if (e.type === 'blob-done' && e.done === 2) throw boom;
        },
      }),
    ).rejects.toBe(boom);
    expect(stagingLeft()).toEqual([]);
  });

  it('an archive without an image is refused, naming none', async () => {
    const empty = Layout.init(join(tmpDir(), 'empty')).layout;
    const dir = tmpDir();
    const file = join(dir, 'empty.tar');
    writeFileSync(file, layoutTar(empty.root));
    await expect(copyRefs(`oci-archive:${file}`, join(dir, 'dst'))).rejects.toMatchObject({
      code: 'E_INVALID_REFERENCE',
      details: { refs: [] },
    });
    expect(stagingLeft()).toEqual([]);
  });

  it('a missing archive file is E_NOT_FOUND, nothing created', async () => {
    const dir = tmpDir();
    await expect(
      copyRefs(`oci-archive:${join(dir, 'absent.tar')}`, join(dir, 'dst')),
    ).rejects.toMatchObject({ code: 'E_NOT_FOUND' });
    expect(readdirSync(dir)).toEqual([]);
    expect(stagingLeft()).toEqual([]);
  });
});
