import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { PendingSync } from '../../src/store/pending-sync.js';
import { failFs } from '../helpers/fault.js';
import { tmpDir } from '../helpers/tmp.js';

describe('PendingSync', () => {
  it('syncs recorded files and directories once each, then forgets them', () => {
    const root = tmpDir();
    const files = ['a', 'b'].map((name) => join(root, name));
    for (const f of files) writeFileSync(f, f);
    const pending = new PendingSync();
    for (const f of files) pending.file(f);
    pending.dir(root);
    pending.dir(root);
    let fsyncs = 0;
    failFs('fsyncSync', 'EIO', () => {
      fsyncs += 1;
      return false; // count only
    });
    pending.flush(root);
    expect(fsyncs).toBe(3); // two files, one directory
    pending.flush(root);
    expect(fsyncs).toBe(3);
  });

  describe('when a recorded file cannot be synced', () => {
    it('needs no sync for a file removed meanwhile (gc)', () => {
      const root = tmpDir();
      const pending = new PendingSync();
      pending.file(join(root, 'gone'));
      expect(() => pending.flush(root)).not.toThrow();
    });

    it('reports any other failure as E_IO', () => {
      const root = tmpDir();
      const file = join(root, 'f');
      writeFileSync(file, 'x');
      failFs('openSync', 'EACCES', (path) => path === file);
      const pending = new PendingSync();
      pending.file(file);
      expect(() => pending.flush(root)).toThrow(expect.objectContaining({ code: 'E_IO' }));
    });
  });
});
