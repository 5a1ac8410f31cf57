// `ocilayout sync` through the built CLI against a real docker-registry: an image list (our YAML,
// skopeo's registry-keyed YAML, plain text) collected into one layout under full names, with
// referrers and cosign signatures; per-image platforms; re-runs skip what is there; one missing
// image fails alone. skopeo reads the names back from the layout.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { copyRefs, discoverReferrers, Layout } from '../../src/internal.js';
import { pushBlob } from '../../src/registry/blob-push.js';
import { RegistryClient } from '../../src/registry/client.js';
import { cosignKeys, cosignSignature, signatureTag } from '../helpers/cosign.js';
import { startRegistry, type RunningRegistry } from '../helpers/registry.js';
import { cliOk, runCli, runCliInTerminal } from '../helpers/run-cli.js';
import { startServeCli } from '../helpers/serve-cli.js';
import { requireTools } from '../helpers/tools.js';
import { makeFixture, type Fixture } from '../registry/fixture.js';
import { blobOf, fastRetry, opener } from '../registry/helpers.js';

const HAVE = requireTools('docker-registry', 'skopeo');
const NO_CONFIG = { path: '/nonexistent', credentials: new Map(), helpers: new Map() };

interface SyncJson {
  images: {
    image: string;
    status: string;
    digest?: string;
    platforms: string[];
    bytes: number;
    referrers: number;
    cosignTags: string[];
    error?: { code: string };
  }[];
  copied: number;
  upToDate: number;
  failed: number;
  bytes: number;
}

describe.runIf(HAVE)('ocilayout sync', () => {
  let registry: RunningRegistry;
  let dir: string;
  let multi: Fixture;
  let signed: Fixture;
  let cosigned: Fixture;
  let host: string;

  beforeAll(async () => {
    registry = await startRegistry();
    host = registry.host;
    dir = mkdtempSync(join(tmpdir(), 'ocilayout-sync-'));
    const push = (f: Fixture, to: string, referrers: boolean) =>
      copyRefs(`${f.layout.root}:v1`, `docker://${host}/${to}`, {
        referrers,
        cosignTags: false,
        retry: fastRetry(2),
        dockerConfig: NO_CONFIG,
      });
    multi = await makeFixture(join(dir, 'm'), 'per-manifest', 50_000);
    signed = await makeFixture(join(dir, 's'), 'subject-annotation', 50_000);
    cosigned = await makeFixture(join(dir, 'c'), 'per-manifest', 50_000);
    await push(multi, 'team/multi:v1', true);
    await push(signed, 'team/signed:v1', true);
    await push(cosigned, 'team/cosigned:v1', false);
    await push(cosigned, 'team/plain:v1', false);
    await push(cosigned, 'team/plain:v2', false);
    const client = new RegistryClient(host, { retry: fastRetry(2) });
    const sig = cosignSignature(cosignKeys(), `${host}/team/cosigned`, cosigned.index.digest);
    for (const b of [sig.payload, sig.config])
      await pushBlob(client, 'team/cosigned', blobOf(b.bytes), opener(b.bytes));
    await client.putManifest(
      'team/cosigned',
      signatureTag(cosigned.index.digest),
      sig.manifest.bytes,
      sig.manifest.mediaType,
    );
  }, 120_000);

  afterAll(async () => {
    await registry?.stop();
    if (dir !== undefined) rmSync(dir, { recursive: true, force: true });
  });

  it('collects a YAML list under full names, with referrers, cosign tags and platforms', async () => {
    const list = join(dir, 'images.yaml');
    writeFileSync(
      list,
      [
        'images:',
        `  - ${host}/team/multi:v1`,
        `  - name: ${host}/team/signed:v1`,
        '    platforms: [linux/amd64]',
        `  - ${host}/team/cosigned:v1 # signed with cosign`,
        '',
      ].join('\n'),
    );
    const layout = join(dir, 'bundle');
    const first = JSON.parse(await cliOk(['sync', '--json', list, layout])) as SyncJson;
    expect(first).toMatchObject({ copied: 3, upToDate: 0, failed: 0 });
    const [m, s, c] = first.images;
    expect(m).toMatchObject({ image: `${host}/team/multi:v1`, digest: multi.index.digest });
    expect(m!.referrers).toBeGreaterThanOrEqual(3); // sig, sbom, and the sbom's signature
    expect(s).toMatchObject({ image: `${host}/team/signed:v1`, platforms: ['linux/amd64'] });
    expect(s!.digest).not.toBe(signed.index.digest); // filtered to one platform: a new index
    expect(c!.cosignTags).toEqual([signatureTag(cosigned.index.digest)]);

    const tags = (await cliOk(['tags', layout])).split('\n');
    for (const name of ['team/multi:v1', 'team/signed:v1', 'team/cosigned:v1']) {
      expect(tags).toContain(`${host}/${name}`);
    }
    expect(tags).toContain(signatureTag(cosigned.index.digest));
    const l = Layout.open(layout);
    const refs = discoverReferrers(l, multi.index.digest).map((d) => d.digest);
    expect(refs).toContain(multi.sig);
    // skopeo resolves the full name inside the layout (oci:DIR:REF splits at the first colon).
    const inspect = spawnSync(
      'skopeo',
      ['inspect', '--raw', `oci:${layout}:${host}/team/multi:v1`],
      { encoding: 'utf8' },
    );
    expect(inspect.status, inspect.stderr).toBe(0);
    expect(JSON.parse(inspect.stdout)).toMatchObject({ manifests: expect.any(Array) });
    expect((await runCli(['fsck', layout])).code).toBe(0);

    // A re-run reads manifests only: every image is up to date and no byte moves.
    const again = JSON.parse(await cliOk(['sync', '--json', list, layout])) as SyncJson;
    expect(again).toMatchObject({ copied: 0, upToDate: 3, failed: 0, bytes: 0 });
  }, 120_000);

  it("reads skopeo's registry-keyed YAML: no tags means every tag", async () => {
    const list = join(dir, 'skopeo.yml');
    writeFileSync(list, `${host}:\n  images:\n    team/plain: []\n`);
    const layout = join(dir, 'plain');
    const r = JSON.parse(
      await cliOk(['sync', '--json', '--no-referrers', list, layout]),
    ) as SyncJson;
    expect(r.images.map((i) => i.image).sort()).toEqual([
      `${host}/team/plain:v1`,
      `${host}/team/plain:v2`,
    ]);
    expect(r.failed).toBe(0);
  }, 60_000);

  it("an image asked for by digest keeps containerd's digest-only name, once, beside its tag", async () => {
    const layout = join(dir, 'by-digest');
    const name = `${host}/team/plain@${cosigned.index.digest}`;
    const input = `${name}\n${host}/team/plain:v1\n`;
    const r = JSON.parse(
      await cliOk(['sync', '--json', '--no-referrers', '-', layout], { input }),
    ) as SyncJson & { images: { warnings: string[] }[] };
    expect(r).toMatchObject({ failed: 0 });
    expect(r.images[0]).toMatchObject({ image: name, digest: cosigned.index.digest });
    // A re-run adds no second entry of either name.
    await cliOk(['sync', '--json', '--no-referrers', '-', layout], { input });
    const index = Layout.open(layout).readIndex();
    const byName = index.manifests.filter(
      (e) => e.annotations?.['io.containerd.image.name'] === name,
    );
    expect(byName).toHaveLength(1);
    expect(byName[0]!.digest).toBe(cosigned.index.digest);
    // ref.name holds a tag (image-spec); the digest-only name is containerd's alone.
    expect(byName[0]!.annotations?.['org.opencontainers.image.ref.name']).toBeUndefined();
    expect(index.manifests).toHaveLength(2);
    // Listed among names by info, never among tags; resolvable by the name.
    expect((await cliOk(['tags', layout])).trim().split('\n')).toEqual([`${host}/team/plain:v1`]);
    expect(await cliOk(['info', layout])).toContain(`by digest:     1 (${name})`);
    expect((await cliOk(['resolve', `${layout}:${name}`])).trim()).toBe(cosigned.index.digest);
    expect((await runCli(['fsck', layout])).code).toBe(0);
  }, 60_000);

  describe('a digest-named image keeps its name beyond the layout', () => {
    let layout: string;
    let name: string;
    beforeAll(async () => {
      layout = join(dir, 'by-digest-only');
      name = `${host}/team/plain@${cosigned.index.digest}`;
      // Beside an image of another repository: two entries make `copy LAYOUT DEST` whole-layout.
      await cliOk(['sync', '--no-referrers', '-', layout], {
        input: `${name}\n${host}/team/signed:v1\n`,
      });
    }, 60_000);

    it('a whole-layout copy to a registry host pushes it into its repository by digest', async () => {
      const second = await startRegistry();
      try {
        const pushed = JSON.parse(
          await cliOk(['copy', '--json', '--no-referrers', layout, `docker://${second.host}`]),
        ) as { copied: number; skipped: number };
        expect(pushed).toMatchObject({ copied: 2, skipped: 0 });
        const client = new RegistryClient(second.host, { retry: fastRetry(2) });
        const there = await client.headManifest('team/plain', cosigned.index.digest);
        expect(there?.digest).toBe(cosigned.index.digest);
        expect(await client.listTags('team/plain')).toEqual([]);
      } finally {
        await second.stop();
      }
    }, 60_000);

    it('a whole-layout copy into another layout keeps the name', async () => {
      const copied = join(dir, 'by-digest-copy');
      await cliOk(['copy', '--no-referrers', layout, copied]);
      expect(await cliOk(['info', copied])).toContain(`by digest:     1 (${name})`);
    }, 60_000);

    it('oci-archive export and import keep it, in the containerd annotation only', async () => {
      const tar = join(dir, 'by-digest.tar');
      await cliOk(['export', layout, tar]);
      const imported = join(dir, 'by-digest-imported');
      await cliOk(['import', tar, imported]);
      const entries = Layout.open(imported).readIndex().manifests;
      const byDigest = entries.filter((e) => e.digest === cosigned.index.digest);
      expect(byDigest.map((e) => e.annotations)).toEqual([{ 'io.containerd.image.name': name }]);
    }, 60_000);

    it('serve lists its repository, with no tag, and serves the manifest by digest', async () => {
      const s = await startServeCli(
        layout,
        [],
        ({ stderr }) => /on http:\/\/([\d.]+:\d+)/.exec(stderr)?.[1],
      );
      const base = `http://${s.ready}/v2`;
      const catalog = (await (await fetch(`${base}/_catalog`)).json()) as {
        repositories: string[];
      };
      expect(catalog.repositories).toContain('team/plain');
      const tags = await fetch(`${base}/team/plain/tags/list`);
      expect(tags.status).toBe(200);
      expect(((await tags.json()) as { tags: string[] | null }).tags ?? []).toEqual([]);
      const manifest = await fetch(`${base}/team/plain/manifests/${cosigned.index.digest}`, {
        headers: { accept: 'application/vnd.oci.image.index.v1+json' },
      });
      expect(manifest.status).toBe(200);
      expect(manifest.headers.get('docker-content-digest')).toBe(cosigned.index.digest);
    }, 60_000);

    it('is a root: gc collects none of it, fsck finds nothing wrong', async () => {
      const gc = JSON.parse(await cliOk(['gc', '--json', layout])) as {
        removedBlobs: string[];
        removedEntries: unknown[];
      };
      expect(gc).toMatchObject({ removedBlobs: [], removedEntries: [] });
      expect(Layout.open(layout).resolve({ tag: name }).digest).toBe(cosigned.index.digest);
      expect((await runCli(['fsck', layout])).code).toBe(0);
    }, 60_000);
  });

  it('one missing image fails alone: the others are collected and the report names it', async () => {
    const layout = join(dir, 'partial');
    const r = await runCli(['sync', '--json', '-', layout], {
      input: `${host}/team/nothere:v1\n${host}/team/plain:v1\n`,
    });
    expect(r.code).toBe(3); // E_NOT_FOUND's exit status
    expect(r.stderr).toContain('team/nothere');
    const report = JSON.parse(r.stdout) as SyncJson;
    expect(report).toMatchObject({ copied: 1, failed: 1 });
    expect(report.images[0]).toMatchObject({ status: 'failed', error: { code: 'E_NOT_FOUND' } });
    const tags = (await cliOk(['tags', layout])).split('\n');
    expect(tags).toContain(`${host}/team/plain:v1`);
    expect(tags.some((t) => t.includes('nothere'))).toBe(false);
  }, 60_000);

  it('on a terminal, one progress line for the run, cleared before the summary', () => {
    const list = join(dir, 'tty.txt');
    writeFileSync(list, `${host}/team/multi:v1\n${host}/team/plain:v2\n`);
    const r = runCliInTerminal(['sync', '--no-referrers', list, join(dir, 'tty')]);
    expect(r.code, r.output).toBe(0);
    // frames are drawn with a carriage return and erased to the end of the line
    expect(r.output).toMatch(/\rsync \[\d\/2\]/);
    expect(r.output).toMatch(/synced 2 images/);
  });

  it('refuses a malformed list before fetching anything', async () => {
    const layout = join(dir, 'never');
    const r = await runCli(['sync', '-', layout], {
      input: `${host}/team/plain:v1\n${host}/Team/Bad:v1\n`,
    });
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('stdin:2');
    expect(spawnSync('test', ['-e', layout]).status).not.toBe(0);
  });
});
