import {
  existsSync,
  mkdirSync,
  readdirSync,
  renameSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { Layout } from '../../src/internal.js';
import { RegistryHttpError } from '../../src/serve/http-errors.js';
import { Repositories } from '../../src/serve/repositories.js';
import { RACY_SLACK_NS } from '../../src/store/file-version.js';
import { tmpDir } from '../helpers/tmp.js';
import {
  OCI_MANIFEST,
  errorCodes,
  pushBlob,
  pushImage,
  sha256,
  startServe,
  testImage,
} from './helpers.js';

// The server's view of the wall clock, moved ahead to make what was just made count as settled.
const clock = vi.hoisted(() => ({ aheadNs: 0n }));
vi.mock('../../src/store/file-version.js', async (importOriginal) => {
  const real = await importOriginal<typeof import('../../src/store/file-version.js')>();
  return { ...real, wallClockNs: () => real.wallClockNs() + clock.aheadNs };
});

const status = async (fn: () => unknown): Promise<string> => {
  try {
    await fn();
  } catch (err) {
    return err instanceof RegistryHttpError ? `${err.status} ${err.code}` : String(err);
  }
  return 'ok';
};

describe('Repositories', () => {
  it('a layout ROOT is one repository, named by its directory or --name', async () => {
    const dir = tmpDir();
    const layout = Layout.init(join(dir, 'My-App')).layout;
    const byDir = Repositories.open({ root: layout.root });
    expect(byDir.mode).toBe('single');
    expect(byDir.catalog()).toEqual(['my-app']);
    expect(byDir.open('my-app').root).toBe(layout.root);
    expect(await status(() => byDir.open('other'))).toBe('404 NAME_UNKNOWN');
    expect(await status(() => byDir.openOrCreate('other'))).toBe('404 NAME_UNKNOWN');
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

  it('a tree: nested names, created on push; never inside a layout or through a symlink', async () => {
    const root = tmpDir();
    const repos = Repositories.open({ root });
    expect(repos.mode).toBe('tree');
    expect(await status(() => repos.open('a/b'))).toBe('404 NAME_UNKNOWN');
    const made = await repos.openOrCreate('a/b');
    expect(made.root).toBe(join(root, 'a', 'b'));
    expect(await status(() => repos.openOrCreate('a/b/blobs'))).toBe('404 NAME_UNKNOWN');
    expect(await status(() => repos.openOrCreate('a'))).toBe('403 DENIED'); // holds a layout: not empty
    mkdirSync(join(root, 'plain'));
    writeFileSync(join(root, 'plain', 'file'), 'x');
    expect(await status(() => repos.openOrCreate('plain'))).toBe('403 DENIED');
    const outside = Layout.init(join(tmpDir(), 'out')).layout;
    symlinkSync(outside.root, join(root, 'link'));
    expect(await status(() => repos.open('link'))).toBe('404 NAME_UNKNOWN');
    Layout.init(join(root, 'z'));
    Layout.init(join(root, 'Upper'));
    expect(repos.catalog()).toEqual(['a/b', 'z']);
  });
});

describe('a push that comes to nothing takes back the repository it created', () => {
  /** Wait (briefly) for the take-back, which runs after the response. */
  async function settled(check: () => boolean): Promise<boolean> {
    for (let i = 0; i < 100 && !check(); i++) await new Promise((r) => setTimeout(r, 20));
    return check();
  }

  it('a manifest refused for missing blobs leaves no layout, nor the parents it made', async () => {
    const root = tmpDir();
    const reg = await startServe(root);
    const img = testImage('nothing');
    const res = await fetch(`${reg.url}/v2/team/new/manifests/v1`, {
      method: 'PUT',
      body: img.manifest,
      headers: { 'Content-Type': OCI_MANIFEST },
    });
    expect(await errorCodes(res)).toEqual(['MANIFEST_BLOB_UNKNOWN']);
    expect(await settled(() => readdirSync(root).length === 0)).toBe(true);
    expect(await (await fetch(`${reg.url}/v2/_catalog`)).json()).toEqual({ repositories: [] });
  });

  it('a wrong digest, a cancelled session: taken back; a directory the operator made stays', async () => {
    const root = tmpDir();
    mkdirSync(join(root, 'mine'));
    const reg = await startServe(root);
    const wrong = await fetch(`${reg.url}/v2/mine/blobs/uploads/?digest=${sha256('other')}`, {
      method: 'POST',
      body: 'bytes',
    });
    expect(wrong.status).toBe(400);
    expect(await settled(() => readdirSync(join(root, 'mine')).length === 0)).toBe(true);
    const started = await fetch(`${reg.url}/v2/app/blobs/uploads/`, { method: 'POST' });
    expect(started.status).toBe(202);
    expect(existsSync(join(root, 'app', 'index.json'))).toBe(true); // the session's layout
    const cancel = await fetch(new URL(started.headers.get('location')!, reg.url), {
      method: 'DELETE',
    });
    expect(cancel.status).toBe(204);
    expect(await settled(() => !existsSync(join(root, 'app')))).toBe(true);
    expect(readdirSync(root)).toEqual(['mine']);
  });

  it('a repository that received a blob stays, though its manifest was refused', async () => {
    const root = tmpDir();
    const reg = await startServe(root);
    const img = testImage('kept');
    await pushBlob(reg.url, 'app', img.config);
    const res = await fetch(`${reg.url}/v2/app/manifests/v1`, {
      method: 'PUT',
      body: img.manifest,
      headers: { 'Content-Type': OCI_MANIFEST },
    });
    expect(res.status).toBe(400);
    await new Promise((r) => setTimeout(r, 200));
    expect(Layout.open(join(root, 'app')).blobs.stat(sha256(img.config) as never)).toBeDefined();
    // A later successful push to a taken-back name creates it again.
    expect((await pushImage(reg.url, 'again', img, 'v1')).status).toBe(201);
    expect(Layout.open(join(root, 'again')).tags()).toEqual(['v1']);
  });
});

describe('a tree repository found once is not checked whole again until its path changes', () => {
  afterEach(() => {
    clock.aheadNs = 0n;
    vi.restoreAllMocks();
  });

  function tree(): { root: string; repos: Repositories; opens: ReturnType<typeof vi.spyOn> } {
    const root = tmpDir();
    Layout.init(join(root, 'team', 'app'));
    const repos = Repositories.open({ root });
    clock.aheadNs = 2n * RACY_SLACK_NS;
    return { root, repos, opens: vi.spyOn(Layout, 'open') };
  }

  it('is opened once, while its directories are unchanged', () => {
    const { root, repos, opens } = tree();
    for (let i = 0; i < 3; i++) expect(repos.open('team/app').root).toBe(join(root, 'team', 'app'));
    expect(opens).toHaveBeenCalledTimes(1);
  });

  it('a repository removed, or made again, is seen on the next lookup', async () => {
    const { root, repos } = tree();
    repos.open('team/app');
    repos.open('team/app');
    rmSync(join(root, 'team', 'app'), { recursive: true });
    expect(await status(() => repos.open('team/app'))).toBe('404 NAME_UNKNOWN');
    Layout.init(join(root, 'team', 'app'));
    expect(repos.open('team/app').root).toBe(join(root, 'team', 'app'));
    Layout.init(join(root, 'team', 'other'));
    expect(repos.open('team/other').root).toBe(join(root, 'team', 'other'));
  });

  it('a directory on the way swapped for a symlink to it is refused at once', async () => {
    const { root, repos } = tree();
    repos.open('team/app');
    repos.open('team/app');
    // The same directories, now reached through a symlink: the layout's own are unchanged.
    renameSync(join(root, 'team'), join(root, 'moved'));
    symlinkSync(join(root, 'moved'), join(root, 'team'));
    expect(await status(() => repos.open('team/app'))).toBe('404 NAME_UNKNOWN');
  });

  it('a directory on the way made a layout is refused at once', async () => {
    const { root, repos } = tree();
    repos.open('team/app');
    repos.open('team/app');
    writeFileSync(join(root, 'team', 'oci-layout'), '{"imageLayoutVersion":"1.0.0"}');
    writeFileSync(join(root, 'team', 'index.json'), '{"schemaVersion":2,"manifests":[]}');
    expect(await status(() => repos.open('team/app'))).toBe('404 NAME_UNKNOWN');
  });
});
