// Whole-layout copies through the built CLI against real docker-registry instances, checked with
// skopeo: the air-gap walk-through of the README (sync five images into a layout, export, import
// elsewhere, copy the whole layout into a second registry: every name, digest and signature
// arrives), --prefix, re-runs that resume, one image's failure reported alone, and the layout →
// layout and bare-tag forms.
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyRefs, Layout, parseDigest } from '../../src/internal.js';
import { pushBlob } from '../../src/registry/blob-push.js';
import { RegistryClient } from '../../src/registry/client.js';
import { listRemoteReferrers } from '../../src/registry/remote-referrers.js';
import { cosignKeys, cosignSignature, signatureTag } from '../helpers/cosign.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { cliOk, runCli } from '../helpers/run-cli.js';
import { requireTools } from '../helpers/tools.js';
import { makeFixture, type Fixture } from '../registry/fixture.js';
import { blobOf, fastRetry, opener } from '../registry/helpers.js';

const HAVE = requireTools('docker-registry', 'skopeo');
const NO_CONFIG = { path: '/nonexistent', credentials: new Map(), helpers: new Map() };

interface CopyAllJson {
  source: string;
  destination: string;
  images: {
    source: string;
    destination?: string;
    status: string;
    digest?: string;
    referrers: number;
    cosignTags: string[];
    reason?: string;
    error?: { code: string };
  }[];
  copied: number;
  upToDate: number;
  failed: number;
  skipped: number;
  bytes: number;
}

function skopeo(...args: string[]): string {
  const r = spawnSync('skopeo', [...args], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`skopeo ${args.join(' ')}: ${r.stderr}`);
  return r.stdout;
}

/** The digest of what a registry reference names, as skopeo reads it. */
function manifestDigest(ref: string): string {
  const raw = spawnSync('skopeo', ['inspect', '--raw', '--tls-verify=false', '--no-creds', ref]);
  if (raw.status !== 0) throw new Error(`skopeo inspect --raw ${ref}: ${raw.stderr.toString()}`);
  return `sha256:${createHash('sha256').update(raw.stdout).digest('hex')}`;
}

/** The tags skopeo lists, without the referrers fallback tags (`sha256-<hex>`, no suffix). */
function listTags(ref: string): string[] {
  const all = (
    JSON.parse(skopeo('list-tags', '--tls-verify=false', '--no-creds', ref)) as { Tags: string[] }
  ).Tags;
  return all.filter((t) => !/^sha256-[0-9a-f]{64}$/.test(t));
}

describe.runIf(HAVE)('copy LAYOUT (every image)', () => {
  let origin: RunningRegistry;
  let mirror: RunningRegistry;
  let dir: string;
  let multi: Fixture;
  let signed: Fixture;
  let cosigned: Fixture;
  let o: string;

  beforeAll(async () => {
    [origin, mirror] = await Promise.all([startRegistry(), startRegistry()]);
    o = origin.host;
    dir = mkdtempSync(join(tmpdir(), 'ocilayout-copyall-'));
    const push = (f: Fixture, to: string, referrers: boolean) =>
      copyRefs(`${f.layout.root}:v1`, `docker://${o}/${to}`, {
        referrers,
        cosignTags: false,
        retry: fastRetry(2),
        dockerConfig: NO_CONFIG,
      });
    multi = await makeFixture(join(dir, 'm'), 'per-manifest', 40_000);
    signed = await makeFixture(join(dir, 's'), 'subject-annotation', 40_000);
    cosigned = await makeFixture(join(dir, 'c'), 'per-manifest', 40_000);
    await push(multi, 'team/multi:v1', true);
    await push(signed, 'team/signed:v1', true);
    await push(cosigned, 'team/cosigned:v1', false);
    await push(cosigned, 'team/plain:v1', false);
    await push(signed, 'other/plain:v2', false);
    const client = new RegistryClient(o, { retry: fastRetry(2) });
    const sig = cosignSignature(cosignKeys(), `${o}/team/cosigned`, cosigned.index.digest);
    for (const b of [sig.payload, sig.config])
      await pushBlob(client, 'team/cosigned', blobOf(b.bytes), opener(b.bytes));
    await client.putManifest(
      'team/cosigned',
      signatureTag(cosigned.index.digest),
      sig.manifest.bytes,
      sig.manifest.mediaType,
    );
  }, 180_000);

  afterAll(async () => {
    await Promise.all([origin?.stop(), mirror?.stop()]);
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('air gap: sync, export, import elsewhere, whole-layout copy into a second registry', async () => {
    const list = join(dir, 'images.txt');
    const images = ['team/multi:v1', 'team/signed:v1', 'team/cosigned:v1', 'team/plain:v1'];
    writeFileSync(list, [...images, 'other/plain:v2'].map((i) => `${o}/${i}`).join('\n'));
    const bundle = join(dir, 'bundle');
    await cliOk(['sync', list, bundle]);
    const tar = join(dir, 'bundle.tar');
    await cliOk(['export', bundle, tar]);
    // "Elsewhere": a fresh layout from the archive alone, the origin registry out of the picture.
    const inside = join(dir, 'inside');
    await cliOk(['import', tar, inside]);
    await origin.stop();

    const out = await cliOk(['copy', '--json', inside, `docker://${mirror.host}`]);
    const r = JSON.parse(out) as CopyAllJson;
    expect(r).toMatchObject({ copied: 5, upToDate: 0, failed: 0, skipped: 0 });
    const m = mirror.host;
    const expected: Record<string, string> = {
      'team/multi:v1': multi.index.digest,
      'team/signed:v1': signed.index.digest,
      'team/cosigned:v1': cosigned.index.digest,
      'team/plain:v1': cosigned.index.digest,
      'other/plain:v2': signed.index.digest,
    };
    for (const [name, digest] of Object.entries(expected)) {
      const image = r.images.find((i) => i.source === `${o}/${name}`);
      expect(image, name).toMatchObject({ destination: `docker://${m}/${name}`, digest });
      // skopeo reads the same name and digest on the second registry.
      expect(manifestDigest(`docker://${m}/${name}`), name).toBe(digest);
    }
    // Referrers: the signatures and SBOMs arrived, findable by their subjects.
    const client = new RegistryClient(m, { retry: fastRetry(2) });
    for (const [repo, f] of [
      ['team/multi', multi],
      ['team/signed', signed],
    ] as const) {
      const found = await listRemoteReferrers(client, repo, parseDigest(f.index.digest));
      expect(
        found.descriptors.map((d) => d.digest),
        repo,
      ).toContain(f.sig);
      const sbom = await listRemoteReferrers(client, repo, parseDigest(f.amd64.digest));
      expect(
        sbom.descriptors.map((d) => d.digest),
        repo,
      ).toContain(f.sbom);
    }
    // The cosign signature tag arrived beside its image, byte for byte.
    const sigTag = signatureTag(cosigned.index.digest);
    expect(listTags(`docker://${m}/team/cosigned`)).toContain(sigTag);
    expect(r.images.find((i) => i.source === `${o}/team/cosigned:v1`)?.cosignTags).toEqual([
      sigTag,
    ]);
    const sigDigest = Layout.open(bundle).resolve({ tag: sigTag }).digest;
    expect(manifestDigest(`docker://${m}/team/cosigned:${sigTag}`)).toBe(sigDigest);

    // A re-run moves nothing: every image is up to date.
    const again = JSON.parse(
      await cliOk(['copy', '--json', inside, `docker://${m}`]),
    ) as CopyAllJson;
    expect(again).toMatchObject({ copied: 0, upToDate: 5, failed: 0, bytes: 0 });
  }, 240_000);

  it('--prefix puts every repository under a path; bare tags are skipped with the reason', async () => {
    const lay = join(dir, 'prefixed');
    await copyRefs(`${multi.layout.root}:v1`, `${lay}:example.com/team/app:v1`, {});
    await copyRefs(`${signed.layout.root}:v1`, `${lay}:v9`, {});
    const r = await runCli([
      'copy',
      '--json',
      '--prefix',
      'mirror/x',
      lay,
      `docker://${mirror.host}`,
    ]);
    expect(r.code, r.stderr).toBe(0);
    const report = JSON.parse(r.stdout) as CopyAllJson;
    expect(report).toMatchObject({ copied: 1, skipped: 1, failed: 0 });
    expect(report.images.find((i) => i.source === 'v9')).toMatchObject({
      status: 'skipped',
      reason: expect.stringContaining('names no repository') as unknown,
    });
    expect(r.stderr).toContain('v9: skipped');
    expect(manifestDigest(`docker://${mirror.host}/mirror/x/team/app:v1`)).toBe(multi.index.digest);
  }, 120_000);

  it('bare tags go to docker://HOST/REPO, untagged ones are skipped there', async () => {
    const lay = join(dir, 'tags');
    await copyRefs(`${multi.layout.root}:v1`, `${lay}:v1`, { referrers: true });
    await copyRefs(`${signed.layout.root}:v1`, `${lay}:v2`, {});
    await copyRefs(`${cosigned.layout.root}@${cosigned.index.digest}`, lay, {});
    const report = JSON.parse(
      await cliOk(['copy', '--json', lay, `docker://${mirror.host}/tags/app`]),
    ) as CopyAllJson;
    expect(report).toMatchObject({ copied: 2, skipped: 1, failed: 0 });
    expect(listTags(`docker://${mirror.host}/tags/app`).sort()).toEqual(['v1', 'v2']);
    expect(manifestDigest(`docker://${mirror.host}/tags/app:v2`)).toBe(signed.index.digest);
    // Referrers are on by default for a whole layout.
    const client = new RegistryClient(mirror.host, { retry: fastRetry(2) });
    const found = await listRemoteReferrers(client, 'tags/app', parseDigest(multi.index.digest));
    expect(found.descriptors.map((d) => d.digest)).toContain(multi.sig);
  }, 120_000);

  it('one image failing is reported alone, and a re-run after the repair resumes', async () => {
    const lay = join(dir, 'broken');
    await copyRefs(`${multi.layout.root}:v1`, `${lay}:v1`, { referrers: true });
    await copyRefs(`${signed.layout.root}:v1`, `${lay}:v2`, { referrers: true });
    // A layer of the v2 image only (signed's arm64 manifest's blobs) goes missing.
    const only = signed.imageBlobs.find(
      (b) => !multi.imageBlobs.includes(b) && b !== signed.index.digest,
    );
    expect(only).toBeDefined();
    const file = join(lay, 'blobs', ...only!.split(':'));
    renameSync(file, `${file}.away`);
    const r = await runCli(['copy', '--json', lay, `docker://${mirror.host}/broken/app`]);
    expect(r.code).not.toBe(0);
    const report = JSON.parse(r.stdout) as CopyAllJson;
    expect(report).toMatchObject({ copied: 1, failed: 1 });
    expect(report.images.find((i) => i.source === 'v2')).toMatchObject({
      status: 'failed',
      destination: `docker://${mirror.host}/broken/app:v2`,
    });
    expect(JSON.parse(r.stderr)).toMatchObject({ error: { code: 'E_NOT_FOUND' } });
    expect(listTags(`docker://${mirror.host}/broken/app`)).toEqual(['v1']);
    copyFileSync(`${file}.away`, file);
    const again = JSON.parse(
      await cliOk(['copy', '--json', lay, `docker://${mirror.host}/broken/app`]),
    ) as CopyAllJson;
    expect(again).toMatchObject({ copied: 1, upToDate: 1, failed: 0 });
    expect(manifestDigest(`docker://${mirror.host}/broken/app:v2`)).toBe(signed.index.digest);
  }, 120_000);

  it('layout → layout copies every name, untagged entries by digest, with referrers', async () => {
    const lay = join(dir, 'l2l');
    await copyRefs(`${multi.layout.root}:v1`, `${lay}:example.com/team/app:v1`, {
      referrers: true,
    });
    await copyRefs(`${signed.layout.root}:v1`, `${lay}:v2`, { referrers: true });
    await copyRefs(`${cosigned.layout.root}@${cosigned.index.digest}`, lay, {});
    const to = join(dir, 'l2l-copy');
    const report = JSON.parse(await cliOk(['copy', '--json', lay, to])) as CopyAllJson;
    expect(report).toMatchObject({ copied: 3, failed: 0, skipped: 0 });
    expect((await cliOk(['tags', to])).trim().split('\n').sort()).toEqual([
      'example.com/team/app:v1',
      'v2',
    ]);
    const dst = Layout.open(to);
    expect(dst.readIndex().manifests.some((e) => e.digest === cosigned.index.digest)).toBe(true);
    // skopeo finds the full name in the copy.
    expect(
      JSON.parse(skopeo('inspect', '--raw', `oci:${to}:example.com/team/app:v1`)),
    ).toMatchObject({ manifests: expect.any(Array) as unknown });
    const refs = await cliOk(['discover', `${to}:v2`]);
    expect(refs).toContain(signed.sig);
    expect((await runCli(['fsck', to])).code).toBe(0);
  }, 120_000);

  it('refuses what a whole-layout copy cannot mean, before anything moves', async () => {
    const lay = join(dir, 'refuse');
    await copyRefs(`${multi.layout.root}:v1`, `${lay}:a.example/team/app:v1`, {});
    await copyRefs(`${signed.layout.root}:v1`, `${lay}:b.example/team/app:v1`, {});
    // Two images for one repository and tag.
    const clash = await runCli(['copy', '--json', lay, `docker://${mirror.host}`]);
    expect(clash.code).not.toBe(0);
    expect(clash.stderr).toContain('E_CONFLICT');
    expect(
      spawnSync('skopeo', ['list-tags', '--tls-verify=false', `docker://${mirror.host}/team/app`])
        .status,
    ).not.toBe(0);
    // A tag in the destination, --prefix elsewhere, an archive.
    for (const [args, code] of [
      [[lay, `docker://${mirror.host}/x/y:v1`], 'E_USAGE'],
      [['--prefix', 'p', lay, `docker://${mirror.host}/x/y`], 'E_USAGE'],
      [[lay, `oci-archive:${join(dir, 'x.tar')}`], 'E_USAGE'],
      [['--prefix', 'Bad', lay, `docker://${mirror.host}`], 'E_INVALID_REFERENCE'],
    ] as const) {
      const r = await runCli(['copy', '--json', ...args]);
      expect(r.code, args.join(' ')).toBe(2);
      expect(r.stderr, args.join(' ')).toContain(code);
    }
  }, 60_000);
});
