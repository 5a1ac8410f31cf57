import { readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { LockError } from '../../src/errors.js';
import { DURABLE_TMP_PREFIX, fsyncDir, writeFileDurable } from '../../src/store/durable.js';
import { failFs } from '../helpers/fault.js';
import { freshDir } from '../helpers/make-layout.js';

describe('writeFileDurable', () => {
  it('creates a new file and replaces an existing one with a new inode', () => {
    const dir = freshDir();
    const path = join(dir, 'index.json');
    writeFileDurable(path, 'one');
    const first = statSync(path).ino;
    writeFileDurable(path, Buffer.from('two'));
    expect(readFileSync(path, 'utf8')).toBe('two');
    expect(statSync(path).ino).not.toBe(first); // replaced by rename, never rewritten in place
    expect(readdirSync(dir)).toEqual(['index.json']);
  });

  it.each([
    ['openSync', 'EACCES'],
    ['writeSync', 'ENOSPC'],
    ['fsyncSync', 'EIO'],
    ['renameSync', 'EXDEV'],
  ] as const)('keeps the old content and leaves no temp file when %s fails (%s)', (step, errno) => {
    const dir = freshDir();
    const path = join(dir, 'index.json');
    writeFileSync(path, 'old');
    failFs(
      step,
      errno,
      (...args) => step !== 'openSync' || String(args[0]).includes(DURABLE_TMP_PREFIX),
    );
    expect(() => writeFileDurable(path, 'new')).toThrow(
      expect.objectContaining({ code: 'E_IO', details: expect.objectContaining({ errno }) }),
    );
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['index.json']);
  });

  it('runs beforeRename after the temp file is complete; a throw there leaves the old content', () => {
    const dir = freshDir();
    const path = join(dir, 'index.json');
    writeFileSync(path, 'old');
    const refused = new LockError('E_LOCK_COMPROMISED', 'lost the lock');
    let tempSeen = '';
    expect(() =>
      writeFileDurable(path, 'new', {
        beforeRename: () => {
          const tmp = readdirSync(dir).find((n) => n.startsWith(DURABLE_TMP_PREFIX))!;
          tempSeen = readFileSync(join(dir, tmp), 'utf8');
          throw refused;
        },
      }),
    ).toThrow(refused);
    expect(tempSeen).toBe('new');
    expect(readFileSync(path, 'utf8')).toBe('old');
    expect(readdirSync(dir)).toEqual(['index.json']);
    let ran = 0;
    writeFileDurable(path, 'new', { beforeRename: () => void ran++ });
    expect([ran, readFileSync(path, 'utf8')]).toEqual([1, 'new']);
  });

  it('names its temp file after the owner and the target', () => {
    const dir = freshDir();
    const seen: string[] = [];
    failFs('renameSync', 'EIO', (from) => {
      seen.push(String(from));
      return true;
    });
    expect(() => writeFileDurable(join(dir, 'oci-layout'), '{}')).toThrow();
    expect(seen[0]).toMatch(/\/\.tmp-[0-9a-f]{8}\.\d+\.\d+\.[0-9a-f]+\.oci-layout$/);
  });
});

describe('writeFileDurable({ exclusive: true })', () => {
  it('creates a missing file and reports it', () => {
    const dir = freshDir();
    expect(writeFileDurable(join(dir, 'oci-layout'), 'x', { exclusive: true })).toBe(true);
    expect(readFileSync(join(dir, 'oci-layout'), 'utf8')).toBe('x');
    expect(readdirSync(dir)).toEqual(['oci-layout']);
  });

  it('never replaces an existing file, and leaves no temp file', () => {
    const dir = freshDir();
    const path = join(dir, 'index.json');
    writeFileSync(path, 'theirs');
    const ino = statSync(path).ino;
    expect(writeFileDurable(path, 'ours', { exclusive: true })).toBe(false);
    expect(readFileSync(path, 'utf8')).toBe('theirs');
    expect(statSync(path).ino).toBe(ino);
    expect(readdirSync(dir)).toEqual(['index.json']);
  });

  it('still works where hard links are unsupported', () => {
    const dir = freshDir();
    failFs('linkSync', 'EPERM');
    expect(writeFileDurable(join(dir, 'a'), '1', { exclusive: true })).toBe(true);
    expect(writeFileDurable(join(dir, 'a'), '2', { exclusive: true })).toBe(false);
    expect(readFileSync(join(dir, 'a'), 'utf8')).toBe('1');
    expect(readdirSync(dir)).toEqual(['a']);
  });
});

describe('fsyncDir', () => {
  it('syncs a directory, and reports a missing one as E_NOT_FOUND', () => {
    const dir = freshDir();
    expect(() => fsyncDir(dir)).not.toThrow();
    expect(() => fsyncDir(join(dir, 'missing'))).toThrow(
      expect.objectContaining({ code: 'E_NOT_FOUND' }),
    );
  });
});
