import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Layout } from '../../src/internal.js';
import { RegistryHttpError } from '../../src/serve/http-errors.js';
import { Repositories } from '../../src/serve/repositories.js';
import { tmpDir } from '../helpers/tmp.js';

const status = (fn: () => unknown): string => {
  try {
    fn();
  } catch (err) {
    return err instanceof RegistryHttpError ? `${err.status} ${err.code}` : String(err);
  }
  return 'ok';
};

describe('Repositories', () => {
  it('a layout ROOT is one repository, named by its directory or --name', () => {
    const dir = tmpDir();
    const layout = Layout.init(join(dir, 'My-App')).layout;
    const byDir = Repositories.open({ root: layout.root });
    expect(byDir.mode).toBe('single');
    expect(byDir.catalog()).toEqual(['my-app']);
    expect(byDir.open('my-app').root).toBe(layout.root);
    expect(status(() => byDir.open('other'))).toBe('404 NAME_UNKNOWN');
    expect(status(() => byDir.openOrCreate('other'))).toBe('404 NAME_UNKNOWN');
    const named = Repositories.open({ root: layout.root, name: 'team/app' });
    expect(named.catalog()).toEqual(['team/app']);
  });

  it('a layout whose directory is no valid name needs --name (E_USAGE)', () => {
    const dir = tmpDir();
    const layout = Layout.init(join(dir, 'not_ok_')).layout;
    expect(() => Repositories.open({ root: layout.root })).toThrow(
      expect.objectContaining({ code: 'E_USAGE' }) as Error,
    );
  });

  it('--name for a tree is E_USAGE; a missing ROOT E_NOT_FOUND', () => {
    const dir = tmpDir();
    expect(() => Repositories.open({ root: dir, name: 'x' })).toThrow(
      expect.objectContaining({ code: 'E_USAGE' }) as Error,
    );
    expect(() => Repositories.open({ root: join(dir, 'nope') })).toThrow(
      expect.objectContaining({ code: 'E_NOT_FOUND' }) as Error,
    );
  });

  it('a tree: nested names, created on push; never inside a layout or through a symlink', () => {
    const root = tmpDir();
    const repos = Repositories.open({ root });
    expect(repos.mode).toBe('tree');
    expect(status(() => repos.open('a/b'))).toBe('404 NAME_UNKNOWN');
    const made = repos.openOrCreate('a/b');
    expect(made.root).toBe(join(root, 'a', 'b'));
    expect(status(() => repos.openOrCreate('a/b/blobs'))).toBe('404 NAME_UNKNOWN');
    expect(status(() => repos.openOrCreate('a'))).toBe('403 DENIED'); // holds a layout: not empty
    mkdirSync(join(root, 'plain'));
    writeFileSync(join(root, 'plain', 'file'), 'x');
    expect(status(() => repos.openOrCreate('plain'))).toBe('403 DENIED');
    const outside = Layout.init(join(tmpDir(), 'out')).layout;
    symlinkSync(outside.root, join(root, 'link'));
    expect(status(() => repos.open('link'))).toBe('404 NAME_UNKNOWN');
    Layout.init(join(root, 'z'));
    Layout.init(join(root, 'Upper'));
    expect(repos.catalog()).toEqual(['a/b', 'z']);
  });
});
