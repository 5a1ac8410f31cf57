// Real temporary directories, removed when the test finishes.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { onTestFinished } from 'vitest';
import { Layout } from '../../src/internal.js';

export function tmpDir(prefix = 'ocilayout-test-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  onTestFinished(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A fresh empty layout in a temp dir. */
export function tmpLayout(): Layout {
  return Layout.init(join(tmpDir(), 'layout')).layout;
}
