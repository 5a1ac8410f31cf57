// A hauler store (testdata/hauler, reconstructed from hauler's source) through the built CLI: its
// images listed by name, its signatures discovered beside them and carried by copy (to a layout and
// to a registry), export/import round trips, `hauler store save` archives, fsck and gc.
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
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
/**
 * What of the v1 store a new image under its name leaves unreachable: the stale duplicate and the
 * signature (its image is a child of the v2 alpine index, and stays).
 */
const V1_OLD = ((): string[] => {
  const v1 = (
    JSON.parse(readFileSync(join(HAULER, 'expected.json'), 'utf8')) as Record<
      string,
      {
        names: Record<string, string>;
        stale: string;
        referrers: Record<string, Record<string, string[]>>;
      }
    >
  )['v1-store']!;
  const img = Object.values(v1.names)[0]!;
  return [v1.stale, ...Object.values(v1.referrers[img]!).flat()];
})();
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

interface Entry {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
  artifactType?: string;
}
const entries = (dir: string): Entry[] =>
  (JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: Entry[] }).manifests;
/** The identity of a manifest of the v2 fixture, and the entry hauler writes for it. */
const FIXTURE = entries(join(HAULER, 'v2-store'));
function haulerEntry(digest: string, kind: string, ref: string, full: string): Entry {
  const e = FIXTURE.find((f) => f.digest === digest)!;
  return {
    mediaType: e.mediaType,
    digest,
    size: e.size,
    annotations: {
      'io.containerd.image.name': full,
      kind,
      'org.opencontainers.image.ref.name': ref,
    },
  };
}
/** What hauler keeps beside the image under `ref`/`full`, with kinds of `prefix`. */
function besideImage(prefix: string, ref: string, full: string): Entry[] {
  const referrer = WITH_SUBJECT[0]!;
  return [
    haulerEntry(KINDS['sigs']![0]!, `${prefix}sigs`, ref, full),
    haulerEntry(KINDS['atts']![0]!, `${prefix}atts`, ref, full),
    haulerEntry(KINDS['sboms']![0]!, `${prefix}sboms`, ref, full),
    haulerEntry(referrer, `dev.hauler/referrers/${referrer.slice('sha256:'.length)}`, ref, full),
  ];
}

describe('writing into a hauler store', () => {
  // A plain layout holding alpine as `v1`, with its cosign tags and its OCI referrer.
  async function plainSource(): Promise<string> {
    const plain = join(tmpDir(), 'plain');
    await cliOk(['copy', '--referrers', `${store()}:${ALPINE}`, `${plain}:v1`]);
    return plain;
  }

  it('v2 store: the image, its signatures and its referrer are entries in hauler 2.x shape', async () => {
    const plain = await plainSource();
    const dir = store();
    const NAME = 'example.com/team/app:1.0';
    const r = await runCli(['copy', '--referrers', `${plain}:v1`, `${dir}:${NAME}`]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('1 referrer(s) via hauler-kind');
    expect(entries(dir)).toEqual([
      ...FIXTURE,
      haulerEntry(IMG, 'dev.hauler/imageIndex', 'team/app:1.0', NAME),
      ...besideImage('dev.hauler/', 'team/app:1.0', NAME),
    ]);
    expect((await cliOk(['tags', dir])).trim().split('\n')).toEqual(
      [...Object.keys(V2.names), NAME].sort(),
    );
    expect((await cliOk(['resolve', `${dir}:team/app:1.0`])).trim()).toBe(IMG);
    expect(await referrersOf(`${dir}:${NAME}`)).toEqual(ALL);
    expect(await referrersOf(`${dir}:${ALPINE}`)).toEqual(ALL);
    expect((await cliOk(['resolve', `${dir}:${cosignTag('sbom')}`])).trim()).toBe(
      KINDS['sboms']![0],
    );
    // The same referrers of the same image: counted once, as before the copy.
    const info = await cliOk(['info', dir]);
    expect(info).toContain('5 of 2 subject(s)');
    expect(info).toContain("4 only by hauler's kind");
    const f = await runCli(['fsck', dir]);
    expect(f.code).toBe(0);
    // Still a hauler 2.x store: no oci-layout was added (only `init` adds one).
    expect(existsSync(join(dir, 'oci-layout'))).toBe(false);
    expect(f.stdout + f.stderr).toContain('0 error(s), 1 warning(s)');
    expect(f.stdout + f.stderr).toContain('HAULER_STORE_NO_OCI_LAYOUT');
    // Copying it again changes nothing.
    const before = readFileSync(join(dir, 'index.json'));
    await cliOk(['copy', '--referrers', `${plain}:v1`, `${dir}:${NAME}`]);
    expect(readFileSync(join(dir, 'index.json'))).toEqual(before);
  });

  it("import into a v2 store: the archive's names, cosign tags and referrer in hauler's shape", async () => {
    const plain = await plainSource();
    const NAME = 'example.com/team/app:1.0';
    await cliOk(['tag', `${plain}:v1`, NAME]);
    await cliOk(['untag', `${plain}:v1`]);
    const tar = join(tmpDir(), 'app.tar');
    await cliOk(['export', '--referrers', plain, tar]);
    const dir = store();
    const r = await runCli(['import', tar, dir]);
    expect(r.code).toBe(0);
    expect(existsSync(join(dir, 'oci-layout'))).toBe(false);
    expect(r.stdout + r.stderr).toContain('referrers recorded as hauler-kind');
    expect(entries(dir)).toEqual([
      ...FIXTURE,
      haulerEntry(IMG, 'dev.hauler/imageIndex', 'team/app:1.0', NAME),
      ...besideImage('dev.hauler/', 'team/app:1.0', NAME),
    ]);
    expect(await referrersOf(`${dir}:${NAME}`)).toEqual(ALL);
  });

  it("v1 store: replacing the image writes 1.x's kinds and drops the old image's entries", async () => {
    const plain = await plainSource();
    const dir = join(tmpDir(), 'v1');
    cpSync(join(HAULER, 'v1-store'), dir, { recursive: true });
    const NAME = 'docker.io/library/alpine:3.19';
    await cliOk(['copy', '--referrers', `${plain}:v1`, `${dir}:${NAME}`]);
    // hauler's map keyed by name and kind: one image entry (the stale duplicate is gone), and the
    // old image's signature is not left to describe the new one.
    expect(entries(dir)).toEqual([
      haulerEntry(IMG, 'dev.cosignproject.cosign/imageIndex', 'library/alpine:3.19', NAME),
      ...besideImage('dev.cosignproject.cosign/', 'library/alpine:3.19', NAME),
    ]);
    expect(await referrersOf(`${dir}:${NAME}`)).toEqual(ALL);
    const old = V1_OLD;
    await cliOk(['gc', dir]);
    for (const d of old) expect(existsSync(join(dir, 'blobs', 'sha256', d.slice(7)))).toBe(false);
    const f = await runCli(['fsck', dir]);
    expect(f.code).toBe(0);
    expect(f.stdout + f.stderr).toContain('0 error(s), 0 warning(s)');
    // detach takes hauler's entries out, by digest or by cosign's tag.
    await cliOk(['detach', `${dir}@${WITH_SUBJECT[0]}`]);
    await cliOk(['detach', `${dir}:${cosignTag('sig')}`]);
    expect(await referrersOf(`${dir}:${NAME}`)).toEqual(
      [...KINDS['atts']!, ...KINDS['sboms']!].sort(),
    );
    expect(entries(dir)).toHaveLength(3);
  });

  it("attach files the referrer under the image's names; an explicit --convention is honoured", async () => {
    const dir = store();
    const BUSYBOX = 'index.docker.io/library/busybox:1.36';
    const file = join(tmpDir(), 'sbom.json');
    writeFileSync(file, '{"spdx":1}');
    const a = await runCli([
      'attach',
      `${dir}:${BUSYBOX}`,
      file,
      '--artifact-type',
      'application/spdx+json',
    ]);
    expect(a.code).toBe(0);
    expect(a.stderr).toContain('(hauler-kind)');
    const referrer = a.stdout.trim();
    const added = entries(dir).slice(FIXTURE.length);
    expect(added).toEqual([
      {
        mediaType: 'application/vnd.oci.image.manifest.v1+json',
        digest: referrer,
        size: added[0]!.size,
        annotations: {
          'io.containerd.image.name': BUSYBOX,
          kind: `dev.hauler/referrers/${referrer.slice(7)}`,
          'org.opencontainers.image.ref.name': 'library/busybox:1.36',
        },
      },
    ]);
    const busybox = V2.names[BUSYBOX]!;
    expect(await referrersOf(`${dir}:${BUSYBOX}`)).toEqual(
      [...V2.referrers[busybox]!['sigs']!, referrer].sort(),
    );
    const b = await runCli([
      'attach',
      '--convention',
      'per-manifest',
      `${dir}:${BUSYBOX}`,
      file,
      '--artifact-type',
      'application/x+json',
    ]);
    expect(b.stderr).toContain('(per-manifest)');
    expect(entries(dir).at(-1)!.annotations).toEqual({ 'io.containerd.manifest.subject': busybox });
  });

  it('an explicit --convention is honoured: fallback-tag bookkeeping, no referrers kind', async () => {
    const plain = await plainSource();
    const dir = store();
    const NAME = 'example.com/team/app:1.0';
    const r = await runCli([
      'copy',
      '--referrers',
      '--convention',
      'fallback-tag',
      `${plain}:v1`,
      `${dir}:${NAME}`,
    ]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain('1 referrer(s) via fallback-tag');
    const added = entries(dir).slice(FIXTURE.length);
    expect(added.slice(0, 4)).toEqual([
      haulerEntry(IMG, 'dev.hauler/imageIndex', 'team/app:1.0', NAME),
      ...besideImage('dev.hauler/', 'team/app:1.0', NAME).slice(0, 3),
    ]);
    expect(added).toHaveLength(5);
    expect(added[4]!.annotations).toEqual({
      'org.opencontainers.image.ref.name': IMG.replace(':', '-'),
    });
    expect(await referrersOf(`${dir}:${NAME}`)).toEqual(ALL);
  });

  it('a layout without hauler kinds is written as before: plain names, cosign tags, per-manifest', async () => {
    const plain = await plainSource();
    const dir = join(tmpDir(), 'out');
    const NAME = 'example.com/team/app:1.0';
    const r = await runCli(['copy', '--referrers', `${plain}:v1`, `${dir}:${NAME}`]);
    expect(r.stderr).toContain('1 referrer(s) via per-manifest');
    const written = entries(dir);
    expect(written.some((e) => e.annotations?.['kind'] !== undefined)).toBe(false);
    expect(written.map((e) => e.annotations?.['org.opencontainers.image.ref.name'])).toEqual([
      NAME,
      cosignTag('sig'),
      cosignTag('att'),
      cosignTag('sbom'),
      undefined,
    ]);
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

  it("pulls into a hauler store in hauler's shape", async () => {
    await cliOk([
      'copy',
      '--referrers',
      `${store()}:${ALPINE}`,
      `docker://${reg.host}/alpine:3.20`,
    ]);
    const dir = join(tmpDir(), 'v1');
    cpSync(join(HAULER, 'v1-store'), dir, { recursive: true });
    const NAME = `${reg.host}/library/alpine:3.20`;
    await cliOk(['copy', '--referrers', `docker://${reg.host}/alpine:3.20`, `${dir}:${NAME}`]);
    const ref = 'library/alpine:3.20';
    expect(entries(dir).slice(3)).toEqual([
      haulerEntry(IMG, 'dev.cosignproject.cosign/imageIndex', ref, NAME),
      ...besideImage('dev.cosignproject.cosign/', ref, NAME),
    ]);
    expect(await referrersOf(`${dir}:${NAME}`)).toEqual(ALL);
  }, 60_000);
});
