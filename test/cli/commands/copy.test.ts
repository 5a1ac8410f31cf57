// copy.ts in-process (layout → layout): argument checks before anything is opened, the result on
// stdout (digest, or JSON with the destination), the summary on stderr, a progress counter only on
// a terminal. docker:// endpoints are copy-registry.test.ts's.
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { run } from '../../../src/cli/main.js';
import { Layout } from '../../../src/index.js';
import { artifactLayout } from '../../helpers/cli-layout.js';
import { fakeIo, jsonErrorOf, runInProcess } from '../../helpers/fake-io.js';

describe('copy', () => {
  it.each([
    [['--concurrency', '0'], 'E_USAGE'],
    [['--concurrency', '1.5'], 'E_USAGE'],
    [['--convention', 'per-manifest'], 'E_USAGE'],
  ])('refuses %j (%s) before creating the destination', async (flags, code) => {
    const a = await artifactLayout();
    const dst = join(a.work, 'dst');
    const r = await runInProcess(['copy', `${a.dir}:v1`, dst, ...flags, '--json']);
    expect(r.code).toBe(2);
    expect(jsonErrorOf(r).code).toBe(code);
    expect(existsSync(dst)).toBe(false);
  });

  it('refuses a destination that names a digest (E_INVALID_REFERENCE)', async () => {
    const a = await artifactLayout();
    const dst = join(a.work, 'dst');
    const r = await runInProcess(['copy', `${a.dir}:v1`, `${dst}@${a.manifest.digest}`, '--json']);
    expect(jsonErrorOf(r).code).toBe('E_INVALID_REFERENCE');
    expect(existsSync(dst)).toBe(false);
  });

  it('prints the digest, the summary on stderr, and tags as the source unless told', async () => {
    const a = await artifactLayout();
    const dst = join(a.work, 'dst');
    const r = await runInProcess(['copy', `${a.dir}:v1`, dst, '--no-link']);
    expect(r).toMatchObject({ code: 0, stdout: `${a.manifest.digest}\n` });
    expect(r.stderr).toMatch(/^copied v1: 0 linked, 4 copied, 0 already present \(.+ placed\)\n$/);
    expect(Layout.open(dst).tags()).toEqual(['v1']);
    const json = await runInProcess(['copy', `${a.dir}:v1`, `${dst}:again`, '--json']);
    expect(JSON.parse(json.stdout)).toMatchObject({
      destination: dst,
      tag: 'again',
      descriptor: { digest: a.manifest.digest },
    });
    expect(json.stderr).toBe('');
    expect(Layout.open(dst).tags()).toEqual(['again', 'v1']);
  });

  it('draws a blob counter on a terminal only', async () => {
    const a = await artifactLayout();
    const tty = fakeIo({ isTTY: true });
    expect(await run(['copy', `${a.dir}:v1`, join(a.work, 'tty')], tty.io)).toBe(0);
    expect(tty.stderr()).toContain('\rcopying blobs: 4/4\n');
    const plain = fakeIo({ isTTY: false });
    expect(await run(['copy', `${a.dir}:v1`, join(a.work, 'plain')], plain.io)).toBe(0);
    expect(plain.stderr()).not.toContain('copying blobs');
  });
});
