// Faults between the CLI and a registry: a docker-registry killed mid-push and mid-pull (retries,
// then a clean E_NETWORK; the destination layout unchanged), a connection dropped once mid-pull
// (retried and verified), an unreachable registry, a server that lies about a digest, a manifest
// over 4 MiB. A TCP proxy in front of the registry counts bytes and pulls the plug.
import { createServer, type Server } from 'node:http';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { digestOf, Layout, MediaType } from '../../src/internal.js';
import { jsonError } from '../helpers/cli-layout.js';
import {
  freePort,
  startFaultProxy,
  startRegistry,
  type FaultProxy,
  type RunningRegistry,
} from '../helpers/registry.js';
import { runCli } from '../helpers/run-cli.js';
import { layoutSnapshot } from '../helpers/snapshot.js';
import { tmpDir } from '../helpers/tmp.js';
import { requireTools } from '../helpers/tools.js';
import { makeFixture, type Fixture } from '../registry/fixture.js';

const HAVE = requireTools('docker-registry');
const LAYER = 6 * 1024 * 1024;

describe.runIf(HAVE)('registry faults', () => {
  let work: string;
  let f: Fixture;
  const env = (): NodeJS.ProcessEnv => ({ DOCKER_CONFIG: join(work, 'no-config') });
  const cleanup: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    work = mkdtempSync(join(tmpdir(), 'ocilayout-regfault-'));
    f = await makeFixture(work, 'fallback-tag', LAYER);
  });
  afterEach(async () => {
    for (const c of cleanup.splice(0).reverse()) await c();
  });
  afterAll(() => {
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  async function registryBehindProxy(
    onData: (
      dir: 'up' | 'down',
      total: number,
      proxy: FaultProxy,
      registry: RunningRegistry,
    ) => void,
  ): Promise<{ registry: RunningRegistry; proxy: FaultProxy }> {
    const registry = await startRegistry();
    const proxy = await startFaultProxy(registry.port, {
      onData: (d, t, p) => onData(d, t, p, registry),
    });
    cleanup.push(
      () => registry.stop(),
      () => proxy.close(),
    );
    return { registry, proxy };
  }

  it('registry killed mid-push: retries, then a clean E_NETWORK (exit 8)', async () => {
    let killed = false;
    const { proxy } = await registryBehindProxy((dir, total, p, registry) => {
      if (!killed && dir === 'up' && total > LAYER / 2) {
        killed = true;
        registry.kill();
        p.dropAll();
      }
    });
    const r = await runCli(
      ['copy', '--json', `${f.layout.root}:v1`, `docker://${proxy.host}/app`],
      { env: env() },
    );
    expect(killed).toBe(true);
    expect(r.code, r.stderr).toBe(8);
    const err = jsonError(r);
    expect(err.code).toBe('E_NETWORK');
    expect(err.message).toContain(proxy.host);
    expect(r.stderr).toMatch(/retry \d+\/\d+ in /);
  });

  it('registry killed mid-pull: E_NETWORK and the destination layout unchanged', async () => {
    let armed = false;
    let killed = false;
    const { proxy } = await registryBehindProxy((dir, total, p, registry) => {
      if (armed && !killed && dir === 'down' && total > LAYER / 2) {
        killed = true;
        registry.kill();
        p.dropAll();
      }
    });
    const push = await runCli(['copy', `${f.layout.root}:v1`, `docker://${proxy.host}/app`], {
      env: env(),
    });
    expect(push.code, push.stderr).toBe(0);
    const dest = Layout.init(join(tmpDir(), 'dest')).layout;
    dest.blobs.putBytes(Buffer.from('already here'));
    const before = layoutSnapshot(dest.root);
    armed = true;
    const downBefore = proxy.down;
    const r = await runCli(
      ['copy', '--json', '--concurrency', '1', `docker://${proxy.host}/app:v1`, dest.root],
      {
        env: env(),
      },
    );
    expect(killed, `downloaded ${proxy.down - downBefore}`).toBe(true);
    expect(r.code, r.stderr).toBe(8);
    expect(jsonError(r).code).toBe('E_NETWORK');
    expect(layoutSnapshot(dest.root)).toEqual(before);
  });

  it('a connection dropped once mid-pull is resumed and the blob verified', async () => {
    let dropped = 0;
    let armed = false;
    const { proxy } = await registryBehindProxy((dir, total, p) => {
      if (armed && dropped === 0 && dir === 'down' && total > LAYER / 2) {
        dropped++;
        p.dropAll();
      }
    });
    const push = await runCli(['copy', `${f.layout.root}:v1`, `docker://${proxy.host}/app`], {
      env: env(),
    });
    expect(push.code, push.stderr).toBe(0);
    armed = true;
    const dest = join(tmpDir(), 'dest');
    const r = await runCli(['copy', '--json', `docker://${proxy.host}/app:v1`, dest], {
      env: env(),
    });
    expect(dropped).toBe(1);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/retry/);
    const out = Layout.open(dest);
    for (const d of f.imageBlobs) {
      const a = out.blobs.readBytes(d as never, 64 << 20);
      expect(digestOf(a)).toBe(d);
    }
  });

  it('an unreachable registry: E_NETWORK, exit 8, nothing created', async () => {
    const port = await freePort();
    const dest = join(tmpDir(), 'never');
    const r = await runCli(['copy', '--json', `docker://127.0.0.1:${port}/app:v1`, dest], {
      env: env(),
    });
    expect(r.code).toBe(8);
    expect(jsonError(r).code).toBe('E_NETWORK');
    expect(jsonError(r).message).toContain(`127.0.0.1:${port}`);
    expect(existsSync(dest)).toBe(false);
  });

  describe('a lying or oversized server', () => {
    let server: Server | undefined;
    afterEach(async () => {
      if (server !== undefined) await new Promise((r) => server!.close(r));
      server = undefined;
    });

    async function serveManifest(body: Buffer, digest: string): Promise<string> {
      server = createServer((_req, res) => {
        res.writeHead(200, {
          'content-type': MediaType.ImageManifest,
          'docker-content-digest': digest,
        });
        res.end(body);
      });
      await new Promise<void>((r) => server!.listen(0, '127.0.0.1', r));
      return `127.0.0.1:${(server.address() as { port: number }).port}`;
    }

    it('a manifest that does not match Docker-Content-Digest: E_DIGEST_MISMATCH, exit 4, layout unchanged', async () => {
      const body = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.ImageManifest,
          config: { mediaType: MediaType.Empty, digest: digestOf('{}'), size: 2 },
          layers: [],
        }),
      );
      const host = await serveManifest(body, digestOf('other bytes'));
      const dest = Layout.init(join(tmpDir(), 'dest')).layout.root;
      const before = layoutSnapshot(dest);
      const r = await runCli(['copy', '--json', `docker://${host}/app:v1`, dest], { env: env() });
      expect(r.code).toBe(4);
      expect(jsonError(r).code).toBe('E_DIGEST_MISMATCH');
      expect(layoutSnapshot(dest)).toEqual(before);
    });

    it('a manifest over 4 MiB: E_TOO_LARGE, exit 6', async () => {
      const body = Buffer.alloc(4 * 1024 * 1024 + 10, 0x20);
      const host = await serveManifest(body, digestOf(body));
      const dest = Layout.init(join(tmpDir(), 'dest')).layout.root;
      const before = layoutSnapshot(dest);
      const r = await runCli(['copy', '--json', `docker://${host}/app:v1`, dest], { env: env() });
      expect(r.code).toBe(6);
      expect(jsonError(r).code).toBe('E_TOO_LARGE');
      expect(layoutSnapshot(dest)).toEqual(before);
    });
  });
});
