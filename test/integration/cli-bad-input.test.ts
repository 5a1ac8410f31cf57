// The bad inputs we promise to refuse, across the commands that meet them: each gives a clear error code
// in --json stderr, a non-zero exit, nothing on stdout, and a byte-for-byte unchanged layout.
import { mkdirSync, symlinkSync, truncateSync, utimesSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parseDigest } from '../../src/internal.js';
import { artifactLayout, jsonError, type ArtifactLayout } from '../helpers/cli-layout.js';
import { runCli } from '../helpers/run-cli.js';
import { layoutSnapshot } from '../helpers/snapshot.js';

const HEX64 = 'a'.repeat(64);

type Args = (f: ArtifactLayout) => string[];

async function expectRefused(
  f: ArtifactLayout,
  args: string[],
  exit: number,
  code: string,
): Promise<void> {
  const before = layoutSnapshot(f.dir);
  const r = await runCli(['--json', ...args]);
  expect({ exit: r.code, code: jsonError(r).code }).toEqual({ exit, code });
  expect(jsonError(r).message.length).toBeGreaterThan(10);
  expect(r.stdout).toBe('');
  expect(layoutSnapshot(f.dir)).toEqual(before);
}

describe('malformed index.json', () => {
  const commands: [string, Args][] = [
    ['info', (f) => ['info', f.dir]],
    ['tags', (f) => ['tags', f.dir]],
    ['resolve', (f) => ['resolve', `${f.dir}:v1`]],
    ['tag', (f) => ['tag', `${f.dir}:v1`, 'v2']],
    ['untag', (f) => ['untag', `${f.dir}:v1`]],
    ['pull', (f) => ['pull', `${f.dir}:v1`, '-o', join(f.work, 'out')]],
    ['push', (f) => ['push', `${f.dir}:v2`, join(f.work, 'a.txt')]],
    ['manifest get', (f) => ['manifest', 'get', `${f.dir}:v1`]],
    ['manifest delete', (f) => ['manifest', 'delete', `${f.dir}:v1`]],
  ];
  it('invalid JSON is E_INVALID_JSON for every command that reads it', async () => {
    const f = await artifactLayout();
    writeFileSync(join(f.dir, 'index.json'), '{"schemaVersion":2,"manifests":[');
    for (const [, args] of commands) await expectRefused(f, args(f), 4, 'E_INVALID_JSON');
  });

  it('a schema violation is E_SCHEMA (readers and writers)', async () => {
    const f = await artifactLayout();
    writeFileSync(join(f.dir, 'index.json'), '{"schemaVersion":3,"manifests":{}}');
    for (const [name, args] of commands) {
      if (['tags', 'tag', 'push'].includes(name)) await expectRefused(f, args(f), 4, 'E_SCHEMA');
    }
  });
});

describe('a digest naming a layer or config blob where a manifest is wanted', () => {
  it('is E_UNSUPPORTED_MEDIA_TYPE (not "invalid JSON") for resolve, manifest get, tag and attach, exit 4', async () => {
    const f = await artifactLayout();
    for (const blob of [f.layers['a.txt'], f.layers['b.json']]) {
      const ref = `${f.dir}@${blob}`;
      for (const args of [
        ['resolve', ref],
        ['manifest', 'get', ref],
        ['tag', ref, 'v2'],
        ['attach', ref, join(f.work, 'a.txt'), '--artifact-type', 'application/vnd.example'],
      ]) {
        await expectRefused(f, args, 4, 'E_UNSUPPORTED_MEDIA_TYPE');
      }
    }
  });
});

describe('bad digest strings and unknown algorithms', () => {
  const commands: Args[] = [
    (f) => ['resolve', `${f.dir}@D`],
    (f) => ['blob', 'get', `${f.dir}@D`],
    (f) => ['blob', 'stat', `${f.dir}@D`],
    (f) => ['blob', 'delete', `${f.dir}@D`],
    (f) => ['manifest', 'get', `${f.dir}@D`],
    (f) => ['manifest', 'delete', `${f.dir}@D`],
    (f) => ['pull', `${f.dir}@D`, '-o', join(f.work, 'out')],
    (f) => ['blob', 'put', f.dir, join(f.work, 'a.txt'), '--digest', 'D'],
  ];
  const withDigest = (f: ArtifactLayout, args: Args, d: string): string[] =>
    args(f).map((a) => a.replace(/D$/, d));

  it('an invalid sha256 digest is E_INVALID_DIGEST for every digest-taking command, exit 2', async () => {
    const f = await artifactLayout();
    const d = `sha256:${'a'.repeat(63)}`;
    for (const args of commands)
      await expectRefused(f, withDigest(f, args, d), 2, 'E_INVALID_DIGEST');
  });

  it.each([
    ['sha384', `sha384:${'a'.repeat(96)}`],
    ['blake3', `blake3:${HEX64}`],
  ])('%s is E_UNSUPPORTED_ALGORITHM (reader, writer, pull), exit 2', async (_n, d) => {
    const f = await artifactLayout();
    for (const i of [1, 5, 6, 7]) {
      await expectRefused(f, withDigest(f, commands[i]!, d), 2, 'E_UNSUPPORTED_ALGORITHM');
    }
  });

  it.each([
    ['uppercase hex', `sha256:${'A'.repeat(64)}`],
    ['path traversal', 'sha256:../../etc/passwd'],
    ['no encoded part', 'sha256:'],
    ['sha512 with sha256 length', `sha512:${HEX64}`],
  ])('%s is E_INVALID_DIGEST', async (_n, d) => {
    const f = await artifactLayout();
    await expectRefused(f, ['blob', 'stat', `${f.dir}@${d}`], 2, 'E_INVALID_DIGEST');
  });

  it('a manifest whose layer has an unsupported algorithm cannot be pulled (exit 2)', async () => {
    const f = await artifactLayout();
    const doc = {
      schemaVersion: 2,
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      config: {
        mediaType: 'application/vnd.oci.empty.v1+json',
        digest: `sha256:${'4'.repeat(64)}`,
        size: 2,
      },
      layers: [
        {
          mediaType: 'application/octet-stream',
          digest: `blake3:${HEX64}`,
          size: 1,
          annotations: { 'org.opencontainers.image.title': 'x' },
        },
      ],
    };
    await f.layout.putManifest(Buffer.from(JSON.stringify(doc)), {
      tag: 'odd',
      allowMissing: true,
    });
    await expectRefused(
      f,
      ['pull', `${f.dir}:odd`, '-o', join(f.work, 'out')],
      2,
      'E_UNSUPPORTED_ALGORITHM',
    );
  });
});

describe('invalid tags', () => {
  it.each([
    ['a leading dot', '.hidden'],
    ['a colon', 'a:b'],
    ['a slash', 'a/b'],
    ['129 characters', 'x'.repeat(129)],
    ['a space', 'a b'],
  ])('a tag with %s is E_INVALID_TAG, exit 2', async (_n, tag) => {
    const f = await artifactLayout();
    await expectRefused(f, ['tag', `${f.dir}:v1`, tag], 2, 'E_INVALID_TAG');
  });

  it.each([
    ['push', 'v1 bad'],
    ['resolve', 'bad tag!'],
  ])('%s with an invalid tag in the reference is refused (exit 2)', async (cmd, tag) => {
    const f = await artifactLayout();
    const args =
      cmd === 'push'
        ? ['push', `${f.dir}:${tag}`, join(f.work, 'a.txt')]
        : ['resolve', `${f.dir}:${tag}`];
    await expectRefused(f, args, 2, 'E_INVALID_TAG');
  });
});

describe('corrupted and truncated blobs', () => {
  it.each([
    ['corrupted', 'E_DIGEST_MISMATCH', (p: string) => writeFileSync(p, '{"x":2}')],
    ['truncated', 'E_SIZE_MISMATCH', (p: string) => truncateSync(p, 1)],
  ])('a %s layer: pull and blob get fail with %s, exit 4', async (_n, code, damage) => {
    const f = await artifactLayout();
    damage(f.layout.blobs.path(f.layers['b.json']));
    await expectRefused(f, ['pull', `${f.dir}:v1`, '-o', join(f.work, 'out')], 4, code);
    await expectRefused(
      f,
      ['blob', 'get', `${f.dir}@${f.layers['b.json']}`, '-o', join(f.work, 'b')],
      4,
      code,
    );
  });

  it('a corrupted manifest blob: manifest get, pull and resolve-by-tag consumers fail (exit 4)', async () => {
    const f = await artifactLayout();
    const path = f.layout.blobs.path(parseDigest(f.manifest.digest));
    writeFileSync(path, ' '.repeat(f.manifest.size));
    await expectRefused(f, ['manifest', 'get', `${f.dir}:v1`], 4, 'E_DIGEST_MISMATCH');
    await expectRefused(
      f,
      ['pull', `${f.dir}:v1`, '-o', join(f.work, 'out')],
      4,
      'E_DIGEST_MISMATCH',
    );
  });
});

describe('lock settings and the lock path', () => {
  it.each([
    ['--lock-timeout', 'abc'],
    ['--lock-timeout', '-1'],
  ])(
    '%s %s is E_USAGE (exit 2) even while the layout is busy, not an endless wait',
    async (flag, value) => {
      const f = await artifactLayout();
      mkdirSync(join(f.dir, '.ocilayout-index.lock')); // a live holder: NaN would wait forever
      const r = await runCli(['--json', 'tag', `${f.dir}:v1`, 'v2', flag, value]);
      expect({ exit: r.code, code: jsonError(r).code }).toEqual({ exit: 2, code: 'E_USAGE' });
      expect(jsonError(r).message).toContain(`--lock-timeout "${value}"`);
    },
    20_000,
  );

  it.each([
    ['OCILAYOUT_LOCK_TIMEOUT_MS', 'abc'],
    ['OCILAYOUT_LOCK_TIMEOUT_MS', '-1'],
    ['OCILAYOUT_LOCK_STALE_MS', 'ten'],
    ['OCILAYOUT_LOCK_STALE_MS', '-1'],
  ])('%s=%s is E_USAGE (exit 2) naming the variable; nothing written', async (name, value) => {
    const f = await artifactLayout();
    const before = layoutSnapshot(f.dir);
    const r = await runCli(['--json', 'tag', `${f.dir}:v1`, 'v2'], { env: { [name]: value } });
    expect({ exit: r.code, code: jsonError(r).code }).toEqual({ exit: 2, code: 'E_USAGE' });
    expect(jsonError(r).message).toContain(`${name}="${value}"`);
    expect(layoutSnapshot(f.dir)).toEqual(before);
  });

  it('a dangling symlink at the lock path: writers refuse it at once (exit 6), fsck names it', async () => {
    const f = await artifactLayout();
    const lockPath = join(f.dir, '.ocilayout-index.lock');
    symlinkSync(join(f.work, 'gone'), lockPath);
    const before = layoutSnapshot(f.dir);
    const r = await runCli(['--json', 'tag', `${f.dir}:v1`, 'v2', '--lock-timeout', '10']);
    expect({ exit: r.code, code: jsonError(r).code }).toEqual({ exit: 6, code: 'E_UNSAFE_ENTRY' });
    expect(jsonError(r).message).toContain(lockPath);
    expect(jsonError(r).hint).toContain(`rm ${lockPath}`);
    expect(layoutSnapshot(f.dir)).toEqual(before);
    const fsck = await runCli(['fsck', f.dir, '--json']);
    expect(fsck.code).toBe(4);
    expect(JSON.parse(fsck.stdout)).toMatchObject({
      ok: false,
      findings: [expect.objectContaining({ code: 'LOCK_NOT_DIRECTORY', severity: 'error' })],
    });
  });

  it('a lock dated in the future (clock set back after a crash) is taken over once it stays unchanged', async () => {
    const f = await artifactLayout();
    const lockDir = join(f.dir, '.ocilayout-index.lock');
    mkdirSync(lockDir);
    const future = new Date(Date.now() + 24 * 3600_000);
    utimesSync(lockDir, future, future);
    const fsck = JSON.parse((await runCli(['fsck', f.dir, '--json'])).stdout) as {
      findings: { code: string }[];
    };
    expect(fsck.findings.map((x) => x.code)).toEqual(['LOCK_IN_FUTURE']);
    const r = await runCli(['tag', `${f.dir}:v1`, 'v2', '--lock-timeout', '20'], {
      env: { OCILAYOUT_LOCK_STALE_MS: '2000' },
    });
    expect(r.code, r.stderr).toBe(0);
    expect((await runCli(['tags', f.dir])).stdout).toBe('v1\nv2\n');
  }, 30_000);
});
