// Archives against the real tools, both ways:
// - skopeo reads our oci export (oci-archive:FILE:TAG → oci:, digests preserved) and our docker export
//   (docker-archive:FILE:NAME:TAG → oci:; skopeo converts, so we assert what it keeps: the config's
//   content and the uncompressed layers = diffIDs);
// - we import archives skopeo wrote (oci-archive, docker-archive, built by judge/peer-layouts.ts),
//   and umoci (ls, stat, unpack --rootless), skopeo and the judge read what we imported;
// - copy takes skopeo's archives by skopeo's names, and skopeo reads the archives copy writes.
// Expected values come from the peer entries (recorded from the tools' own output) or from the tools.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportArchive, importArchive, Layout } from '../../src/internal.js';
import { cliOk } from '../helpers/run-cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { requireTools } from '../helpers/tools.js';
import { JUDGE_TOOLS, judgeLayout } from './judge/judge.js';
import { makePeerLayouts, type PeerEntry } from './judge/peer-layouts.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const PEERS = join(ROOT, 'testdata', 'peers');
const REF_NAME = 'org.opencontainers.image.ref.name';

const TOOLS = requireTools(...JUDGE_TOOLS);

function toolOk(cmd: string, args: string[]): string {
  const r = spawnSync(cmd, args, { encoding: 'utf8', timeout: 120_000, maxBuffer: 64 << 20 });
  if (r.error) throw r.error;
  if (r.status !== 0)
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}\n${r.stdout}\n${r.stderr}`);
  return r.stdout;
}
const skopeo = (...args: string[]): string => toolOk('skopeo', ['--insecure-policy', ...args]);
const sha256 = (b: Buffer | string): string =>
  `sha256:${createHash('sha256').update(b).digest('hex')}`;

interface Entry {
  mediaType: string;
  digest: string;
  annotations?: Record<string, string>;
}
const readIndex = (dir: string): { manifests: Entry[] } =>
  JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as { manifests: Entry[] };
const blob = (dir: string, digest: string): Buffer =>
  readFileSync(join(dir, 'blobs', 'sha256', digest.slice(7)));
const blobJson = <T>(dir: string, digest: string): T =>
  JSON.parse(blob(dir, digest).toString('utf8')) as T;
const tagged = (dir: string, tag: string): string | undefined =>
  readIndex(dir).manifests.find((e) => e.annotations?.[REF_NAME] === tag)?.digest;

interface Manifest {
  config: { digest: string };
  layers: { digest: string; mediaType: string }[];
}
interface Config {
  rootfs: { diff_ids: string[] };
}

/** umoci reads it: ls lists `tag`, stat works, unpack --rootless yields the file we expect. */
function expectUmociReads(layout: string, tag: string): void {
  expect(toolOk('umoci', ['ls', '--layout', layout]).split('\n')).toContain(tag);
  expect(toolOk('umoci', ['stat', '--image', `${layout}:${tag}`])).toContain('LAYER');
  const bundle = join(tmpDir('ocilayout-bundle-'), 'b');
  toolOk('umoci', ['unpack', '--rootless', '--image', `${layout}:${tag}`, bundle]);
  expect(readFileSync(join(bundle, 'rootfs', 'etc', 'peer', 'hello.txt'), 'utf8')).toBe(
    'hello from layer 1\n',
  );
}

let peers = '';
let peerEntries: PeerEntry[] = [];
beforeAll(() => {
  if (!TOOLS) return;
  peers = mkdtempSync(join(tmpdir(), 'ocilayout-archive-peers-'));
  peerEntries = makePeerLayouts(peers);
});
afterAll(() => {
  if (peers !== '') rmSync(peers, { recursive: true, force: true });
});

describe.runIf(TOOLS)('skopeo reads our archives', () => {
  it('oci export → oci-archive:FILE:TAG → oci:, every tag with its digest', async () => {
    const src = join(PEERS, 'umoci-multitag');
    const file = join(tmpDir(), 'multi.tar');
    await exportArchive(src, file);
    for (const tag of ['v1', 'v2', 'arm']) {
      const want = tagged(src, tag)!;
      const raw = skopeo('inspect', '--raw', `oci-archive:${file}:${tag}`);
      expect(sha256(raw)).toBe(want);
      const dest = join(tmpDir(), 'dest');
      skopeo(
        'copy',
        '-q',
        '--preserve-digests',
        `oci-archive:${file}:${tag}`,
        `oci:${dest}:${tag}`,
      );
      expect(tagged(dest, tag)).toBe(want);
    }
  });

  it('a one-ref export (CLI) is read without naming a tag: oci-archive:FILE', async () => {
    const file = join(tmpDir(), 'v2.tar');
    await cliOk(['export', join(PEERS, 'umoci-multitag'), file, '--ref', 'v2']);
    const dest = join(tmpDir(), 'dest');
    skopeo('copy', '-q', '--preserve-digests', `oci-archive:${file}`, `oci:${dest}:v2`);
    expect(tagged(dest, 'v2')).toBe(tagged(join(PEERS, 'umoci-multitag'), 'v2'));
  });

  it('docker export → docker-archive:FILE:NAME:TAG → oci: keeps the config content and the diffIDs', async () => {
    const src = join(PEERS, 'umoci-multitag');
    const file = join(tmpDir(), 'docker.tar');
    await exportArchive(src, file, { format: 'docker', name: 'example.com/peer/app' });
    for (const tag of ['v1', 'v2']) {
      const dest = join(tmpDir(), 'dest');
      skopeo(
        'copy',
        '-q',
        `docker-archive:${file}:example.com/peer/app:${tag}`,
        `oci:${dest}:${tag}`,
      );
      const ours = blobJson<Manifest>(src, tagged(src, tag)!);
      const theirs = blobJson<Manifest>(dest, tagged(dest, tag)!);
      // skopeo re-serialises the config (digest may change) but keeps its content.
      expect(blobJson(dest, theirs.config.digest)).toEqual(blobJson(src, ours.config.digest));
      const diffIds = blobJson<Config>(src, ours.config.digest).rootfs.diff_ids;
      expect(theirs.layers).toHaveLength(diffIds.length);
      theirs.layers.forEach((l, i) => {
        const bytes = blob(dest, l.digest);
        expect(sha256(l.mediaType.endsWith('+gzip') ? gunzipSync(bytes) : bytes)).toBe(diffIds[i]);
      });
    }
  });
});

describe.runIf(TOOLS)('we import archives skopeo wrote, and the tools read the result', () => {
  it('skopeo oci-archive: digests and tags preserved; umoci and skopeo read it', async () => {
    const expected = peerEntries.find((p) => p.path === 'image.oci.tar')!;
    const dest = join(tmpDir(), 'from-oci-archive');
    const r = await importArchive(join(peers, 'image.oci.tar'), dest);
    expect(r.format).toBe('oci');
    expect(tagged(dest, 'v1')).toBe(expected.tags!['v1']);
    expectUmociReads(dest, 'v1');
    expect(sha256(skopeo('inspect', '--raw', `oci:${dest}:v1`))).toBe(expected.tags!['v1']);
  });

  it('skopeo docker-archive: config kept byte for byte (image ID), layers = diffIDs, RepoTag kept', async () => {
    const expected = peerEntries.find((p) => p.path === 'image.docker.tar')!;
    const dest = join(tmpDir(), 'from-docker-archive');
    const r = await importArchive(join(peers, 'image.docker.tar'), dest);
    expect(r.format).toBe('docker');
    const entry = readIndex(dest).manifests[0]!;
    expect(entry.annotations).toEqual({
      'io.containerd.image.name': expected.repoTags![0],
      [REF_NAME]: 'v1',
    });
    const manifest = blobJson<Manifest>(dest, entry.digest);
    expect(manifest.config.digest).toBe(expected.configDigest);
    const diffIds = blobJson<Config>(dest, manifest.config.digest).rootfs.diff_ids;
    expect(manifest.layers.map((l) => l.digest)).toEqual(diffIds);
    expectUmociReads(dest, 'v1');
    // skopeo reads it, and copies it on with every digest preserved.
    const copy = join(tmpDir(), 'copy');
    skopeo('copy', '-q', '--preserve-digests', `oci:${dest}:v1`, `oci:${copy}:v1`);
    expect(tagged(copy, 'v1')).toBe(entry.digest);
    // The judge: structure, sha256sum, umoci, oci-image-tool, skopeo round trips.
    const verdict = await judgeLayout(dest, { registry: false });
    expect(verdict.failed, verdict.report).toBe(0);
    expect(verdict.report).toMatch(
      /^PASS +\[v1\] skopeo copy oci -> oci-archive -> oci preserves/m,
    );
  });

  it('skopeo oci-archive → import → export → skopeo: the same digest all the way', async () => {
    const expected = peerEntries.find((p) => p.path === 'image.oci.tar')!;
    const layout = join(tmpDir(), 'l');
    await cliOk(['import', join(peers, 'image.oci.tar'), layout]);
    const out = join(tmpDir(), 'again.tar');
    await cliOk(['export', layout, out]);
    expect(sha256(skopeo('inspect', '--raw', `oci-archive:${out}:v1`))).toBe(expected.tags!['v1']);
  });
});

describe.runIf(TOOLS)('copy with archive endpoints, against skopeo', () => {
  it("copy reads skopeo's archives by skopeo's names, and skopeo reads what copy writes", async () => {
    const oci = peerEntries.find((p) => p.path === 'image.oci.tar')!;
    const docker = peerEntries.find((p) => p.path === 'image.docker.tar')!;
    const dir = tmpDir();
    // skopeo's oci-archive, named as skopeo names it; digests kept.
    await cliOk(['copy', `oci-archive:${join(peers, 'image.oci.tar')}:v1`, join(dir, 'a')]);
    expect(tagged(join(dir, 'a'), 'v1')).toBe(oci.tags!['v1']);
    // skopeo's docker-archive by its RepoTags name: the config kept byte for byte.
    await cliOk([
      'copy',
      `docker-archive:${join(peers, 'image.docker.tar')}:${docker.repoTags![0]}`,
      join(dir, 'd'),
    ]);
    // Stored under its full RepoTags name; the bare tag resolves to it (spec-notes/names.md).
    const fromDocker = Layout.open(join(dir, 'd')).resolve({ tag: 'v1' });
    expect(fromDocker.annotations?.[REF_NAME]).toContain('/');
    const manifest = blobJson<Manifest>(join(dir, 'd'), fromDocker.digest);
    expect(manifest.config.digest).toBe(docker.configDigest);
    // What copy writes: skopeo reads the oci-archive by its tag, and the docker-archive by NAME:TAG.
    const out = join(dir, 'out.tar');
    await cliOk(['copy', join(dir, 'a:v1'), `oci-archive:${out}:v2`]);
    expect(sha256(skopeo('inspect', '--raw', `oci-archive:${out}:v2`))).toBe(oci.tags!['v1']);
    const dout = join(dir, 'dout.tar');
    await cliOk(['copy', join(dir, 'd:v1'), `docker-archive:${dout}:example.com/peer/app:v3`]);
    const back = join(dir, 'back');
    skopeo('copy', '-q', `docker-archive:${dout}:example.com/peer/app:v3`, `oci:${back}:v3`);
    const theirs = blobJson<Manifest>(back, tagged(back, 'v3')!);
    expect(blobJson(back, theirs.config.digest)).toEqual(
      blobJson(join(dir, 'd'), manifest.config.digest),
    );
  });
});
