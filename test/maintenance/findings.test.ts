import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { FINDING_SEVERITY, finding } from '../../src/maintenance/findings.js';

const SRC = fileURLToPath(new URL('../../src/', import.meta.url));
const NOTES = ['gc-fsck.md', 'referrers.md'].map((n) =>
  fileURLToPath(new URL(`../../spec-notes/${n}`, import.meta.url)),
);

describe('finding codes', () => {
  it('take their severity from the one table; a tolerated error is a warning', () => {
    expect(finding('MISSING_BLOB', 'm', { digest: 'd' })).toEqual({
      code: 'MISSING_BLOB',
      severity: 'error',
      message: 'm',
      digest: 'd',
    });
    expect(finding('MISSING_BLOB', 'm', { tolerated: true }).severity).toBe('warning');
    expect(finding('BLOB_STRAY', 'm', { path: 'p' })).toEqual({
      code: 'BLOB_STRAY',
      severity: 'warning',
      message: 'm',
      path: 'p',
    });
  });

  it('no source sets a severity of its own', () => {
    const offenders = (readdirSync(SRC, { recursive: true }) as string[])
      .filter((f) => f.endsWith('.ts') && !f.endsWith('findings.ts'))
      .filter((f) => /severity:\s*'(error|warning)'/.test(readFileSync(join(SRC, f), 'utf8')));
    expect(offenders).toEqual([]);
  });

  it('every code is explained in spec-notes (gc-fsck.md, referrers.md for the conventions)', () => {
    const notes = NOTES.map((n) => readFileSync(n, 'utf8')).join('\n');
    const missing = Object.keys(FINDING_SEVERITY).filter((code) => !notes.includes(code));
    expect(missing).toEqual([]);
  });
});
