// The interop judge itself (judge/): it passes what the real tools wrote, in every referrers
// convention, and it fails each kind of broken layout, so a PASS elsewhere means something.
import { spawnSync } from 'node:child_process';
import {
  cpSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tmpDir } from '../helpers/tmp.js';
import { requireTools } from '../helpers/tools.js';
import { JUDGE_TOOLS, judgeLayout } from './judge/judge.js';
import { makePeerLayouts, type PeerEntry } from './judge/peer-layouts.js';

const TOOLS = requireTools(...JUDGE_TOOLS);

let out = '';
let peers: PeerEntry[] = [];
beforeAll(() => {
  if (!TOOLS) return;
  out = mkdtempSync(join(tmpdir(), 'ocilayout-judge-peers-'));
  peers = makePeerLayouts(out);
});
afterAll(() => {
  if (out !== '') rmSync(out, { recursive: true, force: true });
});

/** A private copy of a generated peer. */
function copyOf(path: string): string {
  const dir = join(tmpDir('ocilayout-judge-'), 'layout');
  cpSync(join(out, path), dir, { recursive: true });
  return dir;
}
const blobs = (dir: string): string => join(dir, 'blobs', 'sha256');
/** The largest blob: a layer of umoci-image. */
function largestBlob(dir: string): string {
  return readdirSync(blobs(dir))
    .map((f) => join(blobs(dir), f))
    .sort((a, b) => statSync(b).size - statSync(a).size)[0]!;
}

describe.runIf(TOOLS)('the judge passes what the real tools wrote', () => {
  it('records the peers each writer made, with their digests', () => {
    const paths = peers.map((p) => p.path);
    expect(paths).toEqual([
      'umoci-image',
      'umoci-multitag',
      'skopeo-layout',
      'skopeo-v2s2-layout',
      'image.oci.tar',
      'image.docker.tar',
      'image.dir',
      'from-docker-archive',
      'multiarch-index',
      'crafted/ref-fallback',
      'crafted/ref-annotation',
      'crafted/ref-olareg',
      'crafted/ref-manifest',
      'crafted/ref-none',
    ]);
    const image = peers.find((p) => p.path === 'umoci-image')!;
    expect(image.tags!['v1']).toMatch(/^sha256:[0-9a-f]{64}$/);
    expect(image.tags!['latest']).toBe(image.tags!['v1']);
    // skopeo copies keep the digest; the docker-archive round trip recompresses the layers.
    expect(peers.find((p) => p.path === 'skopeo-layout')!.tags!['v1']).toBe(image.tags!['v1']);
    expect(peers.find((p) => p.path === 'image.oci.tar')!.tags!['v1']).toBe(image.tags!['v1']);
    expect(peers.find((p) => p.path === 'from-docker-archive')!.tags!['v1']).not.toBe(
      image.tags!['v1'],
    );
    expect(JSON.parse(readFileSync(join(out, 'peers.json'), 'utf8'))).toEqual(peers);
  });

  it('a umoci layout, every check including the registry round trip', async () => {
    const v = await judgeLayout(join(out, 'umoci-multitag'));
    expect(v.failed, v.report).toBe(0);
    for (const tag of ['v1', 'v2', 'arm', 'latest', 'stable']) {
      expect(v.report).toMatch(new RegExp(`^PASS +\\[${tag}\\] umoci unpack --rootless`, 'm'));
      expect(v.report).toMatch(
        new RegExp(`^PASS +\\[${tag}\\] skopeo pull back from registry: same digest`, 'm'),
      );
    }
    expect(v.report).toMatch(/^PASS +digests: \d+ blobs in blobs\/sha256 match their names/m);
    expect(v.report).toMatch(/^PASS +oci-image-tool validate --type image \(whole layout\)/m);
  });

  it('an oci-archive skopeo wrote: extracted, and skopeo reads the tar itself', async () => {
    const v = await judgeLayout(join(out, 'image.oci.tar'), { registry: false });
    expect(v.failed, v.report).toBe(0);
    expect(v.report).toMatch(/^PASS +archive: no absolute or \.\. member names/m);
    expect(v.report).toMatch(/^PASS +\[v1\] skopeo reads the input archive/m);
  });

  it('an image index: copied with --all, digest preserved', async () => {
    const v = await judgeLayout(join(out, 'multiarch-index'), { tags: ['multi'], unpack: false });
    expect(v.failed, v.report).toBe(0);
    expect(v.report).toMatch(/^PASS +\[multi\] skopeo copy oci -> oci-archive -> oci preserves/m);
  });

  it.each(['fallback', 'annotation', 'olareg', 'manifest'])(
    'a signature in convention %s: found, kept by umoci gc, pushed to the registry',
    async (convention) => {
      const peer = peers.find((p) => p.path === `crafted/ref-${convention}`)!;
      const v = await judgeLayout(join(out, peer.path), { unpack: false });
      expect(v.failed, v.report).toBe(0);
      expect(v.report).toMatch(/^PASS +referrers: 1 found/m);
      expect(v.report).toMatch(/^PASS +umoci gc \(on a copy\): layout intact, 1 listed referrer/m);
      expect(v.report).toContain(`referrer ${peer.referrer!}: pushed by digest to the registry`);
      if (convention === 'fallback') {
        expect(v.report).toMatch(
          /^PASS +\[v1\] fallback tag sha256-[0-9a-f]{64}: exact index bytes/m,
        );
      }
    },
  );
});

describe.runIf(TOOLS)('the judge fails a broken layout', () => {
  const judge = (dir: string) => judgeLayout(dir, { registry: false, unpack: false });

  it('a blob whose bytes changed (one byte flipped in a layer)', async () => {
    const dir = copyOf('umoci-image');
    const layer = largestBlob(dir);
    const bytes = readFileSync(layer);
    bytes[bytes.length >> 1] = bytes[bytes.length >> 1]! ^ 0xff;
    writeFileSync(layer, bytes);
    const v = await judge(dir);
    expect(v.report).toMatch(/^FAIL +digests: 1 blob\(s\) do not match their names/m);
    expect(v.report).toMatch(/^FAIL +oci-image-tool validate --type image \(whole layout\)/m);
    expect(v.report).toMatch(/^FAIL +umoci gc --layout \(on a copy\)/m);
  });

  it('a missing layer', async () => {
    const dir = copyOf('umoci-image');
    rmSync(largestBlob(dir));
    const v = await judge(dir);
    expect(v.report).toMatch(/^FAIL +structure: 1 problem/m);
    expect(v.report).toMatch(/blob sha256:[0-9a-f]{64} missing/);
  });

  it('a temp file left in blobs/sha256', async () => {
    const dir = copyOf('umoci-image');
    writeFileSync(join(blobs(dir), 'abc.tmp'), 'partial');
    const v = await judge(dir);
    expect(v.report).toMatch(/stray file blobs\/sha256\/abc\.tmp/);
    expect(v.report).toMatch(/^FAIL +umoci gc --layout \(on a copy\)/m);
  });

  it('no oci-layout file', async () => {
    const dir = copyOf('umoci-image');
    rmSync(join(dir, 'oci-layout'));
    const v = await judgeLayout(dir, { registry: false, unpack: false, tags: [] });
    expect(v.report).toMatch(/oci-layout file missing/);
    expect(v.report).toMatch(/^FAIL +oci-image-tool validate --type image \(whole layout\)/m);
  });

  it('a descriptor with the wrong size in index.json', async () => {
    const dir = copyOf('umoci-image');
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8')) as {
      manifests: { size: number }[];
    };
    for (const m of index.manifests) m.size += 1;
    writeFileSync(join(dir, 'index.json'), JSON.stringify(index));
    const v = await judge(dir);
    expect(v.report).toMatch(/^FAIL +structure: /m);
    expect(v.report).toMatch(/descriptor says \d+/);
  });

  it('an archive with a `..` member name', async () => {
    const work = tmpDir('ocilayout-judge-');
    const inner = join(work, 'a', 'b');
    cpSync(join(out, 'umoci-image'), inner, { recursive: true });
    writeFileSync(join(work, 'a', 'escape.txt'), 'outside');
    const file = join(work, 'bad.tar');
    // -P: GNU tar would otherwise strip the `../` when it writes the member name.
    const r = spawnSync('tar', ['-cPf', file, '-C', inner, '.', '../escape.txt']);
    expect(r.status, r.stderr.toString()).toBe(0);
    const v = await judge(file);
    expect(v.report).toMatch(/^FAIL +archive: unsafe member names: \.\.\/escape\.txt/m);
  });

  it('a referrer kept only as a blob (listed nowhere), unless orphans are allowed', async () => {
    const dir = join(out, 'crafted', 'ref-none');
    const v = await judge(dir);
    expect(v.report).toMatch(/^FAIL +referrers: 1 blob-only referrer/m);
    expect(v.failed).toBe(1);
    const allowed = await judgeLayout(dir, { registry: false, unpack: false, allowOrphans: true });
    expect(allowed.failed, allowed.report).toBe(0);
  });
});
