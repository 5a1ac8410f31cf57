// manifest.ts in-process: get prints exact bytes (or a descriptor + document with --json, or a
// file), put checks a digest reference against the bytes and the media-type flag, delete reports
// the tags it removed.
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { digestOf, Layout, MediaType } from '../../../src/internal.js';
import { artifactLayout } from '../../helpers/cli-layout.js';
import { jsonErrorOf, runInProcess } from '../../helpers/fake-io.js';
import { layoutSnapshot } from '../../helpers/snapshot.js';

/** An index over the artifact, indented (so a re-serialisation would show). */
function indexBytes(child: object): Buffer {
  return Buffer.from(
    JSON.stringify(
      { schemaVersion: 2, mediaType: MediaType.ImageIndex, manifests: [child] },
      null,
      2,
    ),
  );
}

describe('manifest get', () => {
  it('prints the stored bytes exactly, or descriptor and document with --json', async () => {
    const a = await artifactLayout();
    const bytes = indexBytes(a.manifest);
    await a.layout.putManifest(bytes, { tag: 'idx' });
    const plain = await runInProcess(['manifest', 'get', `${a.dir}:idx`]);
    expect(plain.stdout).toBe(bytes.toString());
    const json = JSON.parse(
      (await runInProcess(['manifest', 'get', `${a.dir}:idx`, '--json'])).stdout,
    );
    expect(json).toEqual({
      descriptor: Layout.open(a.dir).resolve({ tag: 'idx' }),
      manifest: JSON.parse(bytes.toString()),
    });
  });

  it('writes -o FILE and reports the path', async () => {
    const a = await artifactLayout();
    const out = join(a.work, 'm.json');
    const r = await runInProcess(['manifest', 'get', `${a.dir}:v1`, '-o', out, '--json']);
    expect(JSON.parse(r.stdout)).toEqual({
      descriptor: expect.objectContaining({ digest: a.manifest.digest }),
      path: out,
    });
    expect(digestOf(readFileSync(out))).toBe(a.manifest.digest);
  });
});

describe('manifest put', () => {
  it('stores bytes from a file or stdin, tagging when asked', async () => {
    const a = await artifactLayout();
    const bytes = indexBytes(a.manifest);
    const file = join(a.work, 'idx.json');
    writeFileSync(file, bytes);
    const r = await runInProcess(['manifest', 'put', `${a.dir}:idx`, file]);
    expect(r).toMatchObject({ code: 0, stdout: `${digestOf(bytes)}\n` });
    const stdin = await runInProcess(['manifest', 'put', `${a.dir}@${digestOf(bytes)}`, '-'], {
      stdin: bytes,
    });
    expect(stdin.code, stdin.stderr).toBe(0);
    expect(Layout.open(a.dir).resolve({ tag: 'idx' }).digest).toBe(digestOf(bytes));
  });

  it('refuses bytes that do not hash to LAYOUT@DIGEST, and a bad --media-type, changing nothing', async () => {
    const a = await artifactLayout();
    const before = layoutSnapshot(a.dir);
    const other = `sha256:${'0'.repeat(64)}`;
    const wrong = await runInProcess(['manifest', 'put', `${a.dir}@${other}`, '-', '--json'], {
      stdin: indexBytes(a.manifest),
    });
    expect(wrong.code).toBe(4);
    expect(jsonErrorOf(wrong)).toMatchObject({
      code: 'E_DIGEST_MISMATCH',
      details: { expected: other },
    });
    const mt = await runInProcess(
      ['manifest', 'put', a.dir, '-', '--media-type', 'nope', '--json'],
      {
        stdin: indexBytes(a.manifest),
      },
    );
    expect(jsonErrorOf(mt).code).toBe('E_USAGE');
    expect(layoutSnapshot(a.dir)).toEqual(before);
  });
});

describe('manifest delete', () => {
  it('removes the manifest and says which tags went', async () => {
    const a = await artifactLayout();
    await a.layout.tag({ tag: 'v1' }, ['also']);
    const r = await runInProcess(['manifest', 'delete', `${a.dir}:v1`]);
    expect(r).toMatchObject({ code: 0, stdout: `${a.manifest.digest}\n` });
    expect(r.stderr).toMatch(/^removed tags: (v1, also|also, v1)\n$/);
    expect(Layout.open(a.dir).tags()).toEqual([]);
  });

  it('needs a subcommand', async () => {
    expect((await runInProcess(['manifest'])).code).toBe(2);
  });
});
