// info.ts in-process: the summary lines (and --json object) of a layout.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { artifactLayout } from '../../helpers/cli-layout.js';
import { runInProcess } from '../../helpers/fake-io.js';

describe('info', () => {
  it('prints one line per fact, with fallback tags and strays only when present', async () => {
    const a = await artifactLayout();
    const plain = (await runInProcess(['info', a.dir])).stdout.split('\n');
    expect(plain[0]).toBe(`layout:        ${a.dir}`);
    expect(plain).toContain('tags:          1 (v1)');
    expect(plain.some((l) => l.startsWith('fallback tags:'))).toBe(false);
    expect(plain.some((l) => l.startsWith('stray files:'))).toBe(false);
    expect(plain.some((l) => l.startsWith('referrers:'))).toBe(true);
    await a.layout.tag({ tag: 'v1' }, [`sha256-${'c'.repeat(64)}`]);
    mkdirSync(join(a.dir, 'blobs', 'sha256'), { recursive: true });
    writeFileSync(join(a.dir, 'blobs', 'sha256', 'junk'), 'x');
    const more = (await runInProcess(['info', a.dir])).stdout;
    expect(more).toContain('fallback tags: 1 (referrers; see tags --all)');
    expect(more).toContain('stray files:   1 under blobs/');
  });

  it('prints the library summary plus referrers with --json', async () => {
    const a = await artifactLayout();
    const json = JSON.parse((await runInProcess(['info', a.dir, '--json'])).stdout) as Record<
      string,
      unknown
    >;
    expect(json).toMatchObject({ layout: a.dir, tags: ['v1'], blobs: { count: 4 } });
    expect(json['referrers']).toMatchObject({ referrers: 0 });
  });
});
