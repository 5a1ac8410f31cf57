// The fallback-tag path end to end against a real CNCF distribution registry (docker-registry
// 2.8.2, which has no referrers API): layout → registry → fresh layout keeps every referrer and
// digest, and skopeo independently reads what we pushed, the fallback tag index included.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { fallbackTagFor, Layout, referrerGraph } from '../../src/internal.js';
import { makeFixture, type Fixture } from '../registry/fixture.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { runCli } from '../helpers/run-cli.js';
import { tmpDir } from '../helpers/tmp.js';
import { requireTools } from '../helpers/tools.js';

const HAVE = requireTools('docker-registry', 'skopeo');

function skopeoRaw(ref: string): Buffer {
  const r = spawnSync('skopeo', ['inspect', '--raw', '--tls-verify=false', ref], {
    maxBuffer: 8 << 20,
  });
  if (r.status !== 0) throw new Error(`skopeo inspect --raw ${ref}: ${r.stderr.toString()}`);
  return r.stdout;
}

const sha256 = (b: Buffer): string => `sha256:${createHash('sha256').update(b).digest('hex')}`;

describe.runIf(HAVE)('copy through docker-registry (fallback tag path)', () => {
  let registry: RunningRegistry;
  let f: Fixture;
  let work: string;
  const env = (): NodeJS.ProcessEnv => ({ DOCKER_CONFIG: join(work, 'no-docker-config') });

  beforeAll(async () => {
    registry = await startRegistry();
    // Shared by the tests of this file (tmpDir() would vanish after the first test).
    work = mkdtempSync(join(tmpdir(), 'ocilayout-regfb-'));
    f = await makeFixture(work, 'subject-annotation');
  });
  afterAll(async () => {
    await registry?.stop();
    if (work !== undefined) rmSync(work, { recursive: true, force: true });
  });

  it('layout → registry: blobs, manifests, referrers, then fallback indexes, tag last; skopeo reads it', async () => {
    const repo = `${registry.host}/team/app`;
    const r = await runCli(
      ['copy', '--referrers', '--json', `${f.layout.root}:v1`, `docker://${repo}`],
      { env: env() },
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.descriptor.digest).toBe(f.index.digest);
    expect(out.tag).toBe('v1');
    expect(out.referrersApi).toEqual([]); // 2.8.2 never answers OCI-Subject
    expect(out.fallbackTags.sort()).toEqual(
      [f.index.digest, f.amd64.digest, f.sbom].map(fallbackTagFor).sort(),
    );

    // skopeo, independently: the tag serves our exact index bytes...
    expect(sha256(skopeoRaw(`docker://${repo}:v1`))).toBe(f.index.digest);
    // ...and the fallback tag is an image index listing the signature, artifactType pulled up.
    const fallback = JSON.parse(
      skopeoRaw(`docker://${repo}:${fallbackTagFor(f.index.digest)}`).toString(),
    );
    expect(fallback.mediaType).toBe('application/vnd.oci.image.index.v1+json');
    expect(fallback.manifests).toEqual([
      expect.objectContaining({
        digest: f.sig,
        artifactType: 'application/vnd.example.signature',
        annotations: { 'org.example.signer': 'alice' },
      }),
    ]);
    // Each referrer is there by digest, with its subject.
    const sig = JSON.parse(skopeoRaw(`docker://${repo}@${f.sig}`).toString());
    expect(sig.subject.digest).toBe(f.index.digest);
    const tags = spawnSync('skopeo', ['list-tags', '--tls-verify=false', `docker://${repo}`]);
    expect(JSON.parse(tags.stdout.toString()).Tags.sort()).toEqual(
      ['v1', ...[f.index.digest, f.amd64.digest, f.sbom].map(fallbackTagFor)].sort(),
    );
  });

  it('pushing again changes nothing: no duplicate entries in the fallback index', async () => {
    const repo = `${registry.host}/team/app`;
    const r = await runCli(
      ['copy', '--referrers', '--json', `${f.layout.root}:v1`, `docker://${repo}`],
      { env: env() },
    );
    expect(r.code, r.stderr).toBe(0);
    const fallback = JSON.parse(
      skopeoRaw(`docker://${repo}:${fallbackTagFor(f.index.digest)}`).toString(),
    );
    expect(fallback.manifests.map((d: { digest: string }) => d.digest)).toEqual([f.sig]);
    expect(JSON.parse(r.stdout).blobs.copied).toBe(JSON.parse(r.stdout).manifests); // blobs: HEAD hits
  });

  it('registry → fresh layout keeps every referrer and digest (read through the fallback tags)', async () => {
    const dest = join(tmpDir(), 'fresh');
    const r = await runCli(
      ['copy', '--referrers', '--json', `docker://${registry.host}/team/app:v1`, dest],
      { env: env() },
    );
    expect(r.code, r.stderr).toBe(0);
    expect(JSON.parse(r.stdout).referrersFrom).toEqual(['fallback-tag']);
    const back = Layout.open(dest);
    expect(back.resolve({ tag: 'v1' }).digest).toBe(f.index.digest);
    const graph = referrerGraph(back);
    expect(graph.referrersOf(f.index.digest).map((d) => d.digest)).toEqual([f.sig]);
    expect(graph.referrersOf(f.amd64.digest).map((d) => d.digest)).toEqual([f.sbom]);
    expect(graph.referrersOf(f.sbom).map((d) => d.digest)).toEqual([f.sbomSig]);
    const srcGraph = referrerGraph(f.layout);
    for (const s of [f.index.digest, f.amd64.digest, f.sbom]) {
      expect(graph.referrersOf(s)).toEqual(srcGraph.referrersOf(s)); // same descriptors, byte for byte
    }
    for (const d of [...f.imageBlobs, f.sig, f.sbom, f.sbomSig])
      expect(back.blobs.has(d as never), d).toBe(true);
    const fsck = await runCli(['fsck', dest]);
    expect(fsck.code, fsck.stdout + fsck.stderr).toBe(0);
  });

  it('--platform linux/arm64 copies one platform into a new index (digest changes)', async () => {
    const dest = join(tmpDir(), 'arm');
    const r = await runCli(
      [
        'copy',
        '--platform',
        'linux/arm64',
        '--json',
        `docker://${registry.host}/team/app:v1`,
        dest,
      ],
      { env: env() },
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.filteredFrom).toEqual({ digest: f.index.digest, platforms: ['linux/arm64'] });
    expect(out.descriptor.digest).not.toBe(f.index.digest);
    expect(Layout.open(dest).blobs.has(f.amd64.digest as never)).toBe(false);
  });

  it('registry → registry within docker-registry mounts blobs instead of uploading them', async () => {
    const r = await runCli(
      [
        'copy',
        '--referrers',
        '--json',
        `docker://${registry.host}/team/app:v1`,
        `docker://${registry.host}/mirror/app`,
      ],
      { env: env() },
    );
    expect(r.code, r.stderr).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.blobs.mounted).toBeGreaterThan(0);
    expect(sha256(skopeoRaw(`docker://${registry.host}/mirror/app:v1`))).toBe(f.index.digest);
    expect(out.fallbackTags).toHaveLength(3);
  });
});
