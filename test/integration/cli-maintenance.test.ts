import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, truncateSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { ownerToken } from '../../src/store/liveness.js';
import { artifactLayout, jsonError } from '../helpers/cli-layout.js';
import { cliOk, runCli } from '../helpers/run-cli.js';
import { layoutSnapshot } from '../helpers/snapshot.js';

function blobPath(dir: string, digest: string): string {
  return join(dir, 'blobs', 'sha256', digest.slice('sha256:'.length));
}

/** An ingest file named as a process that ran and exited would name it. */
function deadPart(dir: string): string {
  const pid = execFileSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
    encoding: 'utf8',
  });
  const name = `${ownerToken().split('.')[0]}.${pid}.1.0123456789ab.part`;
  mkdirSync(join(dir, 'ingest'), { recursive: true });
  writeFileSync(join(dir, 'ingest', name), 'half a blob');
  return `ingest/${name}`;
}

describe('ocilayout fsck', () => {
  it('passes a sound layout: no findings on stdout, a summary on stderr, exit 0', async () => {
    const f = await artifactLayout();
    const r = await runCli(['fsck', f.dir]);
    expect(r).toMatchObject({ code: 0, stdout: '' });
    expect(r.stderr).toMatch(
      /^fsck: checked 4 blobs .*, 4 descriptors: 0 error\(s\), 0 warning\(s\)$/m,
    );
    const json = JSON.parse(await cliOk(['fsck', f.dir, '--json']));
    expect(json).toEqual({
      ok: true,
      findings: [],
      checked: { blobs: 4, bytes: expect.any(Number), descriptors: 4 },
    });
  });

  it('exits 4 on a corrupted blob, names it, and changes nothing', async () => {
    const f = await artifactLayout();
    writeFileSync(blobPath(f.dir, f.layers['a.txt']), 'HELLO\n');
    const before = layoutSnapshot(f.dir, { ignoreIngest: false });
    const r = await runCli(['fsck', f.dir]);
    expect(r.code).toBe(4);
    const hex = f.layers['a.txt'].slice('sha256:'.length);
    expect(r.stdout).toMatch(
      new RegExp(
        `^error: \\[BLOB_DIGEST_MISMATCH\\] blobs/sha256/${hex}: content \\(6 bytes\\) hashes to sha256:[0-9a-f]{64}, not to its name \\(corrupt or truncated\\)\n$`,
      ),
    );
    const json = JSON.parse((await runCli(['fsck', f.dir, '--json'])).stdout);
    expect(json.ok).toBe(false);
    expect(json.findings).toMatchObject([
      { code: 'BLOB_DIGEST_MISMATCH', severity: 'error', digest: f.layers['a.txt'] },
    ]);
    expect(layoutSnapshot(f.dir, { ignoreIngest: false })).toEqual(before);
  });

  it('reports a truncated blob and a malformed index.json without crashing', async () => {
    const f = await artifactLayout();
    truncateSync(blobPath(f.dir, f.layers['b.json']), 2);
    const truncated = JSON.parse((await runCli(['fsck', f.dir, '--json'])).stdout);
    expect(truncated.findings.map((x: { code: string }) => x.code).sort()).toEqual([
      'BLOB_DIGEST_MISMATCH',
      'DESCRIPTOR_SIZE_MISMATCH',
    ]);
    writeFileSync(join(f.dir, 'index.json'), '{"schemaVersion":2,');
    const before = layoutSnapshot(f.dir, { ignoreIngest: false });
    const r = await runCli(['fsck', f.dir]);
    expect(r.code).toBe(4);
    expect(r.stdout).toContain('error: [INDEX_INVALID_JSON]');
    expect(layoutSnapshot(f.dir, { ignoreIngest: false })).toEqual(before);
  });

  it('exits 0 with warnings only (a stray file), and 4 or 0 for a missing blob by --allow-missing', async () => {
    const f = await artifactLayout();
    writeFileSync(join(f.dir, 'blobs', 'sha256', 'leftover.tmp'), 'x');
    const warned = await runCli(['fsck', f.dir]);
    expect(warned.code).toBe(0);
    expect(warned.stdout).toMatch(/^warning: \[BLOB_STRAY\] blobs\/sha256\/leftover\.tmp /);
    execFileSync('rm', [blobPath(f.dir, f.layers['a.txt'])]);
    expect((await runCli(['fsck', f.dir])).code).toBe(4);
    const sparse = await runCli(['fsck', f.dir, '--allow-missing']);
    expect(sparse.code).toBe(0);
    expect(sparse.stdout).toContain('warning: [MISSING_BLOB]');
  });

  it('exits 3 with E_NOT_A_LAYOUT for a directory that is not a layout', async () => {
    const f = await artifactLayout();
    const r = await runCli(['fsck', f.work, '--json']);
    expect(r.code).toBe(3);
    expect(jsonError(r).code).toBe('E_NOT_A_LAYOUT');
  });
});

describe('ocilayout gc', () => {
  it('--dry-run lists what would go and changes nothing; gc then removes exactly that', async () => {
    const f = await artifactLayout();
    writeFileSync(join(f.work, 'c.txt'), 'only in v2\n');
    const v2 = (await cliOk(['push', `${f.dir}:v2`, join(f.work, 'c.txt')])).trim();
    await cliOk(['untag', `${f.dir}:v2`]);
    const part = deadPart(f.dir);
    const before = layoutSnapshot(f.dir, { ignoreIngest: false });

    const dry = await runCli(['gc', f.dir, '--dry-run']);
    expect(dry.code).toBe(0);
    const lines = dry.stdout.trim().split('\n');
    expect(lines[0]).toBe(`blob ${v2}`); // the manifest before its layer
    expect(lines).toContain(`ingest ${part}`);
    expect(lines.at(-1)).toMatch(
      /^would remove 2 blob\(s\), 0 index entries, 1 ingest file\(s\); would free \d+ B$/,
    );
    expect(layoutSnapshot(f.dir, { ignoreIngest: false })).toEqual(before);

    const dryJson = JSON.parse(await cliOk(['gc', f.dir, '--dry-run', '--json']));
    const json = JSON.parse(await cliOk(['gc', f.dir, '--json']));
    expect(json).toEqual({ ...dryJson, dryRun: false });
    expect(json.removedBlobs[0]).toBe(v2);
    expect(json.removedIngest).toEqual([part]);
    expect(json.bytesFreed).toBeGreaterThan(0);
    expect(existsSync(join(f.dir, part))).toBe(false);
    expect((await runCli(['fsck', f.dir])).code).toBe(0);
    expect((await cliOk(['resolve', `${f.dir}:v1`])).trim()).toBe(f.manifest.digest);
    const again = await cliOk(['gc', f.dir]);
    expect(again).toBe('removed 0 blob(s), 0 index entries, 0 ingest file(s); freed 0 B\n');
  });

  it.each(['per-manifest', 'fallback-tag', 'subject-annotation'])(
    'collects a %s referrer with its subject, or keeps it with --keep-orphans',
    async (convention) => {
      const f = await artifactLayout();
      writeFileSync(join(f.work, 'sig.json'), '{"sig":1}');
      const sig = JSON.parse(
        await cliOk([
          'attach',
          `${f.dir}:v1`,
          `${join(f.work, 'sig.json')}:application/json`,
          '--artifact-type',
          'application/vnd.example.sig',
          '--convention',
          convention,
          '--json',
        ]),
      ).digest as string;
      // While the subject is tagged, nothing goes.
      expect(JSON.parse(await cliOk(['gc', f.dir, '--json']))).toMatchObject({
        removedBlobs: [],
        removedEntries: [],
      });
      await cliOk(['untag', `${f.dir}:v1`]);
      const kept = JSON.parse(await cliOk(['gc', f.dir, '--keep-orphans', '--json']));
      expect(kept.removedEntries).toEqual([]);
      expect(kept.removedBlobs).not.toContain(sig);
      expect(existsSync(blobPath(f.dir, sig))).toBe(true);
      const r = JSON.parse(await cliOk(['gc', f.dir, '--json']));
      expect(r.removedEntries.length).toBeGreaterThan(0);
      expect(r.removedBlobs).toContain(sig);
      expect(JSON.parse(await cliOk(['info', f.dir, '--json'])).indexEntries).toBe(0);
      expect((await runCli(['fsck', f.dir])).code).toBe(0);
    },
  );

  it('refuses with exit 4 (E_FSCK_FINDINGS) when a tagged manifest is unreadable, deleting nothing', async () => {
    const f = await artifactLayout();
    writeFileSync(join(f.work, 'c.txt'), 'garbage\n');
    await cliOk(['push', `${f.dir}:v2`, join(f.work, 'c.txt')]);
    await cliOk(['untag', `${f.dir}:v2`]);
    writeFileSync(blobPath(f.dir, f.manifest.digest), '{"not":"the manifest"}');
    const before = layoutSnapshot(f.dir, { ignoreIngest: false });
    const r = await runCli(['gc', f.dir, '--json']);
    expect(r.code).toBe(4);
    expect(jsonError(r).code).toBe('E_FSCK_FINDINGS');
    expect(layoutSnapshot(f.dir, { ignoreIngest: false })).toEqual(before);
  });

  it('exits 3 for a missing layout and documents its options', async () => {
    const f = await artifactLayout();
    const r = await runCli(['gc', join(f.work, 'nope'), '--json']);
    expect(r.code).toBe(3);
    expect(jsonError(r).code).toBe('E_NOT_A_LAYOUT');
    const help = await cliOk(['gc', '--help']);
    for (const flag of ['--dry-run', '--keep-orphans', '--json', 'Examples:'])
      expect(help).toContain(flag);
    expect(await cliOk(['fsck', '--help'])).toContain('--allow-missing');
  });
});
