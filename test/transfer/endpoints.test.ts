// endpoints.ts on its own: what copyRefs decides before copying. Which endpoints it accepts, where
// credentials come from (and that explicit ones never go to two registries), the default source
// tag, and where a layout destination lands. The copy itself is copy.test.ts's (layouts) and
// copy-registry.test.ts's (registries).
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { Layout } from '../../src/layout/layout.js';
import { copyRefs, parseCopyEndpoint } from '../../src/transfer/endpoints.js';
import type { LoadedDockerConfig } from '../../src/registry/docker-config.js';
import { freePort } from '../helpers/registry.js';
import { startReferrersServer, type ReferrersServer } from '../helpers/referrers-server.js';
import { layoutSnapshot } from '../helpers/snapshot.js';
import { tmpDir } from '../helpers/tmp.js';
import { makeFixture } from '../registry/fixture.js';
import { fastRetry } from '../registry/helpers.js';

const NO_CONFIG: LoadedDockerConfig = {
  path: '/nonexistent/config.json',
  credentials: new Map(),
  helpers: new Map(),
};

let server: ReferrersServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

describe('parseCopyEndpoint', () => {
  const none = (): boolean => false;

  it.each([
    ['oci:DIR:TAG (skopeo)', 'oci:out/lay:v1', { layout: 'out/lay', tag: 'v1' }],
    ['oci:DIR', 'oci:lay', { layout: 'lay' }],
    ['ocidir://DIR:TAG (regctl)', 'ocidir://lay:v1', { layout: 'lay', tag: 'v1' }],
    ['ocidir:///abs/DIR', 'ocidir:///abs/lay', { layout: '/abs/lay' }],
    ['./HOST/REPO:TAG', './127.0.0.1:5055/app:v1', { layout: './127.0.0.1:5055/app', tag: 'v1' }],
    ['a dotted directory name without /', 'out.d:v1', { layout: 'out.d', tag: 'v1' }],
  ])('reads %s as a layout', (_name, input, expected) => {
    expect(parseCopyEndpoint(input, 'destination', none)).toEqual({ kind: 'layout', ...expected });
  });

  it('reads docker://HOST alone as a registry destination, and refuses it as a source', () => {
    expect(parseCopyEndpoint('docker://127.0.0.1:5000', 'destination', none)).toEqual({
      kind: 'registry-host',
      registry: '127.0.0.1:5000',
    });
    expect(() => parseCopyEndpoint('docker://127.0.0.1:5000', 'source', none)).toThrow(
      expect.objectContaining({ code: 'E_INVALID_REFERENCE' }),
    );
    // docker's reading of an image name is unchanged.
    expect(parseCopyEndpoint('docker://alpine:3', 'destination', none)).toMatchObject({
      kind: 'registry',
      ref: { registry: 'docker.io', repository: 'library/alpine', tag: '3' },
    });
  });

  it('reads an existing path as a layout, whatever it looks like', () => {
    const has = (p: string): boolean => ['oci', 'localhost:5000', 'reg.example/app'].includes(p);
    expect(parseCopyEndpoint('oci:v1', 'destination', has)).toEqual({
      kind: 'layout',
      layout: 'oci',
      tag: 'v1',
    });
    expect(parseCopyEndpoint('localhost:5000/app:v1', 'destination', has)).toMatchObject({
      layout: 'localhost:5000/app',
    });
    expect(parseCopyEndpoint('reg.example/app:v1', 'destination', has)).toMatchObject({
      layout: 'reg.example/app',
    });
  });

  it.each([
    ['HOST:PORT/REPO:TAG', '127.0.0.1:5055/app:v1', 'docker://127.0.0.1:5055/app:v1'],
    ['HOST.DOMAIN/REPO', 'reg.example/team/app', 'docker://reg.example/team/app'],
    ['localhost/REPO:TAG', 'localhost/app:v1', 'docker://localhost/app:v1'],
    ['docker: without //', 'docker:reg.example/app:v1', 'docker://reg.example/app:v1'],
    ['containers-storage:', 'containers-storage:app:v1', 'podman save'],
    ['docker-daemon:', 'docker-daemon:app:v1', 'docker save'],
    ['dir:', 'dir:out', 'not an OCI layout'],
    ['an unknown scheme://', 's3://bucket/x', 'ocidir://'],
  ])('refuses a missing %s with a hint (E_USAGE)', (_name, input, hint) => {
    let err: unknown;
    try {
      parseCopyEndpoint(input, 'destination', none);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'E_USAGE' });
    expect((err as { hint?: string }).hint).toContain(hint);
  });

  it.each([
    ['oci-archive:FILE', 'oci-archive:foo.tar', { format: 'oci', file: 'foo.tar' }],
    [
      'oci-archive:FILE:TAG',
      'oci-archive:out/foo.tar:v2',
      { format: 'oci', file: 'out/foo.tar', ref: 'v2' },
    ],
    ['oci-archive:-', 'oci-archive:-', { format: 'oci', file: '-' }],
    ['docker-archive:FILE', 'docker-archive:foo.tar', { format: 'docker', file: 'foo.tar' }],
    // skopeo splits at the first colon: the reference keeps its own (a registry port, a tag).
    [
      'docker-archive:FILE:HOST:PORT/NAME:TAG',
      'docker-archive:foo.tar:example.com:5000/app:v1',
      { format: 'docker', file: 'foo.tar', ref: 'example.com:5000/app:v1' },
    ],
  ])('reads %s as an archive, as source and destination', (_name, input, expected) => {
    for (const role of ['source', 'destination'] as const) {
      expect(parseCopyEndpoint(input, role, none)).toEqual({
        kind: 'archive',
        ref: undefined,
        ...expected,
      });
    }
  });

  it.each([
    ['no file', 'oci-archive:'],
    ['no file before the ref', 'oci-archive::v1'],
    ['an empty ref', 'docker-archive:foo.tar:'],
  ])('refuses an archive endpoint with %s (E_INVALID_REFERENCE)', (_name, input) => {
    expect(() => parseCopyEndpoint(input, 'source', none)).toThrow(
      expect.objectContaining({ code: 'E_INVALID_REFERENCE' }),
    );
  });

  it('an existing directory named like an archive endpoint stays a layout', () => {
    const has = (p: string): boolean => p === 'oci-archive';
    expect(parseCopyEndpoint('oci-archive:v1', 'source', has)).toEqual({
      kind: 'layout',
      layout: 'oci-archive',
      tag: 'v1',
    });
  });
});

describe('copyRefs', () => {
  describe('refuses before any request', () => {
    it.each([
      ['an endpoint that is neither a layout nor docker://', 's3://bucket/x', 'OTHER', 'E_USAGE'],
      [
        'a registry destination with a digest',
        'L:v1',
        `docker://H/app@sha256:${'a'.repeat(64)}`,
        'E_INVALID_REFERENCE',
      ],
      [
        'a layout destination with a digest',
        'docker://H/app:v1',
        `OTHER@sha256:${'a'.repeat(64)}`,
        'E_INVALID_REFERENCE',
      ],
    ])('%s', async (_name, source, destination, code) => {
      const f = await makeFixture(tmpDir(), 'fallback-tag', 10);
      const other = join(tmpDir(), 'other');
      const port = await freePort(); // nothing listens: any request would fail with E_NETWORK
      const sub = (s: string): string =>
        s.replace('L', f.layout.root).replace('OTHER', other).replace('H', `127.0.0.1:${port}`);
      const before = layoutSnapshot(f.layout.root);
      await expect(
        copyRefs(sub(source), sub(destination), { dockerConfig: NO_CONFIG, retry: fastRetry(1) }),
      ).rejects.toMatchObject({ code });
      expect(layoutSnapshot(f.layout.root)).toEqual(before);
      expect(existsSync(other)).toBe(false);
    });

    it('never sends explicit credentials to two registries', async () => {
      const [p1, p2] = [await freePort(), await freePort()];
      await expect(
        copyRefs(`docker://127.0.0.1:${p1}/a:v1`, `docker://127.0.0.1:${p2}/b`, {
          credentials: { kind: 'basic', username: 'u', password: 'p' },
          dockerConfig: NO_CONFIG,
          retry: fastRetry(1),
        }),
      ).rejects.toMatchObject({ code: 'E_USAGE' });
    });
  });

  describe('credentials', () => {
    it('uses the docker config entry for the registry, and names the config when refused', async () => {
      server = await startReferrersServer({
        auth: { kind: 'basic', username: 'u', password: 'p' },
      });
      const f = await makeFixture(tmpDir(), 'fallback-tag', 10);
      const config = (password: string): LoadedDockerConfig => ({
        ...NO_CONFIG,
        path: '/home/me/.docker/config.json',
        credentials: new Map([[server!.host, { kind: 'basic', username: 'u', password }]]),
      });
      const ok = await copyRefs(`${f.layout.root}:v1`, `docker://${server.host}/app`, {
        dockerConfig: config('p'),
        retry: fastRetry(2),
      });
      expect(ok.descriptor.digest).toBe(f.index.digest);
      const refused: unknown = await copyRefs(`${f.layout.root}:v1`, `docker://${server.host}/x`, {
        dockerConfig: config('wrong'),
        retry: fastRetry(2),
      }).catch((e: unknown) => e);
      expect(refused).toMatchObject({ code: 'E_UNAUTHORIZED' });
      expect((refused as Error).message).toContain('/home/me/.docker/config.json');
    });

    it('prefers explicit credentials to the config', async () => {
      server = await startReferrersServer({
        auth: { kind: 'basic', username: 'u', password: 'p' },
      });
      const f = await makeFixture(tmpDir(), 'fallback-tag', 10);
      const wrong: LoadedDockerConfig = {
        ...NO_CONFIG,
        credentials: new Map([[server.host, { kind: 'basic', username: 'u', password: 'no' }]]),
      };
      const r = await copyRefs(`${f.layout.root}:v1`, `docker://${server.host}/app`, {
        credentials: { kind: 'basic', username: 'u', password: 'p' },
        dockerConfig: wrong,
        retry: fastRetry(2),
      });
      expect(r.descriptor.digest).toBe(f.index.digest);
    });
  });

  describe('references', () => {
    it('reads :latest when a registry source names no tag, and creates a layout destination', async () => {
      server = await startReferrersServer();
      const f = await makeFixture(tmpDir(), 'fallback-tag', 10);
      await copyRefs(`${f.layout.root}:v1`, `docker://${server.host}/app:latest`, {
        dockerConfig: NO_CONFIG,
      });
      const dir = join(tmpDir(), 'made', 'here');
      const r = await copyRefs(`docker://${server.host}/app`, dir, { dockerConfig: NO_CONFIG });
      expect(r.destination).toBe(dir);
      expect(Layout.open(dir).resolve({ tag: 'latest' }).digest).toBe(f.index.digest);
    });

    it('tags a layout destination as asked', async () => {
      server = await startReferrersServer();
      const f = await makeFixture(tmpDir(), 'fallback-tag', 10);
      await copyRefs(`${f.layout.root}:v1`, `docker://${server.host}/app:v1`, {
        dockerConfig: NO_CONFIG,
      });
      const dir = join(tmpDir(), 'dst');
      await copyRefs(`docker://${server.host}/app:v1`, `${dir}:release`, {
        dockerConfig: NO_CONFIG,
      });
      expect(Layout.open(dir).tags()).toEqual(['release']);
    });
  });
});
