// Image names through real engines. Several repositories sharing a tag (`latest`), saved by
// `ctr images export` (bare ref.name `latest` beside each io.containerd.image.name) and by
// `podman save -m` (a docker archive with full RepoTags), import as separate named images and
// export again so that the engines restore every name: `ctr images import` for oci and docker
// archives, `podman load` for docker archives, and `podman pull oci-archive:FILE:NAME` per image
// (podman load takes one image per oci-archive). The images are made by our own code and loaded
// into the engines from an archive: no network. Needs root (a private containerd daemon).
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { digestOf } from '../../src/digest.js';
import { Annotation, MediaType } from '../../src/media-types.js';
import type { Descriptor } from '../../src/schema/descriptor.js';
import {
  imageIndex,
  imageManifest,
  makeLayout,
  type BlobContent,
  type Descs,
} from '../helpers/make-layout.js';
import { makeTar } from '../helpers/make-tar.js';
import { cliOk, runCli } from '../helpers/run-cli.js';
import { enginesAvailable, podmanIn, startContainerd, type Containerd } from './judge/engines.js';

const NAMES = [
  'docker.io/library/alpha:latest',
  'docker.io/library/beta:latest',
  'localhost:5000/team/gamma:latest',
];
const AVAILABLE = enginesAvailable();

let work = '';
let containerd: Containerd | undefined;
let seed = '';

/** One small image per name (a real layer tar, a config whose diffID is that tar), named in full. */
function seedLayout(root: string): void {
  const blobs: Record<string, (d: Descs) => BlobContent> = {};
  NAMES.forEach((name, i) => {
    const layer = makeTar([{ name: `hello-${i}.txt`, body: `image ${name}\n` }]);
    blobs[`layer${i}`] = () => layer;
    blobs[`config${i}`] = () => ({
      architecture: 'amd64',
      os: 'linux',
      config: {},
      rootfs: { type: 'layers', diff_ids: [digestOf(layer)] },
    });
    blobs[`manifest${i}`] = (d) =>
      imageManifest(d[`config${i}`]!, [{ ...d[`layer${i}`]!, mediaType: MediaType.Layer }]);
  });
  makeLayout(
    {
      blobs,
      index: (d) =>
        imageIndex(
          NAMES.map((name, i): Descriptor => ({
            ...d[`manifest${i}`]!,
            annotations: { [Annotation.ContainerdImageName]: name, [Annotation.RefName]: name },
          })),
        ),
    },
    root,
  );
}

/** The index.json inside a tar (GNU tar extracts that one member). */
function archiveIndex(archive: string): { manifests: Descriptor[] } {
  const r = spawnSync('tar', ['-xOf', archive, 'index.json'], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`tar -xOf ${archive} index.json: ${r.stderr}`);
  return JSON.parse(r.stdout) as { manifests: Descriptor[] };
}

beforeAll(async () => {
  if (!AVAILABLE) return;
  work = mkdtempSync(join(tmpdir(), 'ocilayout-names-'));
  containerd = await startContainerd(join(work, 'containerd'));
  seed = join(work, 'seed');
  seedLayout(seed);
  const seedTar = join(work, 'seed.tar');
  await cliOk(['export', seed, seedTar]);
  containerd.ctr('seed', 'images', 'import', '--no-unpack', seedTar);
  expect(containerd.images('seed')).toEqual(NAMES);
}, 120_000);

afterAll(async () => {
  await containerd?.stop();
  if (work !== '') rmSync(work, { recursive: true, force: true });
});

/** Import `archive` into a new layout, check names and honest counts, export it both ways. */
async function importAndReexport(
  archive: string,
  label: string,
): Promise<{ layout: string; oci: string; docker: string }> {
  const layout = join(work, `${label}-layout`); // does not exist yet
  await cliOk(['import', archive, layout]);
  expect((await cliOk(['tags', layout])).trim().split('\n')).toEqual(NAMES);
  // Each full name resolves on its own; the shared bare tag is ambiguous and says so.
  for (const name of NAMES)
    expect(await cliOk(['resolve', `${layout}:${name}`])).toMatch(/^sha256:/);
  const ambiguous = await runCli(['resolve', `${layout}:latest`]);
  expect(ambiguous.code).not.toBe(0);
  expect(ambiguous.stderr).toContain('E_INVALID_REFERENCE');
  for (const name of NAMES) expect(ambiguous.stderr).toContain(name);
  // Re-import: nothing new, every image counted as present.
  const again = await runCli(['import', archive, layout]);
  expect(again.code).toBe(0);
  expect(again.stderr).toContain(`0 added, ${NAMES.length} already present`);
  const oci = join(work, `${label}-oci.tar`);
  const docker = join(work, `${label}-docker.tar`);
  await cliOk(['export', layout, oci]);
  await cliOk(['export', layout, docker, '--format', 'docker']);
  return { layout, oci, docker };
}

/** Every name comes back from both archives in containerd, and from the docker one in podman. */
function expectEnginesRestoreNames(oci: string, docker: string, label: string): void {
  const c = containerd!;
  c.ctr(`${label}-oci`, 'images', 'import', '--no-unpack', oci);
  expect(c.images(`${label}-oci`)).toEqual(NAMES);
  c.ctr(`${label}-docker`, 'images', 'import', '--no-unpack', docker);
  expect(c.images(`${label}-docker`)).toEqual(NAMES);
  const loaded = podmanIn(join(work, `${label}-podman-load`));
  loaded.run('load', '-i', docker);
  expect(loaded.images()).toEqual(NAMES);
  const pulled = podmanIn(join(work, `${label}-podman-pull`));
  for (const name of NAMES) pulled.pullArchive(oci, name);
  expect(pulled.images()).toEqual(NAMES);
}

describe.runIf(AVAILABLE)('image names through containerd and podman', () => {
  it('ctr images export of three repositories sharing `latest`', async () => {
    const archive = join(work, 'ctr.tar');
    containerd!.ctr('seed', 'images', 'export', archive, ...NAMES);
    // The shape that used to collide: one bare ref.name for all three.
    const entries = archiveIndex(archive).manifests;
    expect(entries.map((e) => e.annotations?.[Annotation.RefName])).toEqual(
      NAMES.map(() => 'latest'),
    );
    const { oci, docker } = await importAndReexport(archive, 'ctr');
    expectEnginesRestoreNames(oci, docker, 'ctr');
  }, 300_000);

  it('an OCI export names bare tags with --name; ctr import and podman load take that name', async () => {
    // A layout with only a bare tag, as oras or regctl leave it.
    const bare = join(work, 'bare');
    await cliOk(['copy', `${seed}:${NAMES[0]!}`, `${bare}:v1`]);
    expect((await cliOk(['tags', bare])).trim()).toBe('v1');
    const oci = join(work, 'bare-oci.tar');
    await cliOk(['export', bare, oci, '--ref', 'v1', '--name', 'example.com/team/app']);
    containerd!.ctr('bare', 'images', 'import', '--no-unpack', oci);
    expect(containerd!.images('bare')).toEqual(['example.com/team/app:v1']);
    const podman = podmanIn(join(work, 'bare-podman'));
    podman.run('load', '-i', oci);
    expect(podman.images()).toEqual(['example.com/team/app:v1']);
  }, 300_000);

  it('podman save -m of three repositories sharing `latest`', async () => {
    const podman = podmanIn(join(work, 'podman-seed'));
    for (const name of NAMES) podman.pullArchive(join(work, 'seed.tar'), name);
    expect(podman.images()).toEqual(NAMES);
    const archive = join(work, 'podman.tar');
    podman.run('save', '-m', '-o', archive, ...NAMES);
    const { oci, docker } = await importAndReexport(archive, 'podman');
    expectEnginesRestoreNames(oci, docker, 'podman');
  }, 300_000);
});
