// writeFileDurable replaces a file without widening or narrowing its permission bits.
import { chmodSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { writeFileDurable } from '../../src/internal.js';
import { tmpDir } from '../helpers/tmp.js';

describe('writeFileDurable permissions', () => {
  it('keeps the mode of the file it replaces (umoci writes index.json 0600)', () => {
    const path = join(tmpDir(), 'index.json');
    writeFileSync(path, 'old');
    chmodSync(path, 0o600);
    writeFileDurable(path, 'new');
    expect(readFileSync(path, 'utf8')).toBe('new');
    expect(statSync(path).mode & 0o777).toBe(0o600);
  });

  it('creates new files 0644', () => {
    const path = join(tmpDir(), 'oci-layout');
    writeFileDurable(path, '{}');
    expect(statSync(path).mode & 0o777).toBe(0o644 & ~process.umask());
  });
});
