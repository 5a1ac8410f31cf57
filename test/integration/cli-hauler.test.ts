// A hauler store (testdata/hauler, reconstructed from hauler's source) through the built CLI: its
// images listed by name, its signatures discovered beside them and carried by copy (to a layout and
// to a registry), export/import round trips, `hauler store save` archives, fsck and gc.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { cliOk, runCli } from '../helpers/run-cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { requireTools } from '../helpers/tools.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const HAULER = join(ROOT, 'testdata', 'hauler');
const V2 = (
  JSON.parse(readFileSync(join(HAULER, 'expected.json'), 'utf8')) as Record<
    string,
    { names: Record<string, string>; referrers: Record<string, Record<string, string[]>> }
  >
)['v2-store']!;
const ALPINE = 'index.docker.io/library/alpine:3.20';
const IMG = V2.names[ALPINE]!;
const KINDS = V2.referrers[IMG]!;
const cosignTag = (k: string): string => `${IMG.replace(':', '-')}.${k}`;

function store(): string {
  const dir = join(tmpDir(), 'store');
  cpSync(join(HAULER, 'v2-store'), dir, { recursive: true });
  return dir;
}

async function referrersOf(ref: string): Promise<string[]> {
  const r = JSON.parse(await cliOk(['discover', '--json', ref])) as {
    manifests: { digest: string }[];
  };
  return r.manifests.map((d) => d.digest).sort();
}

const ALL = Object.values(KINDS).flat().sort();
const WITH_SUBJECT = KINDS['referrers']!;

describe('hauler stores through the CLI', () => {
  it('tags lists each image once by its full name; discover finds what hauler saved beside it', async () => {
    const dir = store();
    expect((await cliOk(['tags', dir])).trim().split('\n')).toEqual(Object.keys(V2.names).sort());
    expect(await referrersOf(`${dir}:${ALPINE}`)).toEqual(ALL);
    // hauler's own ref.name names the image too, not its SBOM (the last entry of that ref.name).
    expect((await cliOk(['resolve', `${dir}:library/alpine:3.20`])).trim()).toBe(IMG);
    expect(existsSync(join(dir, 'oci-layout'))).toBe(false);
  });

  it('fsck passes (one warning: no oci-layout) and gc removes nothing', async () => {
    const dir = store();
    const blobs = readdirSync(join(dir, 'blobs', 'sha256')).sort();
    const index = readFileSync(join(dir, 'index.json'));
    const f = await runCli(['fsck', dir]);
    expect(f.code).toBe(0);
    expect(f.stdout + f.stderr).toContain('HAULER_STORE_NO_OCI_LAYOUT');
    expect(f.stdout + f.stderr).toContain('0 error(s), 1 warning(s)');
    await cliOk(['gc', dir]);
    expect(readdirSync(join(dir, 'blobs', 'sha256')).sort()).toEqual(blobs);
    expect(readFileSync(join(dir, 'index.json'))).toEqual(index);
    await cliOk(['init', dir]);
    expect(existsSync(join(dir, 'oci-layout'))).toBe(true);
    const clean = await runCli(['fsck', dir]);
    expect(clean.code).toBe(0);
    expect(clean.stdout + clean.stderr).toContain('0 error(s), 0 warning(s)');
  });

  it('copy carries the signatures as cosign tags and the referrer as a referrer', async () => {
    const dir = store();
    const out = join(tmpDir(), 'out');
    await cliOk(['copy', '--referrers', `${dir}:${ALPINE}`, `${out}:${ALPINE}`]);
    const tags = (await cliOk(['tags', '--all', out])).trim().split('\n');
    expect(tags).toEqual(
      expect.arrayContaining([cosignTag('sig'), cosignTag('att'), cosignTag('sbom')]),
    );
    expect(await referrersOf(`${out}:${ALPINE}`)).toEqual(ALL);
    expect((await cliOk(['resolve', `${out}:${cosignTag('sig')}`])).trim()).toBe(KINDS['sigs']![0]);
    await cliOk(['fsck', out]);
  });

  it('export and import keep names and signatures', async () => {
    const dir = store();
    const tar = join(tmpDir(), 'x.tar');
    await cliOk(['export', dir, tar]);
    const far = join(tmpDir(), 'far');
    await cliOk(['import', tar, far]);
    expect((await cliOk(['tags', far])).trim().split('\n')).toEqual(Object.keys(V2.names).sort());
    expect(await referrersOf(`${far}:${ALPINE}`)).toEqual(ALL);
    const f = await runCli(['fsck', far]);
    expect(f.code).toBe(0);
    expect(f.stdout + f.stderr).toContain('0 error(s), 0 warning(s)');
    // One image by name: its signatures travel as cosign tags, its OCI referrer with --referrers.
    const one = join(tmpDir(), 'one.tar');
    await cliOk(['export', '--referrers', '--ref', ALPINE, dir, one]);
    const there = join(tmpDir(), 'one');
    await cliOk(['import', one, there]);
    expect(await referrersOf(`${there}:${ALPINE}`)).toEqual(ALL);
    expect((await cliOk(['tags', '--all', there])).trim().split('\n')).toEqual(
      [ALPINE, cosignTag('att'), cosignTag('sbom'), cosignTag('sig')].sort(),
    );
  });

  it.runIf(requireTools('zstd'))(
    'import reads a hauler store save haul.tar.zst as the OCI layout it is',
    async () => {
      const z = spawnSync('zstd', ['-dc', join(HAULER, 'haul.tar.zst')], {
        maxBuffer: 64 << 20,
      });
      expect(z.status).toBe(0);
      const dir = join(tmpDir(), 'loaded');
      const r = await runCli(['import', '-', dir], { input: z.stdout });
      expect(r.code).toBe(0);
      expect(r.stdout + r.stderr).toContain('(oci)');
      expect((await cliOk(['tags', dir])).trim().split('\n')).toEqual(Object.keys(V2.names).sort());
      expect(await referrersOf(`${dir}:${ALPINE}`)).toEqual(ALL);
      const busybox = V2.names['index.docker.io/library/busybox:1.36']!;
      expect(await referrersOf(`${dir}@${busybox}`)).toEqual(V2.referrers[busybox]!['sigs']);
    },
  );

  it('v1 store: names and signature as hauler 1.x left them', async () => {
    const dir = join(tmpDir(), 'v1');
    cpSync(join(HAULER, 'v1-store'), dir, { recursive: true });
    expect((await cliOk(['tags', dir])).trim()).toBe('docker.io/library/alpine:3.19');
    expect(await referrersOf(`${dir}:docker.io/library/alpine:3.19`)).toHaveLength(1);
    const f = await runCli(['fsck', dir]);
    expect(f.code).toBe(0);
    expect(f.stdout + f.stderr).toContain('0 error(s), 0 warning(s)');
  });
});

describe.runIf(requireTools('docker-registry'))('hauler store → registry', () => {
  let reg: RunningRegistry;
  beforeAll(async () => {
    reg = await startRegistry();
  }, 60_000);
  afterAll(async () => {
    await reg?.stop();
  });

  it('pushes the image with cosign signature tags and the OCI referrer, and pulls them back', async () => {
    const dir = store();
    await cliOk(['copy', '--referrers', `${dir}:${ALPINE}`, `docker://${reg.host}/alpine:3.20`]);
    const back = join(tmpDir(), 'back');
    await cliOk(['copy', '--referrers', `docker://${reg.host}/alpine:3.20`, `${back}:v1`]);
    expect(await referrersOf(`${back}:v1`)).toEqual(ALL);
    const tags = (await cliOk(['tags', '--all', back])).trim().split('\n');
    expect(tags).toEqual(
      expect.arrayContaining([cosignTag('sig'), cosignTag('att'), cosignTag('sbom')]),
    );
    expect(WITH_SUBJECT).toHaveLength(1);
    await cliOk(['fsck', back]);
  }, 60_000);
});
