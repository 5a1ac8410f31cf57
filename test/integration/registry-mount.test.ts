// Push mounts what the blob-location record saw, end to end against docker-registry (behind a
// proxy that logs every request, so "mounted" is the registry's word, not ours): pull repository a
// into a layout, push the layout to repository b: no blob bytes are uploaded. A stale record (the
// blob deleted from a), a corrupt record file and the off switches all upload, and the push works.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Layout } from '../../src/internal.js';
import {
  startLoggingProxy,
  startRegistry,
  type LoggingProxy,
  type RunningRegistry,
} from '../helpers/registry.js';
import { cliOk, runCli } from '../helpers/run-cli.js';
import { requireTools } from '../helpers/tools.js';

const HAVE = requireTools('docker-registry');
const RECORD = join('ocilayout', 'blob-locations.json');

describe.runIf(HAVE)('push mounts blobs seen in another repository (docker-registry)', () => {
  let registry: RunningRegistry;
  let proxy: LoggingProxy;
  let work: string;
  /** Config and two layers of the image pushed to repository a. */
  let blobs: string[];
  let n = 0;
  const fresh = (name: string): string => join(work, `${name}-${++n}`);
  const env = (cache: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    DOCKER_CONFIG: join(work, 'no-docker-config'),
    XDG_CACHE_HOME: cache,
    ...extra,
  });

  /** Copy and return the parsed --json result, with the requests the registry saw meanwhile. */
  async function copy(
    args: string[],
    cache: string,
    extra: NodeJS.ProcessEnv = {},
  ): Promise<{ out: { blobs: Record<string, number> }; requests: string[] }> {
    const before = proxy.log.length;
    const stdout = await cliOk(['copy', '--json', ...args], { env: env(cache, extra) });
    return { out: JSON.parse(stdout), requests: proxy.log.slice(before) };
  }

  /** The blob uploads (PATCH or PUT of bytes) a push made to `repo`. */
  const uploads = (requests: string[], repo: string): string[] =>
    requests.filter((l) => /^(PATCH|PUT) /.test(l) && l.includes(`/v2/${repo}/blobs/uploads/`));
  const mounts = (requests: string[], repo: string): string[] =>
    requests.filter((l) => l.startsWith(`POST /v2/${repo}/blobs/uploads/?mount=`));

  beforeAll(async () => {
    registry = await startRegistry();
    proxy = await startLoggingProxy(registry.port);
    work = mkdtempSync(join(tmpdir(), 'ocilayout-mount-'));
    const files = ['one.bin', 'two.bin'].map((name) => {
      const p = join(work, name);
      writeFileSync(p, randomBytes(200_000));
      return p;
    });
    const src = join(work, 'src');
    await cliOk(['push', '--quiet', `${src}:v1`, ...files]);
    const layout = Layout.open(src);
    const parsed = layout.readManifest(layout.resolve({ tag: 'v1' }));
    if (parsed.kind !== 'manifest') throw new Error('push made an index');
    blobs = [parsed.doc.config.digest, ...parsed.doc.layers.map((l) => l.digest)];
    // Repository a holds the image; this push is not recorded (the tests learn a by pulling it).
    await cliOk(['copy', '--no-blob-cache', `${src}:v1`, `docker://${proxy.host}/team/a:v1`], {
      env: env(join(work, 'unused-cache')),
    });
  });
  afterAll(async () => {
    await proxy?.close();
    await registry?.stop();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('pull from a, push the layout to b: every blob mounted from a, none uploaded', async () => {
    const cache = fresh('cache');
    const lay = fresh('lay');
    const pulled = await copy([`docker://${proxy.host}/team/a:v1`, lay], cache);
    expect(pulled.out.blobs['copied']).toBe(4); // config, two layers, the manifest
    const record = JSON.parse(readFileSync(join(cache, RECORD), 'utf8')) as {
      blobs: Record<string, [string, string, number][]>;
    };
    for (const d of blobs)
      expect(record.blobs[d]?.[0]?.slice(0, 2)).toEqual([proxy.host, 'team/a']);

    const pushed = await copy([`${lay}:v1`, `docker://${proxy.host}/team/b:v1`], cache);
    expect(uploads(pushed.requests, 'team/b')).toEqual([]);
    expect(mounts(pushed.requests, 'team/b')).toHaveLength(3);
    for (const d of blobs) {
      expect(pushed.requests).toContain(`POST /v2/team/b/blobs/uploads/?mount=${d}&from=team%2Fa`);
    }
    expect(pushed.out.blobs).toMatchObject({ mounted: 3, copied: 1 }); // the manifest is PUT
    // What b serves is the image, read back and verified.
    const back = fresh('back');
    await cliOk(['copy', `docker://${proxy.host}/team/b:v1`, back], { env: env(fresh('cache')) });
    expect(Layout.open(back).resolve({ tag: 'v1' }).digest).toBe(
      Layout.open(lay).resolve({ tag: 'v1' }).digest,
    );
  });

  it('a stale record (the blob deleted from a) falls back to uploading it; the push succeeds', async () => {
    const cache = fresh('cache');
    const lay = fresh('lay');
    await copy([`docker://${proxy.host}/team/a:v1`, lay], cache);
    // a loses one layer (distribution unlinks it from the repository): a mount from a is refused.
    const gone = blobs[1]!;
    const del = await fetch(`http://${registry.host}/v2/team/a/blobs/${gone}`, {
      method: 'DELETE',
    });
    expect(del.status).toBe(202);
    try {
      const pushed = await copy([`${lay}:v1`, `docker://${proxy.host}/team/c:v1`], cache);
      expect(mounts(pushed.requests, 'team/c')).toHaveLength(3); // all tried
      const up = uploads(pushed.requests, 'team/c');
      expect(up).toHaveLength(1);
      expect(decodeURIComponent(up[0]!)).toContain(`digest=${gone}`);
      expect(pushed.out.blobs).toMatchObject({ mounted: 2, copied: 2 });
      const back = fresh('back');
      await cliOk(['copy', `docker://${proxy.host}/team/c:v1`, back], {
        env: env(fresh('cache')),
      });
      expect(Layout.open(back).blobs.has(gone as never)).toBe(true);
    } finally {
      // Put it back for the other tests: a push of the image to a again.
      await cliOk(['copy', '--no-blob-cache', `${lay}:v1`, `docker://${proxy.host}/team/a:v1`], {
        env: env(fresh('cache')),
      });
    }
  });

  it('a corrupt record file is ignored (uploads) and replaced by a good one', async () => {
    const lay = fresh('lay');
    await cliOk(['copy', '--no-blob-cache', `docker://${proxy.host}/team/a:v1`, lay], {
      env: env(fresh('cache')),
    });
    const cache = fresh('cache');
    mkdirSync(join(cache, 'ocilayout'), { recursive: true });
    writeFileSync(join(cache, RECORD), '{"version":1,"blobs":{"sha256:');
    const pushed = await copy([`${lay}:v1`, `docker://${proxy.host}/team/d:v1`], cache);
    expect(mounts(pushed.requests, 'team/d')).toEqual([]);
    expect(uploads(pushed.requests, 'team/d')).toHaveLength(3);
    const record = JSON.parse(readFileSync(join(cache, RECORD), 'utf8')) as {
      blobs: Record<string, [string, string, number][]>;
    };
    for (const d of blobs)
      expect(record.blobs[d]?.[0]?.slice(0, 2)).toEqual([proxy.host, 'team/d']);
  });

  it('--no-blob-cache and OCILAYOUT_NO_BLOB_CACHE=1 neither read nor write the record', async () => {
    const cache = fresh('cache');
    const lay = fresh('lay');
    await copy(['--no-blob-cache', `docker://${proxy.host}/team/a:v1`, lay], cache);
    await copy([`docker://${proxy.host}/team/a:v1`, fresh('lay')], cache, {
      OCILAYOUT_NO_BLOB_CACHE: '1',
    });
    expect(existsSync(join(cache, RECORD))).toBe(false);
    // Now a record that knows a: the switches still upload.
    await copy([`docker://${proxy.host}/team/a:v1`, fresh('lay')], cache);
    expect(existsSync(join(cache, RECORD))).toBe(true);
    const flag = await copy(
      ['--no-blob-cache', `${lay}:v1`, `docker://${proxy.host}/team/e:v1`],
      cache,
    );
    expect(mounts(flag.requests, 'team/e')).toEqual([]);
    expect(uploads(flag.requests, 'team/e')).toHaveLength(3);
    const envOff = await copy([`${lay}:v1`, `docker://${proxy.host}/team/f:v1`], cache, {
      OCILAYOUT_NO_BLOB_CACHE: '1',
    });
    expect(mounts(envOff.requests, 'team/f')).toEqual([]);
    expect(uploads(envOff.requests, 'team/f')).toHaveLength(3);
    // And with it on, the same push mounts.
    const on = await copy([`${lay}:v1`, `docker://${proxy.host}/team/g:v1`], cache);
    expect(uploads(on.requests, 'team/g')).toEqual([]);
  });

  it('refuses nothing when the record is unwritable: the copy succeeds', async () => {
    const cache = fresh('cache');
    writeFileSync(cache, 'a file where the cache directory should be');
    const r = await runCli(['copy', '--json', `docker://${proxy.host}/team/a:v1`, fresh('lay')], {
      env: env(cache),
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toBe('');
  });
});
