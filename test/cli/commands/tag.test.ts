// tag.ts in-process: the arguments of tag/untag/tags/resolve and how each prints its result. The
// built CLI's behaviour end to end is test/integration/cli-tag.test.ts.
import { describe, expect, it } from 'vitest';
import { Layout } from '../../../src/internal.js';
import { artifactLayout } from '../../helpers/cli-layout.js';
import { jsonErrorOf, runInProcess } from '../../helpers/fake-io.js';
import { layoutSnapshot } from '../../helpers/snapshot.js';

const FALLBACK = `sha256-${'c'.repeat(64)}`;

describe('tag', () => {
  it('--help marks TAGS required and shows no default for it', async () => {
    const r = await runInProcess(['tag', '--help']);
    const line = r.stdout.split('\n').find((l) => /^\s+tags\s/.test(l));
    expect(line).toContain('[required]');
    expect(line).not.toContain('default');
  });

  it('needs at least one new tag (E_USAGE, nothing written)', async () => {
    const a = await artifactLayout();
    const before = layoutSnapshot(a.dir);
    const r = await runInProcess(['tag', `${a.dir}:v1`, '--json']);
    expect(r.code).toBe(2);
    expect(jsonErrorOf(r).code).toBe('E_USAGE');
    expect(layoutSnapshot(a.dir)).toEqual(before);
  });

  it('points every tag given at the digest and prints it', async () => {
    const a = await artifactLayout();
    const r = await runInProcess(['tag', `${a.dir}:v1`, 'x', 'y']);
    expect(r).toMatchObject({ code: 0, stdout: `${a.manifest.digest}\n` });
    expect(Layout.open(a.dir).resolve({ tag: 'y' }).digest).toBe(a.manifest.digest);
  });
});

describe('untag', () => {
  it('prints each removed digest and refuses a digest reference', async () => {
    const a = await artifactLayout();
    const r = await runInProcess(['untag', `${a.dir}:v1`]);
    expect(r).toMatchObject({ code: 0, stdout: `${a.manifest.digest}\n` });
    expect(Layout.open(a.dir).tags()).toEqual([]);
    const bad = await runInProcess(['untag', `${a.dir}@${a.manifest.digest}`, '--json']);
    expect(jsonErrorOf(bad).code).toBe('E_INVALID_REFERENCE');
  });
});

describe('tags', () => {
  it('hides referrers fallback tags unless --all', async () => {
    const a = await artifactLayout();
    await a.layout.tag({ tag: 'v1' }, [FALLBACK]);
    expect((await runInProcess(['tags', a.dir])).stdout).toBe('v1\n');
    expect((await runInProcess(['tags', a.dir, '--all'])).stdout).toBe(`${FALLBACK}\nv1\n`);
  });
});

describe('resolve', () => {
  it('prints the digest, or the descriptor with --json', async () => {
    const a = await artifactLayout();
    expect((await runInProcess(['resolve', a.dir])).stdout).toBe(`${a.manifest.digest}\n`);
    const json = await runInProcess(['resolve', `${a.dir}:v1`, '--json']);
    expect(JSON.parse(json.stdout)).toEqual(Layout.open(a.dir).resolve({ tag: 'v1' }));
  });
});
