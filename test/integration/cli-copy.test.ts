// `ocilayout copy` through the built CLI: output, --json summary, exit codes, untouched destinations.
import { execFileSync, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  DEFAULT_FSCK_CHECKS,
  Layout,
  MediaType,
  attach,
  fsck,
  detectConventions,
  discoverReferrers,
  parseDigest,
  type Descriptor,
} from '../../src/internal.js';
import { hasRegistry, startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { CLI, runCli, runCliInTerminal } from '../helpers/run-cli.js';
import { runCliKilled, type TrialSignal } from '../helpers/crash.js';
import { layoutSnapshot } from '../helpers/snapshot.js';
import { tmpDir } from '../helpers/tmp.js';
import { makeFixture, type Fixture as RegistryFixture } from '../registry/fixture.js';

interface Fixture {
  dir: string;
  src: Layout;
  image: Descriptor;
  bigLayer: Descriptor;
}

/** A source layout with tag v1: a 2 MiB layer, a small layer, a config. */
async function fixture(): Promise<Fixture> {
  const dir = tmpDir();
  const src = Layout.init(join(dir, 'src')).layout;
  const put = (bytes: Buffer, mediaType: string): Descriptor => {
    const r = src.blobs.putBytes(bytes);
    return { mediaType, digest: r.digest, size: r.size };
  };
  const bigLayer = put(randomBytes(2 * 1024 * 1024), MediaType.LayerGzip);
  const config = put(Buffer.from('{"architecture":"amd64","os":"linux"}'), MediaType.ImageConfig);
  const manifest = {
    schemaVersion: 2,
    mediaType: MediaType.ImageManifest,
    config,
    layers: [bigLayer, put(randomBytes(300), MediaType.LayerGzip)],
  };
  const image = await src.putManifest(Buffer.from(JSON.stringify(manifest)), { tag: 'v1' });
  return { dir, src, image, bigLayer };
}

describe('ocilayout copy', () => {
  it('copies into a new layout, prints the digest, and the destination resolves the same tag', async () => {
    const { dir, image } = await fixture();
    const dst = join(dir, 'dst');

    const r = await runCli(['copy', join(dir, 'src:v1'), dst]);

    expect(r.code).toBe(0);
    expect(r.stdout).toBe(`${image.digest}\n`);
    expect(r.stderr).toContain('4 linked');
    const resolved = await runCli(['resolve', `${dst}:v1`]);
    expect(resolved.stdout).toContain(image.digest);
  });

  it('--json reports the descriptor, the destination tag and blobs/bytes by outcome', async () => {
    const { dir, image, bigLayer } = await fixture();
    const dst = join(dir, 'dst');

    const first = await runCli(['copy', '--json', '--no-link', join(dir, 'src:v1'), `${dst}:prod`]);
    const again = await runCli(['copy', '--json', join(dir, 'src:v1'), `${dst}:prod`]);

    expect(first.code).toBe(0);
    const summary = JSON.parse(first.stdout);
    expect(summary).toMatchObject({
      descriptor: { digest: image.digest, size: image.size, mediaType: MediaType.ImageManifest },
      tag: 'prod',
      destination: dst,
      blobs: { copied: 4, linked: 0, mounted: 0, skipped: 0 },
    });
    expect(summary.bytes.copied).toBeGreaterThan(bigLayer.size);
    expect(first.stderr).toBe('');
    expect(JSON.parse(again.stdout).blobs).toEqual({
      copied: 0,
      linked: 0,
      mounted: 0,
      skipped: 4,
    });
    const blob = (l: string): number =>
      statSync(join(l, 'blobs', 'sha256', parseDigest(bigLayer.digest).slice(7))).ino;
    expect(blob(dst)).not.toBe(blob(join(dir, 'src')));
  });

  it('a corrupt source blob exits 4 with E_DIGEST_MISMATCH and leaves index.json unchanged', async () => {
    const { dir, bigLayer } = await fixture();
    const path = join(dir, 'src', 'blobs', 'sha256', bigLayer.digest.slice(7));
    const bytes = readFileSync(path);
    bytes[1000] = bytes[1000]! ^ 1;
    writeFileSync(path, bytes);
    const dst = join(dir, 'dst');
    await runCli(['init', dst]);
    const before = readFileSync(join(dst, 'index.json'));

    const r = await runCli(['copy', '--json', join(dir, 'src:v1'), dst]);

    expect(r.code).toBe(4);
    expect(JSON.parse(r.stderr).error.code).toBe('E_DIGEST_MISMATCH');
    expect(r.stdout).toBe('');
    expect(readFileSync(join(dst, 'index.json')).equals(before)).toBe(true);
  });

  it('an unknown source tag exits 3 and creates no destination', async () => {
    const { dir } = await fixture();
    const r = await runCli(['copy', join(dir, 'src:nope'), join(dir, 'dst')]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('E_NOT_FOUND');
    expect(existsSync(join(dir, 'dst'))).toBe(false);
  });

  it.each([
    ['a URL that is no layout', ['s3://bucket/repo:v1', 'DST']],
    ['a digest destination', ['SRC:v1', `DST@sha256:${'a'.repeat(64)}`]],
    ['a bad concurrency', ['--concurrency', '0', 'SRC:v1', 'DST']],
  ])('%s is a usage error (exit 2), nothing written', async (_name, args) => {
    const { dir, src } = await fixture();
    const before = layoutSnapshot(src.root);
    const argv = args.map((a) =>
      a.replace(/^SRC/, join(dir, 'src')).replace(/^DST/, join(dir, 'dst')),
    );
    const r = await runCli(['copy', ...argv]);
    expect(r.code).toBe(2);
    expect(existsSync(join(dir, 'dst'))).toBe(false);
    expect(layoutSnapshot(src.root)).toEqual(before);
  });

  it.each([
    ['HOST:PORT/REPO:TAG', '127.0.0.1:5055/app:v1', 'docker://127.0.0.1:5055/app:v1'],
    ['docker-daemon:', 'docker-daemon:app:v1', 'docker save'],
  ])(
    'a missing %s destination is refused (exit 2) with the right form, nothing created',
    async (_name, destination, hint) => {
      const { dir } = await fixture();
      const cwd = tmpDir();
      const r = await runCli(['copy', join(dir, 'src:v1'), destination], { cwd });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain(hint);
      expect(readdirSync(cwd)).toEqual([]);
    },
  );

  it('takes skopeo oci:DIR:TAG and regctl ocidir://DIR:TAG as layouts', async () => {
    const { dir, image } = await fixture();
    const cwd = tmpDir();
    const first = await runCli(['copy', `oci:${join(dir, 'src')}:v1`, 'oci:a:v2'], { cwd });
    const second = await runCli(['copy', 'ocidir://a:v2', 'ocidir://b:v3'], { cwd });
    expect([first.code, second.code]).toEqual([0, 0]);
    expect(readdirSync(cwd).sort()).toEqual(['a', 'b']);
    expect(Layout.open(join(cwd, 'b')).resolve({ tag: 'v3' }).digest).toBe(image.digest);
  });

  it('--help names every endpoint form', async () => {
    const r = await runCli(['copy', '--help']);
    for (const form of [
      'oci:LAYOUT',
      'ocidir://LAYOUT',
      'docker://HOST/REPO',
      'LAYOUT@DIGEST',
      'oci-archive:FILE',
      'docker-archive:FILE',
    ])
      expect(r.stdout).toContain(form);
  });

  it('copies into and out of oci-archive files and pipes, the summary on stderr for -', async () => {
    const { dir, image } = await fixture();
    const tar = join(dir, 'app.tar');
    const json = await runCli(['--json', 'copy', join(dir, 'src:v1'), `oci-archive:${tar}:v2`]);
    expect(json.code).toBe(0);
    expect(JSON.parse(json.stdout)).toMatchObject({
      destination: `oci-archive:${tar}`,
      tag: 'v2',
      descriptor: { digest: image.digest },
    });
    // A pipe: copy to stdout, copy from stdin (no REF: the archive's only image).
    execFileSync('sh', [
      '-c',
      `"${process.execPath}" "${CLI}" copy "oci-archive:${tar}" oci-archive:- | "${process.execPath}" "${CLI}" copy oci-archive:- "${join(dir, 'out')}"`,
    ]);
    expect(Layout.open(join(dir, 'out')).resolve({ tag: 'v2' }).digest).toBe(image.digest);
    const piped = await runCli(['--json', 'copy', `oci-archive:${tar}`, 'oci-archive:-']);
    expect(piped.code).toBe(0);
    expect(piped.stdout.slice(0, 6)).toBe('blobs/');
    expect(JSON.parse(piped.stderr)).toMatchObject({ destination: 'oci-archive:-', tag: 'v2' });
    expect(readdirSync(dir).sort()).toEqual(['app.tar', 'out', 'src']);
  });

  it('refuses a tar to a terminal, and --password-stdin with an archive on stdin (exit 2)', async () => {
    const { dir } = await fixture();
    const tty = runCliInTerminal(['copy', join(dir, 'src:v1'), 'oci-archive:-']);
    expect(tty.code).toBe(2);
    expect(tty.output).toContain('refusing to write a tar archive to a terminal');
    const r = await runCli(
      ['copy', '--username', 'u', '--password-stdin', 'oci-archive:-', join(dir, 'dst')],
      { input: 'secret\n' },
    );
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('--password-stdin and an archive read from stdin');
    expect(readdirSync(dir)).toEqual(['src']);
  });

  it('an archive source of several images is refused (exit 2), listing them', async () => {
    const { dir } = await fixture();
    await Layout.open(join(dir, 'src')).tag({ tag: 'v1' }, ['v2']);
    const tar = join(dir, 'two.tar');
    expect((await runCli(['export', join(dir, 'src'), tar])).code).toBe(0);
    const r = await runCli(['copy', `oci-archive:${tar}`, join(dir, 'dst')]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('holds 2 entries (v1, v2)');
    expect(existsSync(join(dir, 'dst'))).toBe(false);
  });

  it('-n refuses (exit 7) to move the destination tag off other content, placing nothing', async () => {
    const { dir, image } = await fixture();
    const dst = join(dir, 'dst');
    writeFileSync(join(dir, 'site.txt'), 'a site\n');
    const site = (await runCli(['push', `${dst}:v1`, join(dir, 'site.txt')])).stdout.trim();
    const sig = [
      '--artifact-type',
      'application/vnd.example.sig',
      `${dst}:v1`,
      join(dir, 'site.txt'),
    ];
    expect((await runCli(['attach', ...sig])).code).toBe(0);
    const before = layoutSnapshot(dst);
    for (const flag of ['-n', '--no-clobber']) {
      const r = await runCli(['copy', flag, '--json', join(dir, 'src:v1'), dst]);
      expect(r.code).toBe(7);
      expect(JSON.parse(r.stderr).error.code).toBe('E_CONFLICT');
    }
    expect(layoutSnapshot(dst)).toEqual(before);
    const moved = await runCli(['copy', join(dir, 'src:v1'), dst]);
    expect(moved.code).toBe(0);
    expect(moved.stderr).toContain(`tag v1 moved off ${site}, which has 1 referrer`);
    expect(moved.stderr).toContain(`ocilayout discover ${dst}@${site}`);
    expect(Layout.open(dst).resolve({ tag: 'v1' }).digest).toBe(image.digest);
    // Into the same content again: no clobbering.
    expect((await runCli(['copy', '-n', join(dir, 'src:v1'), dst])).code).toBe(0);
  });

  it('refuses a destination directory that is not a layout (exit 7), leaving it as it was', async () => {
    const { dir } = await fixture();
    const dst = tmpDir();
    writeFileSync(join(dst, 'notes.txt'), 'mine');
    const r = await runCli(['copy', join(dir, 'src:v1'), dst]);
    expect(r.code).toBe(7);
    expect(r.stderr).toContain('E_CONFLICT');
    expect(layoutSnapshot(dst)).toEqual({
      'notes.txt': `4:${createHash('sha256').update('mine').digest('hex')}`,
    });
  });

  it('--referrers --convention copies signatures and records them as asked', async () => {
    const { dir, src, image } = await fixture();
    const sigFile = join(dir, 'sig.txt');
    writeFileSync(sigFile, 'signature');
    const sig = await attach(src, { tag: 'v1' }, [{ path: sigFile }], {
      artifactType: 'application/vnd.example.sig',
      convention: 'per-manifest',
    });
    const dst = join(dir, 'dst');

    const r = await runCli([
      'copy',
      '--json',
      '--referrers',
      '--convention',
      'subject-annotation',
      join(dir, 'src:v1'),
      dst,
    ]);

    expect(r.code).toBe(0);
    const summary = JSON.parse(r.stdout);
    expect(summary.referrers.map((d: Descriptor) => d.digest)).toEqual([sig.descriptor.digest]);
    expect(summary.conventions).toEqual(['subject-annotation']);
    const copied = Layout.open(dst);
    expect(detectConventions(copied)).toEqual(['subject-annotation']);
    expect(discoverReferrers(copied, image.digest).map((d) => d.digest)).toEqual([
      sig.descriptor.digest,
    ]);
  });

  it('--convention without --referrers is a usage error (exit 2)', async () => {
    const { dir } = await fixture();
    const r = await runCli([
      'copy',
      '--convention',
      'fallback-tag',
      join(dir, 'src:v1'),
      join(dir, 'd'),
    ]);
    expect(r.code).toBe(2);
    expect(existsSync(join(dir, 'd'))).toBe(false);
  });

  it('a copy SIGKILLed at random instants leaves a destination fsck accepts; a rerun completes it', async () => {
    const dir = tmpDir();
    const src = Layout.init(join(dir, 'src')).layout;
    const layers = Array.from({ length: 6 }, () => {
      const r = src.blobs.putBytes(randomBytes(3 * 1024 * 1024));
      return { mediaType: MediaType.LayerGzip, digest: r.digest, size: r.size };
    });
    const config = src.blobs.putBytes(Buffer.from('{"os":"linux","architecture":"amd64"}'));
    const manifest = {
      schemaVersion: 2,
      mediaType: MediaType.ImageManifest,
      layers,
      config: { mediaType: MediaType.ImageConfig, digest: config.digest, size: config.size },
    };
    const image = await src.putManifest(Buffer.from(JSON.stringify(manifest)), { tag: 'v1' });
    let dst = '';
    let killed = 0;
    for (let trial = 0; trial < 8; trial++) {
      dst = join(dir, `dst${trial}`);
      const child = spawn(process.execPath, [CLI, 'copy', '--no-link', join(dir, 'src:v1'), dst], {
        stdio: 'ignore',
      });
      let running = true;
      const exited = new Promise<void>((res) =>
        child.on('exit', () => {
          running = false;
          res();
        }),
      );
      // Kill while blobs are being placed or committed: after the destination appears.
      while (running && !existsSync(join(dst, 'index.json'))) {
        await new Promise((res) => setTimeout(res, 2));
      }
      await new Promise((res) => setTimeout(res, Math.floor(Math.random() * 150)));
      if (running && child.kill('SIGKILL')) killed += 1;
      await exited;
      if (!existsSync(join(dst, 'index.json'))) continue;
      const report = await fsck(dst, { checks: DEFAULT_FSCK_CHECKS });
      expect(report.findings.filter((f) => f.severity === 'error')).toEqual([]);
      const tags = Layout.open(dst).tags();
      expect(tags.length === 0 || tags.join() === 'v1').toBe(true);
    }
    expect(killed).toBeGreaterThan(0);

    const r = await runCli(['copy', '--no-link', join(dir, 'src:v1'), dst]);
    expect(r.code).toBe(0);
    expect(Layout.open(dst).resolve({ tag: 'v1' }).digest).toBe(image.digest);
    expect((await fsck(dst, { checks: DEFAULT_FSCK_CHECKS })).ok).toBe(true);
  });

  it('--help shows an example', async () => {
    const r = await runCli(['copy', '--help']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('Examples:');
    expect(r.stdout).toContain('--no-link');
  });
});

// The options mean the same for every pair (test/transfer/matrix.test.ts runs the library over all
// four): here the CLI cases layout → layout used to get wrong, and one --json shape.
describe('ocilayout copy: one contract for every endpoint pair', () => {
  let work: string;
  let f: RegistryFixture;
  let registry: RunningRegistry | undefined;
  const env = (): NodeJS.ProcessEnv => ({ DOCKER_CONFIG: join(work, 'no-docker-config') });

  beforeAll(async () => {
    // Shared by the tests below (tmpDir() would vanish after the first test).
    work = mkdtempSync(join(tmpdir(), 'ocilayout-cli-copy-'));
    f = await makeFixture(work, 'per-manifest', 50_000);
    const empty = f.layout.blobs.putBytes(Buffer.from('{}'));
    await f.layout.putManifest(
      Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MediaType.ImageManifest,
          config: { mediaType: MediaType.Empty, digest: empty.digest, size: empty.size },
          layers: [{ mediaType: MediaType.Empty, digest: empty.digest, size: empty.size }],
        }),
      ),
      { tag: `sha256-${f.index.digest.slice(7)}.sig` },
    );
    if (hasRegistry()) registry = await startRegistry();
  }, 60_000);
  afterAll(async () => {
    await registry?.stop();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('--platform keeps one platform of a layout index', async () => {
    const dst = join(work, 'arm');
    const r = await runCli([
      'copy',
      '--json',
      '--platform',
      'linux/arm64',
      `${f.layout.root}:v1`,
      dst,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.filteredFrom).toEqual({ digest: f.index.digest, platforms: ['linux/arm64'] });
    const copied = Layout.open(dst);
    const index = copied.readManifest(copied.resolve({ tag: 'v1' }));
    expect(index.kind === 'index' && index.doc.manifests.map((m) => m.digest)).toEqual([
      f.arm64.digest,
    ]);
    expect(copied.blobs.has(parseDigest(f.amd64.digest))).toBe(false);
  });

  it('--platform the index lacks exits 3 (E_NOT_FOUND) and creates no destination', async () => {
    const dst = join(work, 's390x');
    const r = await runCli(['copy', '--platform', 'linux/s390x', `${f.layout.root}:v1`, dst]);
    expect(r.code).toBe(3);
    expect(r.stderr).toContain('E_NOT_FOUND');
    expect(r.stderr).toContain('linux/amd64, linux/arm64');
    expect(existsSync(dst)).toBe(false);
  });

  it('a malformed --platform exits 2 (E_USAGE) and creates no destination', async () => {
    const dst = join(work, 'bad-platform');
    const r = await runCli(['copy', '--json', '--platform', 'linux', `${f.layout.root}:v1`, dst]);
    expect(r.code).toBe(2);
    expect(JSON.parse(r.stderr).error.code).toBe('E_USAGE');
    expect(existsSync(dst)).toBe(false);
  });

  it('--cosign-tags carries the sha256-<hex>.sig tag between layouts, with --referrers too', async () => {
    const dst = join(work, 'cosign');
    const r = await runCli([
      'copy',
      '--json',
      '--referrers',
      '--cosign-tags',
      `${f.layout.root}:v1`,
      dst,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const sigTag = `sha256-${f.index.digest.slice(7)}.sig`;
    expect(JSON.parse(r.stdout).cosignTags).toEqual([sigTag]);
    expect(Layout.open(dst).tags()).toEqual([sigTag, 'v1']);
  });

  it('carries cosign tags by default; --no-cosign-tags leaves them', async () => {
    const sigTag = `sha256-${f.index.digest.slice(7)}.sig`;
    const byDefault = join(work, 'cosign-default');
    const r = await runCli(['copy', '--json', `${f.layout.root}:v1`, byDefault]);
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).cosignTags).toEqual([sigTag]);
    expect(Layout.open(byDefault).tags()).toEqual([sigTag, 'v1']);
    const without = join(work, 'cosign-off');
    const off = await runCli([
      'copy',
      '--json',
      '--no-cosign-tags',
      `${f.layout.root}:v1`,
      without,
    ]);
    expect(off.code, off.stderr).toBe(0);
    expect(JSON.parse(off.stdout).cosignTags).toEqual([]);
    expect(Layout.open(without).tags()).toEqual(['v1']);
  });

  it.runIf(hasRegistry())(
    '--json prints the same keys for a layout and a registry destination',
    async () => {
      const toLayout = await runCli(['copy', '--json', `${f.layout.root}:v1`, join(work, 'json')], {
        env: env(),
      });
      const toRegistry = await runCli(
        ['copy', '--json', `${f.layout.root}:v1`, `docker://${registry!.host}/json`],
        { env: env() },
      );
      expect(toLayout.code, toLayout.stderr).toBe(0);
      expect(toRegistry.code, toRegistry.stderr).toBe(0);
      const keys = (out: string): string[] => Object.keys(JSON.parse(out)).sort();
      expect(keys(toLayout.stdout)).toEqual(keys(toRegistry.stdout));
      expect(Object.keys(JSON.parse(toLayout.stdout).blobs)).toEqual(
        Object.keys(JSON.parse(toRegistry.stdout).blobs),
      );
    },
  );
});

describe('ocilayout copy with archives, interrupted', () => {
  /** A source worth interrupting: four 8 MiB layers. */
  async function bigSource(dir: string): Promise<string> {
    const src = Layout.init(join(dir, 'src')).layout;
    const put = (bytes: Buffer, mediaType: string): Descriptor => {
      const r = src.blobs.putBytes(bytes);
      return { mediaType, digest: r.digest, size: r.size };
    };
    const layers = [0, 1, 2, 3].map(() => put(randomBytes(8 << 20), MediaType.LayerGzip));
    const config = put(Buffer.from('{"architecture":"amd64","os":"linux"}'), MediaType.ImageConfig);
    await src.putManifest(
      Buffer.from(
        JSON.stringify({ schemaVersion: 2, mediaType: MediaType.ImageManifest, config, layers }),
      ),
      { tag: 'v1' },
    );
    return src.root;
  }

  const ours = (dir: string): string[] =>
    readdirSync(dir).filter((n) => n.startsWith('.ocilayout-'));

  it('leaves the archive path absent or complete, and a caught signal leaves nothing of ours', async () => {
    const dir = tmpDir();
    const src = await bigSource(dir);
    const staging = mkdtempSync(join(tmpdir(), 'ocilayout-copy-staging-'));
    try {
      const reference = join(dir, 'reference.tar');
      const full = await runCliKilled([
        'copy',
        '--no-link',
        `${src}:v1`,
        `oci-archive:${reference}`,
      ]);
      expect(full.code, full.stderr).toBe(0);
      const expected = readFileSync(reference);
      // Reading back takes its own time: the kills of the reading runs are fractions of it.
      const fullBack = await runCliKilled(
        ['copy', `oci-archive:${reference}`, join(dir, 'back-full')],
        { env: { TMPDIR: staging } },
      );
      expect(fullBack.code, fullBack.stderr).toBe(0);
      const signals: TrialSignal[] = ['SIGINT', 'SIGTERM', 'SIGKILL'];
      const caught = { out: 0, back: 0 };
      for (const [i, fraction] of [0.2, 0.5, 0.8].entries()) {
        for (const signal of signals) {
          const out = join(dir, `out-${i}-${signal}.tar`);
          // A SIGKILLed trial may leave its own; each trial is judged by what it adds.
          const before = new Set([...ours(dir), ...readdirSync(staging)]);
          const added = (names: string[]): string[] => names.filter((n) => !before.has(n));
          const killAfterMs = Math.max(5, Math.round(full.elapsedMs * fraction));
          const r = await runCliKilled(['copy', '--no-link', `${src}:v1`, `oci-archive:${out}`], {
            signal,
            killAfterMs,
          });
          // Absent, or the complete archive, byte for byte: never a partial one under its name.
          if (existsSync(out)) expect(readFileSync(out).equals(expected)).toBe(true);
          if (signal !== 'SIGKILL' && r.interrupted) {
            caught.out++;
            expect(added(ours(dir)), `${signal} after ${killAfterMs} ms`).toEqual([]);
          }
          // Reading one back, interrupted: its staging layout goes with a caught signal.
          const backAfterMs = Math.max(5, Math.round(fullBack.elapsedMs * fraction));
          const back = await runCliKilled(
            ['copy', `oci-archive:${reference}`, join(dir, `back-${i}-${signal}`)],
            { signal, killAfterMs: backAfterMs, env: { TMPDIR: staging } },
          );
          if (signal !== 'SIGKILL' && back.interrupted) {
            caught.back++;
            expect(added(readdirSync(staging)), `${signal} after ${backAfterMs} ms`).toEqual([]);
          }
        }
      }
      // The checks above had interrupted runs to judge, both ways.
      expect(caught.out).toBeGreaterThan(0);
      expect(caught.back).toBeGreaterThan(0);
    } finally {
      rmSync(staging, { recursive: true, force: true });
    }
  }, 120_000);
});
