// init.ts in-process: creates a layout or accepts an existing one, says which, and refuses a file.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { jsonErrorOf, runInProcess } from '../../helpers/fake-io.js';
import { tmpDir } from '../../helpers/tmp.js';

describe('init', () => {
  it('creates a layout, then accepts it unchanged, saying which', async () => {
    const dir = join(tmpDir(), 'new');
    const first = await runInProcess(['init', dir]);
    expect(first).toMatchObject({ code: 0, stdout: `created: ${dir}\n` });
    expect(existsSync(join(dir, 'oci-layout'))).toBe(true);
    const again = await runInProcess(['init', dir, '--json']);
    expect(JSON.parse(again.stdout)).toEqual({ layout: dir, created: false });
  });

  it('refuses a regular file (E_CONFLICT, exit 7)', async () => {
    const file = join(tmpDir(), 'f');
    writeFileSync(file, 'x');
    const r = await runInProcess(['init', file, '--json']);
    expect(r.code).toBe(7);
    expect(jsonErrorOf(r).code).toBe('E_CONFLICT');
  });
});
