import { describe, expect, it } from 'vitest';
import {
  judgeEntry,
  normalizeEntryName,
  resolveAliasTarget,
} from '../../src/archive/safe-entry.js';

describe('normalizeEntryName', () => {
  it.each([
    ['index.json', 'index.json'],
    ['./index.json', 'index.json'],
    ['././blobs//sha256/./ab', 'blobs/sha256/ab'],
    ['blobs/', 'blobs'],
    ['./', ''],
    ['top/blobs/sha256/ab', 'top/blobs/sha256/ab'],
  ])('normalises %j to %j', (name, expected) => {
    expect(normalizeEntryName(name)).toBe(expected);
  });

  it.each([
    ['../etc/passwd'],
    ['blobs/../../x'],
    ['a/..'],
    ['/etc/passwd'],
    ['//x'],
    ['a\\..\\b'],
    ['a\0b'],
    [''],
  ])('refuses %j', (name) => {
    expect(() => normalizeEntryName(name)).toThrow(
      expect.objectContaining({ code: 'E_UNSAFE_ENTRY' }),
    );
  });
});

describe('judgeEntry', () => {
  it('accepts regular files and directories', () => {
    expect(judgeEntry({ name: './blobs/sha256/ab', type: 'file', size: 3 })).toEqual({
      kind: 'file',
      path: 'blobs/sha256/ab',
      size: 3,
    });
    expect(judgeEntry({ name: 'x', type: 'contiguous-file', size: 1 })).toMatchObject({
      kind: 'file',
    });
    expect(judgeEntry({ name: 'blobs/', type: 'directory', size: 0 })).toEqual({
      kind: 'directory',
      path: 'blobs',
    });
  });

  it.each([
    ['link', 'hard link'],
    ['character-device', 'device'],
    ['block-device', 'device'],
    ['fifo', 'fifo'],
  ])('refuses %s entries', (type) => {
    expect(() => judgeEntry({ name: 'x', type, size: 0, linkname: '/etc/passwd' })).toThrow(
      expect.objectContaining({ code: 'E_UNSAFE_ENTRY' }),
    );
  });

  it('refuses entry types tar-stream does not know (null type)', () => {
    expect(() => judgeEntry({ name: 'sparse', type: null, size: 10 })).toThrow(
      expect.objectContaining({ code: 'E_UNSAFE_ENTRY' }),
    );
  });

  it('refuses symlinks except docker layer aliases inside the archive', () => {
    expect(() => judgeEntry({ name: 'blobs', type: 'symlink', linkname: '/tmp' })).toThrow(
      expect.objectContaining({ code: 'E_UNSAFE_ENTRY' }),
    );
    expect(
      judgeEntry({ name: 'abc/layer.tar', type: 'symlink', linkname: '../fe4e.tar', size: 0 }),
    ).toEqual({ kind: 'alias', path: 'abc/layer.tar', target: 'fe4e.tar' });
    for (const linkname of ['/etc/passwd', '../../etc/passwd', '..', '']) {
      expect(() => judgeEntry({ name: 'abc/layer.tar', type: 'symlink', linkname })).toThrow(
        expect.objectContaining({ code: 'E_UNSAFE_ENTRY' }),
      );
    }
  });

  it('refuses directories and symlinks that carry data (the parser would misread it)', () => {
    expect(() => judgeEntry({ name: 'd/', type: 'directory', size: 512 })).toThrow(
      expect.objectContaining({ code: 'E_CORRUPT_ARCHIVE' }),
    );
  });
});

describe('resolveAliasTarget', () => {
  it('resolves relative to the link, inside the archive', () => {
    expect(resolveAliasTarget('top/id/layer.tar', '../x.tar')).toBe('top/x.tar');
    expect(resolveAliasTarget('id/layer.tar', './other/layer.tar')).toBe('id/other/layer.tar');
    expect(() => resolveAliasTarget('id/layer.tar', '../../x')).toThrow(
      expect.objectContaining({ code: 'E_UNSAFE_ENTRY' }),
    );
  });
});
