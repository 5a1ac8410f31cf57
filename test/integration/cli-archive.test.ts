// The built CLI's export/import: files and pipes, summaries and --json, exit codes for bad
// archives, and the progress bar (only on a terminal). Build first: `npm run build`.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { zstdAvailable } from '../../src/archive/compression.js';
import { run } from '../../src/cli/main.js';
import type { Io } from '../../src/cli/io.js';
import { multiPlatformLayout } from '../helpers/make-layout.js';
import { layoutTar, makeTar, zstdBomb } from '../helpers/make-tar.js';
import { CLI, runCli } from '../helpers/run-cli.js';
import { layoutSnapshot } from '../helpers/snapshot.js';
import { tmpDir } from '../helpers/tmp.js';
import { requireTools } from '../helpers/tools.js';
import { copyOfPeer, peer, readJson } from '../archive/fixtures.js';
import { putImage, randomLayers } from '../archive/delta-helpers.js';
import { Annotation } from '../../src/media-types.js';
import type { Descriptor } from '../../src/schema/descriptor.js';

const indexOf = (dir: string): unknown =>
  (readJson(join(dir, 'index.json')) as { manifests: unknown }).manifests;

function jsonError(stderr: string): { code: string; message: string } {
  const line = stderr.trim().split('\n').at(-1) ?? '';
  return (JSON.parse(line) as { error: { code: string; message: string } }).error;
}

/** Run the CLI in-process with a fake terminal, to see what a user at a TTY sees. */
async function runWithTerminal(
  argv: string[],
  stdoutIsTTY = false,
): Promise<{ code: number; stderr: string; stdout: Buffer }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  Object.assign(stdout, { isTTY: stdoutIsTTY });
  const io: Io = { stdout, stderr, stdin: Readable.from([]), isTTY: true, env: {} };
  const code = await run(argv, io);
  return { code, stderr: Buffer.concat(err).toString(), stdout: Buffer.concat(out) };
}

describe('ocilayout export / import', () => {
  it('round-trips through a file, printing the archive path and a summary', async () => {
    const dir = tmpDir();
    const tarPath = join(dir, 'out.tar');
    const exp = await runCli([
      'export',
      peer('umoci-multitag'),
      tarPath,
      '--ref',
      'v1',
      '--ref',
      'v2',
    ]);
    expect(exp.code).toBe(0);
    expect(exp.stdout.trim()).toBe(tarPath);
    expect(exp.stderr).toContain('exported 2 entries');
    expect(exp.stderr).not.toContain('\r'); // no progress bar when stderr is a pipe
    const imp = await runCli(['import', tarPath, join(dir, 'copy')]);
    expect(imp.code).toBe(0);
    expect(imp.stdout).toContain('v1 sha256:');
    expect(imp.stderr).toMatch(/imported .* \(oci\) into .*: 2 added/);
    expect((indexOf(join(dir, 'copy')) as unknown[]).length).toBe(2);
  });

  it('export --gzip says once how much was compressed already; --gzip-level is checked', async () => {
    const dir = tmpDir();
    const layer = Buffer.alloc(2 * 1024 * 1024);
    layer.set([0x1f, 0x8b, 0x08, 0x00]); // starts as gzip does: stored, not deflated again
    writeFileSync(join(dir, 'a.tar.gz'), layer);
    writeFileSync(join(dir, 'b.tar.gz'), layer.subarray(0, 1024 * 1024));
    const layout = join(dir, 'layout');
    const gz = 'application/vnd.oci.image.layer.v1.tar+gzip';
    const push = await runCli([
      'push',
      `${layout}:v1`,
      `${join(dir, 'a.tar.gz')}:${gz}`,
      `${join(dir, 'b.tar.gz')}:${gz}`,
    ]);
    expect(push.code, push.stderr).toBe(0);
    const r = await runCli(['export', layout, join(dir, 'x.tar.gz'), '--gzip']);
    expect(r.code, r.stderr).toBe(0);
    const notes = r.stderr.split('\n').filter((l) => l.includes('compressed already'));
    expect(notes).toEqual([
      '2 blobs (3.0 MiB) were compressed already: stored in the gzip stream as they are, not compressed again',
    ]);
    const json = await runCli(['--json', 'export', layout, join(dir, 'y.tar.gz'), '--gzip']);
    expect(json.stderr).toBe('');
    expect(JSON.parse(json.stdout)).toMatchObject({
      precompressed: { blobs: 2, bytes: 3 * 1024 * 1024 },
    });
    for (const args of [
      ['--gzip', '--gzip-level', '0'],
      ['--gzip', '--gzip-level', '10'],
      ['--gzip-level', '9'],
    ]) {
      const bad = await runCli(['export', layout, join(dir, 'z.tar.gz'), ...args]);
      expect(bad.code, args.join(' ')).toBe(2);
      expect(bad.stderr).toMatch(/--gzip-level/);
      expect(existsSync(join(dir, 'z.tar.gz'))).toBe(false);
    }
    const nine = await runCli([
      'export',
      layout,
      join(dir, 'z.tar.gz'),
      '--gzip',
      '--gzip-level',
      '9',
    ]);
    expect(nine.code, nine.stderr).toBe(0);
  });

  it('pipes: export - | import - (gzip), byte-identical to the file export', () => {
    const dir = tmpDir();
    const src = peer('regctl-style');
    execFileSync('sh', [
      '-c',
      `"${process.execPath}" "${CLI}" export "${src}" - --gzip | "${process.execPath}" "${CLI}" import - "${join(dir, 'copy')}"`,
    ]);
    expect(indexOf(join(dir, 'copy'))).toEqual(indexOf(src));
    const a = execFileSync(process.execPath, [CLI, 'export', src, '-', '-q']);
    execFileSync(process.execPath, [CLI, 'export', src, join(dir, 'f.tar')]);
    expect(a.equals(readFileSync(join(dir, 'f.tar')))).toBe(true);
  });

  it('--json: results on stdout; with `-` the result goes to stderr and stdout is the tar', async () => {
    const dir = tmpDir();
    const exp = await runCli(['--json', 'export', peer('umoci-image'), join(dir, 'a.tar')]);
    expect(JSON.parse(exp.stdout)).toMatchObject({ format: 'oci', blobs: 4 });
    const imp = await runCli(['--json', 'import', join(dir, 'a.tar'), join(dir, 'l')]);
    expect(JSON.parse(imp.stdout)).toMatchObject({ format: 'oci', blobs: { total: 4, added: 4 } });
    const piped = await runWithTerminal(['--json', 'export', peer('umoci-image'), '-']);
    expect(piped.code).toBe(0);
    expect(piped.stdout.subarray(0, 6).toString()).toBe('blobs/');
    expect(JSON.parse(piped.stderr)).toMatchObject({ format: 'oci' });
  });

  it.each([
    ['a path traversal', () => makeTar([{ name: '../evil', body: 'x' }]), 6, 'E_UNSAFE_ENTRY'],
    [
      'a truncated archive',
      () => layoutTar(peer('umoci-multitag')).subarray(0, 3000),
      4,
      'E_CORRUPT_ARCHIVE',
    ],
    ['a conflicting tag', () => layoutTar(peer('umoci-multitag')), 7, 'E_CONFLICT'],
  ])('refuses %s with its exit code, layout unchanged', async (_what, bytes, exit, code) => {
    const target = copyOfPeer('umoci-image');
    const file = join(tmpDir(), 'bad.tar');
    writeFileSync(file, bytes());
    const before = layoutSnapshot(target);
    const r = await runCli(['--json', 'import', file, target]);
    expect({ exit: r.code, code: jsonError(r.stderr).code }).toEqual({ exit, code });
    expect(r.stdout).toBe('');
    expect(layoutSnapshot(target)).toEqual(before);
  });

  it("carries cosign's signature tags of what it exports (--no-cosign-tags: not), which import keeps", async () => {
    const fx = (
      JSON.parse(
        readFileSync(new URL('../../testdata/cosign/expected.json', import.meta.url), 'utf8'),
      ) as Record<string, { tags: Record<string, unknown> }>
    )['multi-platform']!;
    const src = new URL('../../testdata/cosign/multi-platform', import.meta.url).pathname;
    const dir = tmpDir();
    const tags = (layout: string): string[] =>
      (indexOf(layout) as { annotations?: Record<string, string> }[])
        .map((e) => e.annotations?.['org.opencontainers.image.ref.name'] ?? '')
        .sort();
    for (const [name, extra, expected] of [
      ['with', [], [...Object.keys(fx.tags), 'v1'].sort()],
      ['without', ['--no-cosign-tags'], ['v1']],
    ] as const) {
      const tarPath = join(dir, `${name}.tar`);
      const exp = await runCli(['export', src, tarPath, '--ref', 'v1', ...extra]);
      expect(exp.code, exp.stderr).toBe(0);
      const imp = await runCli(['import', tarPath, join(dir, name)]);
      expect(imp.code, imp.stderr).toBe(0);
      expect(tags(join(dir, name))).toEqual(expected);
      const fsck = await runCli(['fsck', join(dir, name)]);
      expect(fsck.stdout + fsck.stderr).toContain('0 error(s), 0 warning(s)');
    }
  });

  it('--on-conflict skip|overwrite', async () => {
    const file = join(tmpDir(), 'multi.tar');
    writeFileSync(file, layoutTar(peer('umoci-multitag')));
    const a = copyOfPeer('umoci-image');
    const skip = await runCli(['import', file, a, '--on-conflict', 'skip']);
    expect(skip.code).toBe(0);
    expect(skip.stderr).toContain('1 conflicting name(s) skipped (latest)');
    // The skipped entry is not shown as imported.
    expect(skip.stdout).toMatch(/^latest sha256:\w+ skipped: name taken, image listed untagged$/m);
    const b = copyOfPeer('umoci-image');
    const over = await runCli(['import', file, b, '--on-conflict', 'overwrite']);
    expect(over.stderr).toContain('1 name(s) overwritten');
  });

  it('--on-conflict skip lists an image whose only name was taken untagged, so gc keeps it', async () => {
    // An archive whose one image is named `latest`, which the target uses for other content.
    const src = copyOfPeer('umoci-multitag');
    const incoming = (indexOf(src) as Descriptor[]).find(
      (e) => e.annotations?.[Annotation.RefName] === 'latest',
    )!;
    writeFileSync(
      join(src, 'index.json'),
      JSON.stringify({ schemaVersion: 2, manifests: [incoming] }),
    );
    const file = join(tmpDir(), 'one.tar');
    writeFileSync(file, layoutTar(src));
    const a = copyOfPeer('umoci-image');
    expect((indexOf(a) as Descriptor[]).some((e) => e.digest === incoming.digest)).toBe(false);
    const skip = await runCli(['import', file, a, '--on-conflict', 'skip']);
    expect(skip.code).toBe(0);
    expect(skip.stderr).toContain('their images are listed untagged');
    expect(
      (indexOf(a) as Descriptor[]).some(
        (e) => e.digest === incoming.digest && e.annotations === undefined,
      ),
    ).toBe(true);
    expect((await runCli(['gc', a])).code).toBe(0);
    const kept = await runCli(['resolve', `${a}@${incoming.digest}`]);
    expect(kept).toMatchObject({ code: 0, stdout: `${incoming.digest}\n` });
  });

  it('imports repositories sharing a tag as separate names; LAYOUT:FULL/NAME:TAG addresses one', async () => {
    // What `ctr images export a:latest b:latest` writes: one bare ref.name for both.
    const src = copyOfPeer('umoci-multitag');
    const stored = indexOf(src) as Descriptor[];
    const [one, two] = [stored[0]!, stored.find((e) => e.digest !== stored[0]!.digest)!];
    const ctrStyle = (e: Descriptor, name: string): Descriptor => ({
      ...e,
      annotations: { [Annotation.ContainerdImageName]: name, [Annotation.RefName]: 'latest' },
    });
    writeFileSync(
      join(src, 'index.json'),
      JSON.stringify({
        schemaVersion: 2,
        manifests: [
          ctrStyle(one, 'docker.io/library/alpha:latest'),
          ctrStyle(two, 'example.com/team/beta:latest'),
        ],
      }),
    );
    const file = join(tmpDir(), 'two.tar');
    writeFileSync(file, layoutTar(src));
    const target = join(tmpDir(), 'NEW');
    const imp = await runCli(['import', file, target]);
    expect(imp.code).toBe(0);
    expect(imp.stderr).toContain('2 added, 0 already present');
    const tags = await runCli(['tags', target]);
    expect(tags.stdout).toBe('docker.io/library/alpha:latest\nexample.com/team/beta:latest\n');
    const beta = await runCli(['resolve', `${target}:example.com/team/beta:latest`]);
    expect(beta).toMatchObject({ code: 0, stdout: `${two.digest}\n` });
    const ambiguous = await runCli(['resolve', `${target}:latest`]);
    expect(ambiguous.code).toBe(2);
    expect(ambiguous.stderr).toContain('tag latest is ambiguous');
    // A docker export keeps both names (it used to name one image after the directory).
    const out = join(tmpDir(), 'd.tar');
    const exp = await runCli(['export', target, out, '--format', 'docker']);
    expect(exp.stderr).toContain('exported 2 entries');
    const manifest = JSON.parse(
      execFileSync('tar', ['-xOf', out, 'manifest.json'], { encoding: 'utf8' }),
    ) as { RepoTags: string[] }[];
    expect(manifest.flatMap((m) => m.RepoTags).sort()).toEqual([
      'docker.io/library/alpha:latest',
      'example.com/team/beta:latest',
    ]);
  });

  it("a docker export of containerd's digest-only name lists the image untagged, with a warning", async () => {
    const src = copyOfPeer('umoci-multitag');
    const d = 'sha256:759431f268db4566be0168dfa99963818ccf3858ff70891464a79cd926e497f1';
    const name = `reg.example/app@${d}`;
    const named = join(tmpDir(), 'L2');
    expect((await runCli(['copy', `${src}:v1`, `${named}:${name}`])).code).toBe(0);
    const out = join(tmpDir(), 'd.tar');
    const exp = await runCli(['export', named, out, '--format', 'docker', '--ref', name]);
    expect(exp.code).toBe(0);
    expect(exp.stderr).toContain(`${name} names its image by digest only`);
    // docker load accepts only NAME:TAG in RepoTags, and reads `repositories` as REPO → TAG.
    const file = (f: string): unknown =>
      JSON.parse(execFileSync('tar', ['-xOf', out, f], { encoding: 'utf8' }));
    expect((file('manifest.json') as { RepoTags: string[] }[]).map((m) => m.RepoTags)).toEqual([
      [],
    ]);
    expect(file('repositories')).toEqual({});
  });

  it('exit codes: missing layout 3, docker export of an artifact 4, bad --format 2', async () => {
    const dir = tmpDir();
    expect((await runCli(['export', join(dir, 'nope'), join(dir, 'x.tar')])).code).toBe(3);
    const oras = copyOfPeer('oras-style');
    const artifact = 'sha256:ebe2a4b108f569effe7d040e777bc9abace8c1d35c826801be064adc510c0567';
    const r = await runCli([
      '--json',
      'export',
      oras,
      join(dir, 'd.tar'),
      '--format',
      'docker',
      '--ref',
      artifact,
    ]);
    expect({ exit: r.code, code: jsonError(r.stderr).code }).toEqual({
      exit: 4,
      code: 'E_UNSUPPORTED_MEDIA_TYPE',
    });
    expect((await runCli(['export', oras, join(dir, 'x.tar'), '--format', 'zip'])).code).toBe(2);
  });

  it('draws a progress bar on a terminal, and none with --no-progress or --json', async () => {
    const dir = tmpDir();
    const withBar = await runWithTerminal(['export', peer('umoci-multitag'), join(dir, 'a.tar')]);
    expect(withBar.code).toBe(0);
    expect(withBar.stderr).toMatch(/\rexport \[[#.]+\] +\d+% [\d.]+ (B|KiB) \/ [\d.]+ KiB/);
    expect(withBar.stderr).not.toContain('ETA'); // done in well under the time an ETA needs
    const noBar = await runWithTerminal([
      'export',
      '--no-progress',
      peer('umoci-multitag'),
      join(dir, 'b.tar'),
    ]);
    expect(noBar.stderr).not.toContain('\r');
    const json = await runWithTerminal(['--json', 'import', join(dir, 'a.tar'), join(dir, 'l')]);
    expect(json.stderr).not.toContain('\r');
  });

  it('refuses to write a tar to a terminal', async () => {
    const r = await runWithTerminal(['export', peer('umoci-image'), '-'], true);
    expect(r.code).toBe(2);
    expect(r.stdout.length).toBe(0);
  });

  it('says export takes LAYOUT and --ref when given LAYOUT:TAG (exit 2, no init hint)', async () => {
    const dir = tmpDir();
    const lay = join(dir, 'lay');
    cpSync(peer('umoci-multitag'), lay, { recursive: true });
    const tar = join(dir, 'x.tar');
    const r = await runCli(['export', `${lay}:v1`, tar]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain(
      `export takes a LAYOUT directory and --ref TAG, not the reference ${lay}:v1`,
    );
    expect(r.stderr).toContain(`hint: ocilayout export ${lay} ${tar} --ref v1`);
    expect(r.stderr).not.toContain('ocilayout init');
    expect(existsSync(tar)).toBe(false);
    // The suggested command works.
    expect((await runCli(['export', lay, tar, '--ref', 'v1'])).code).toBe(0);
  });

  it('names --platform and the platforms when a docker export meets a multi-platform index', async () => {
    const src = multiPlatformLayout();
    const r = await runCli(['export', src.root, join(tmpDir(), 'd.tar'), '--format', 'docker']);
    expect(r.code).toBe(2);
    const first = r.stderr.split('\n')[0]!;
    expect(first).toContain('multi-platform index (linux/amd64, linux/arm64, linux/arm/v7)');
    expect(first).toContain('--platform');
    expect(r.stderr).toContain('hint: e.g. --platform linux/amd64');
  });

  it('documents itself with examples', async () => {
    for (const cmd of ['export', 'import']) {
      const r = await runCli([cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain('Examples:');
    }
  });
});

// zstd archives: read and written where the runtime's zlib has zstd (Node 22.15+), a usage error
// naming the version needed elsewhere. CI runs this file on Node 20 (the refusal) and on 22 and 24
// (the round trip); the unit suite checks that the runtime's zstd matches its version. The archives
// from "other tools" are made by the zstd command line tool (Debian's zstd package).
describe('ocilayout export --zstd / import of .tar.zst', () => {
  const TOOL = requireTools('zstd');
  const ZSTD_MAGIC = Buffer.from([0x28, 0xb5, 0x2f, 0xfd]);
  const sh = (script: string): Buffer => execFileSync('sh', ['-c', script]);
  const cli = `"${process.execPath}" "${CLI}"`;

  it.runIf(zstdAvailable() && TOOL)(
    'export --zstd: `zstd -d` gives our plain tar back, and import reads it (file and stdin)',
    async () => {
      const dir = tmpDir();
      const src = peer('umoci-multitag');
      const packed = join(dir, 'bundle.tar.zst');
      const exp = await runCli(['export', src, packed, '--zstd']);
      expect(exp.code).toBe(0);
      expect(exp.stderr).toContain('as oci+zstd');
      expect(readFileSync(packed).subarray(0, 4)).toEqual(ZSTD_MAGIC);
      expect((await runCli(['export', src, join(dir, 'plain.tar')])).code).toBe(0);
      const unpacked = sh(`zstd -d -q -c "${packed}"`);
      expect(unpacked.equals(readFileSync(join(dir, 'plain.tar')))).toBe(true);

      const imp = await runCli(['import', packed, join(dir, 'a')]);
      expect(imp.code).toBe(0);
      expect(imp.stderr).toMatch(/imported .* \(oci, zstd\) into .*: 5 added/);
      expect(indexOf(join(dir, 'a'))).toEqual(indexOf(src));
      sh(`${cli} export "${src}" - --zstd | ${cli} import - "${join(dir, 'b')}"`);
      expect(indexOf(join(dir, 'b'))).toEqual(indexOf(src));
    },
  );

  it.runIf(zstdAvailable() && TOOL)(
    'imports archives the zstd tool made (-T0 -19, on stdin, in two frames)',
    async () => {
      const dir = tmpDir();
      const src = peer('regctl-style');
      const plain = join(dir, 'plain.tar');
      writeFileSync(plain, layoutTar(src));
      sh(`zstd -q -T0 -19 "${plain}" -o "${join(dir, 'made.tar.zst')}"`);
      const r = await runCli(['--json', 'import', join(dir, 'made.tar.zst'), join(dir, 'a')]);
      expect(r.code).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ compression: 'zstd', format: 'oci' });
      expect(indexOf(join(dir, 'a'))).toEqual(indexOf(src));
      sh(`zstd -q -c "${plain}" | ${cli} import - "${join(dir, 'b')}"`);
      expect(indexOf(join(dir, 'b'))).toEqual(indexOf(src));
      // Two frames (as pzstd or `cat a.zst b.zst` make), split inside an entry.
      const bytes = readFileSync(plain);
      writeFileSync(join(dir, 'head'), bytes.subarray(0, 3000));
      writeFileSync(join(dir, 'tail'), bytes.subarray(3000));
      sh(`cd "${dir}" && zstd -q head tail && cat head.zst tail.zst > two.tar.zst`);
      const two = await runCli(['import', join(dir, 'two.tar.zst'), join(dir, 'c')]);
      expect(two.code).toBe(0);
      expect(indexOf(join(dir, 'c'))).toEqual(indexOf(src));
    },
  );

  it.runIf(zstdAvailable() && TOOL)(
    'the gzip limits hold for zstd: a bomb (exit 6) and --max-size (exit 6), layout unchanged',
    async () => {
      const dir = tmpDir();
      const target = copyOfPeer('umoci-image');
      const before = layoutSnapshot(target);
      const bomb = join(dir, 'bomb.tar.zst');
      const name = `blobs/sha256/${'0'.repeat(64)}`;
      writeFileSync(bomb, zstdBomb(name, 256 * 1024 * 1024, 256));
      const a = await runCli(['--json', 'import', bomb, target]);
      expect({ exit: a.code, code: jsonError(a.stderr).code }).toEqual({
        exit: 6,
        code: 'E_TOO_LARGE',
      });
      expect(jsonError(a.stderr).message).toContain('zstd archive inflates more than 100:1');
      const packed = join(dir, 'x.tar.zst');
      writeFileSync(join(dir, 'x.tar'), layoutTar(peer('umoci-multitag')));
      sh(`zstd -q "${join(dir, 'x.tar')}" -o "${packed}"`);
      const b = await runCli(['--json', 'import', packed, target, '--max-size', '4K']);
      expect({ exit: b.code, code: jsonError(b.stderr).code }).toEqual({
        exit: 6,
        code: 'E_TOO_LARGE',
      });
      expect(layoutSnapshot(target)).toEqual(before);
    },
  );

  it.runIf(zstdAvailable() && TOOL)(
    'a frame with a window over 128 MiB (zstd --long=28) is refused with a hint (exit 4)',
    async () => {
      const dir = tmpDir();
      const file = join(dir, 'long.tar.zst');
      sh(`head -c 1048576 /dev/zero | zstd -q --long=28 -c > "${file}"`);
      const r = await runCli(['--json', 'import', file, join(dir, 'l')]);
      expect({ exit: r.code, code: jsonError(r.stderr).code }).toEqual({
        exit: 4,
        code: 'E_CORRUPT_ARCHIVE',
      });
      const error = JSON.parse(r.stderr.trim().split('\n').at(-1)!) as { error: { hint: string } };
      expect(error.error.hint).toContain('zstd -d --long=31');
      expect(existsSync(join(dir, 'l'))).toBe(false);
    },
  );

  it.runIf(!zstdAvailable() && TOOL)(
    'on a runtime without zstd: export --zstd and import of a zstd archive are usage errors (exit 2)',
    async () => {
      const dir = tmpDir();
      const out = join(dir, 'bundle.tar.zst');
      const exp = await runCli(['--json', 'export', peer('umoci-image'), out, '--zstd']);
      expect({ exit: exp.code, code: jsonError(exp.stderr).code }).toEqual({
        exit: 2,
        code: 'E_USAGE',
      });
      expect(jsonError(exp.stderr).message).toContain(
        `export --zstd needs Node.js 22.15 or later (zstd in zlib); this is Node.js ${process.version}`,
      );
      expect(existsSync(out)).toBe(false);

      writeFileSync(join(dir, 'x.tar'), layoutTar(peer('umoci-image')));
      sh(`zstd -q "${join(dir, 'x.tar')}" -o "${out}"`);
      const target = join(dir, 'new-layout');
      const imp = await runCli(['--json', 'import', out, target]);
      expect({ exit: imp.code, code: jsonError(imp.stderr).code }).toEqual({
        exit: 2,
        code: 'E_USAGE',
      });
      expect(jsonError(imp.stderr).message).toContain('needs Node.js 22.15 or later');
      const piped = await runCli(['import', '-', target], { input: readFileSync(out) });
      expect(piped.code).toBe(2);
      expect(piped.stderr).toContain('needs Node.js 22.15 or later');
      expect(existsSync(target)).toBe(false);
    },
  );
});

describe('ocilayout export --since (delta archives)', () => {
  /** A base layout (v1, three layers) and its update (v1 and v2, v2 changing one layer). */
  async function update(): Promise<{ dir: string; base: string; next: string }> {
    const dir = tmpDir();
    const base = join(dir, 'base');
    const layers = randomLayers(3, 128 * 1024);
    await putImage(base, 'v1', layers);
    const next = join(dir, 'next');
    cpSync(base, next, { recursive: true });
    await putImage(next, 'v2', [...layers.slice(0, 2), ...randomLayers(1, 128 * 1024)]);
    return { dir, base, next };
  }

  it.each([
    ['a layout', false],
    ['an archive', true],
  ])(
    '--since %s: a smaller archive that imports into a layout holding the base',
    async (_w, asArchive) => {
      const { dir, base, next } = await update();
      const baseTar = join(dir, 'base.tar');
      expect((await runCli(['export', base, baseTar])).code).toBe(0);
      const delta = join(dir, 'delta.tar');
      const exp = await runCli(['export', next, delta, '--since', asArchive ? baseTar : base]);
      expect(exp.code).toBe(0);
      expect(exp.stderr).toMatch(
        new RegExp(`a delta since ${asArchive ? 'base\\.tar' : 'base'}: left out 4 blob\\(s\\)`),
      );
      const full = join(dir, 'full.tar');
      expect((await runCli(['export', next, full])).code).toBe(0);
      // The three base layers (128 KiB each) and v1's config stay home.
      expect(statSync(full).size - statSync(delta).size).toBeGreaterThanOrEqual(3 * 128 * 1024);

      const target = join(dir, 'target');
      expect((await runCli(['import', baseTar, target])).code).toBe(0);
      const imp = await runCli(['import', delta, target]);
      expect(imp.code).toBe(0);
      expect(imp.stderr).toContain('a delta since');
      expect(imp.stderr).toContain('4 blob(s) found in place');
      expect(indexOf(target)).toEqual(indexOf(next));
      const fsck = await runCli(['fsck', target]);
      expect(fsck.code).toBe(0);
    },
  );

  it('import of a delta into an empty directory: exit 3, missing blobs named, nothing left', async () => {
    const { dir, base, next } = await update();
    const delta = join(dir, 'delta.tar');
    expect((await runCli(['export', next, delta, '--since', base])).code).toBe(0);
    const target = join(dir, 'empty');
    const r = await runCli(['--json', 'import', delta, target]);
    expect(r.code).toBe(3);
    const err = jsonError(r.stderr);
    expect(err.code).toBe('E_NOT_FOUND');
    expect(err.message).toMatch(/is a delta archive: .* lacks 4 of them: sha256:[0-9a-f]{64} \(/);
    expect(err.message).toContain('needed by v1, v2');
    expect(existsSync(target)).toBe(false);
  });

  it('a delta of a delta imports after its parent; --format docker with --since is exit 2', async () => {
    const { dir, base, next } = await update();
    const third = join(dir, 'third');
    cpSync(next, third, { recursive: true });
    await putImage(third, 'v3', randomLayers(1, 1024));
    const [d1, d2, baseTar] = ['d1.tar', 'd2.tar', 'base.tar'].map((n) => join(dir, n)) as [
      string,
      string,
      string,
    ];
    expect((await runCli(['export', base, baseTar])).code).toBe(0);
    expect((await runCli(['export', next, d1, '--since', base])).code).toBe(0);
    expect((await runCli(['export', third, d2, '--since', d1])).code).toBe(0);
    const target = join(dir, 'target');
    for (const a of [baseTar, d1, d2]) expect((await runCli(['import', a, target])).code).toBe(0);
    expect(indexOf(target)).toEqual(indexOf(third));
    expect((await runCli(['fsck', target])).code).toBe(0);
    const docker = await runCli([
      'export',
      next,
      join(dir, 'x.tar'),
      '--format',
      'docker',
      '--since',
      base,
    ]);
    expect(docker.code).toBe(2);
    expect(docker.stderr).toContain('docker archives must be complete');
    expect(existsSync(join(dir, 'x.tar'))).toBe(false);
  });
});
