// Inputs written by the real tools, for feeding into ocilayout (makePeerLayouts(OUT)); each entry
// records what its writer says it holds (tag -> manifest digest from the writer's own index.json or
// archive), never what ocilayout reads. Written to OUT/peers.json as well.
//   umoci-image          umoci: tag v1 (+ latest), two gzip layers, config with cmd/env/label; gc'd
//   umoci-multitag       umoci: v1, v2 (distinct), aliases latest -> v2 and stable -> v1, arm64 image "arm"
//   skopeo-layout        skopeo oci: copy of umoci-image v1, tags v1 and v1-copy
//   skopeo-v2s2-layout   skopeo --format v2s2 into oci: (a Docker schema2 manifest, unreadable by skopeo itself)
//   image.oci.tar        skopeo oci-archive, tag v1
//   image.docker.tar     skopeo docker-archive, RepoTags example.com/peer/image:v1
//   image.dir            skopeo dir: transport
//   from-docker-archive  skopeo docker-archive -> oci: (layers recompressed: a new digest)
//   multiarch-index      the v2 (amd64) and arm images of umoci-multitag in an OCI index tagged "multi"
//   crafted/ref-<conv>   umoci-image plus a signature on v1 in each referrers convention
//                        (craft-referrer-layout.mjs: our own code, not a peer's)
import { spawnSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import {
  chmodSync,
  cpSync,
  mkdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MEDIA, REF_NAME } from './walk.js';

const CRAFT = fileURLToPath(new URL('./craft-referrer-layout.mjs', import.meta.url));
const CONVENTIONS = ['fallback', 'annotation', 'olareg', 'manifest', 'none'] as const;

export interface PeerEntry {
  path: string;
  kind: 'oci-layout' | 'oci-archive' | 'docker-archive' | 'dir';
  writer: string;
  tags?: Record<string, string>;
  repoTags?: string[];
  configDigest?: string;
  manifestDigest?: string;
  convention?: string;
  referrer?: string;
  fallbackTag?: string;
}

function ok(cmd: string, args: string[]): Buffer {
  const r = spawnSync(cmd, args, { timeout: 120_000, maxBuffer: 64 << 20 });
  if (r.error !== undefined) throw r.error;
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(' ')} exited ${r.status}: ${r.stderr.toString('utf8')}`);
  }
  return r.stdout;
}
const umoci = (...args: string[]): Buffer => ok('umoci', args);
const skopeo = (...args: string[]): Buffer => ok('skopeo', ['--insecure-policy', ...args]);

interface Entry {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Record<string, string>;
}
const entries = (indexJson: string): Entry[] =>
  (JSON.parse(indexJson) as { manifests: Entry[] }).manifests;
const entryOf = (indexJson: string, tag: string): Entry => {
  const e = entries(indexJson).find((m) => m.annotations?.[REF_NAME] === tag);
  if (e === undefined) throw new Error(`no tag ${tag} in index.json`);
  return e;
};
const tagsOf = (dir: string, tags: string[]): Record<string, string> => {
  const index = readFileSync(join(dir, 'index.json'), 'utf8');
  return Object.fromEntries(tags.map((t) => [t, entryOf(index, t).digest]));
};

export function makePeerLayouts(out: string): PeerEntry[] {
  mkdirSync(out, { recursive: true });
  const src = join(out, '.src');
  rmSync(src, { recursive: true, force: true });
  // A text file, an empty file, a symlink, an executable, random data, a nested directory.
  mkdirSync(join(src, 'l1', 'etc', 'peer'), { recursive: true });
  mkdirSync(join(src, 'l2', 'app', 'bin'), { recursive: true });
  mkdirSync(join(src, 'l3', 'etc'), { recursive: true });
  writeFileSync(join(src, 'l1', 'etc', 'peer', 'hello.txt'), 'hello from layer 1\n');
  writeFileSync(join(src, 'l1', 'etc', 'peer', 'empty'), '');
  symlinkSync('hello.txt', join(src, 'l1', 'etc', 'peer', 'link'));
  writeFileSync(join(src, 'l2', 'app', 'bin', 'run.sh'), '#!/bin/sh\necho peer\n');
  chmodSync(join(src, 'l2', 'app', 'bin', 'run.sh'), 0o755);
  writeFileSync(join(src, 'l2', 'app', 'data.bin'), randomBytes(64 * 1024));
  writeFileSync(join(src, 'l3', 'etc', 'version'), 'v2\n');

  const peers: PeerEntry[] = [];
  const image = join(out, 'umoci-image');
  rmSync(image, { recursive: true, force: true });
  umoci('init', '--layout', image);
  umoci('new', '--image', `${image}:v1`);
  umoci('insert', '--image', `${image}:v1`, join(src, 'l1', 'etc'), '/etc');
  umoci('insert', '--image', `${image}:v1`, join(src, 'l2', 'app'), '/app');
  umoci(
    'config',
    '--image',
    `${image}:v1`,
    '--config.cmd',
    '/app/bin/run.sh',
    '--config.env',
    'PEER=umoci',
    '--config.label',
    'org.example.peer=umoci',
    '--author',
    'interop',
  );
  umoci('tag', '--image', `${image}:v1`, 'latest');
  umoci('gc', '--layout', image);
  peers.push({
    path: 'umoci-image',
    kind: 'oci-layout',
    writer: 'umoci',
    tags: tagsOf(image, ['v1', 'latest']),
  });

  const multi = join(out, 'umoci-multitag');
  rmSync(multi, { recursive: true, force: true });
  cpSync(image, multi, { recursive: true });
  umoci('new', '--image', `${multi}:v2`);
  umoci('insert', '--image', `${multi}:v2`, join(src, 'l3', 'etc'), '/etc');
  umoci('config', '--image', `${multi}:v2`, '--config.cmd', '/bin/true', '--author', 'interop');
  umoci('rm', '--image', `${multi}:latest`);
  umoci('tag', '--image', `${multi}:v2`, 'latest');
  umoci('tag', '--image', `${multi}:v1`, 'stable');
  umoci('new', '--image', `${multi}:arm`);
  umoci('insert', '--image', `${multi}:arm`, join(src, 'l3', 'etc'), '/etc');
  umoci(
    'config',
    '--image',
    `${multi}:arm`,
    '--architecture',
    'arm64',
    '--os',
    'linux',
    '--author',
    'interop',
  );
  umoci('gc', '--layout', multi);
  peers.push({
    path: 'umoci-multitag',
    kind: 'oci-layout',
    writer: 'umoci',
    tags: tagsOf(multi, ['v1', 'v2', 'latest', 'stable', 'arm']),
  });

  const at = (name: string): string => {
    const p = join(out, name);
    rmSync(p, { recursive: true, force: true });
    return p;
  };
  const skopeoLayout = at('skopeo-layout');
  skopeo('copy', '-q', `oci:${image}:v1`, `oci:${skopeoLayout}:v1`);
  skopeo('copy', '-q', `oci:${image}:v1`, `oci:${skopeoLayout}:v1-copy`);
  peers.push({
    path: 'skopeo-layout',
    kind: 'oci-layout',
    writer: 'skopeo',
    tags: tagsOf(skopeoLayout, ['v1', 'v1-copy']),
  });
  const v2s2 = at('skopeo-v2s2-layout');
  skopeo('copy', '-q', '--format', 'v2s2', `oci:${image}:v1`, `oci:${v2s2}:v1`);
  peers.push({
    path: 'skopeo-v2s2-layout',
    kind: 'oci-layout',
    writer: 'skopeo',
    tags: tagsOf(v2s2, ['v1']),
  });

  const ociTar = at('image.oci.tar');
  skopeo('copy', '-q', `oci:${image}:v1`, `oci-archive:${ociTar}:v1`);
  const tarIndex = ok('tar', ['-xOf', ociTar, 'index.json']).toString('utf8');
  peers.push({
    path: 'image.oci.tar',
    kind: 'oci-archive',
    writer: 'skopeo',
    tags: { v1: entryOf(tarIndex, 'v1').digest },
  });

  const dockerTar = at('image.docker.tar');
  skopeo('copy', '-q', `oci:${image}:v1`, `docker-archive:${dockerTar}:example.com/peer/image:v1`);
  const dockerManifest = JSON.parse(
    ok('tar', ['-xOf', dockerTar, 'manifest.json']).toString('utf8'),
  ) as { Config: string }[];
  peers.push({
    path: 'image.docker.tar',
    kind: 'docker-archive',
    writer: 'skopeo',
    repoTags: ['example.com/peer/image:v1'],
    configDigest: `sha256:${dockerManifest[0]!.Config.replace(/\.json$/, '')}`,
  });

  const dir = at('image.dir');
  skopeo('copy', '-q', `oci:${image}:v1`, `dir:${dir}`);
  const manifestBytes = readFileSync(join(dir, 'manifest.json'));
  peers.push({
    path: 'image.dir',
    kind: 'dir',
    writer: 'skopeo',
    manifestDigest: `sha256:${createHash('sha256').update(manifestBytes).digest('hex')}`,
  });

  const fromDocker = at('from-docker-archive');
  skopeo('copy', '-q', `docker-archive:${dockerTar}`, `oci:${fromDocker}:v1`);
  peers.push({
    path: 'from-docker-archive',
    kind: 'oci-layout',
    writer: 'skopeo',
    tags: tagsOf(fromDocker, ['v1']),
  });

  // An OCI index over two umoci images (umoci writes no indexes itself).
  const multiarch = at('multiarch-index');
  cpSync(multi, multiarch, { recursive: true });
  const mIndex = readFileSync(join(multiarch, 'index.json'), 'utf8');
  const child = (tag: string, architecture: string): object => {
    const e = entryOf(mIndex, tag);
    return {
      mediaType: e.mediaType,
      digest: e.digest,
      size: e.size,
      platform: { architecture, os: 'linux' },
    };
  };
  const indexBytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA.ociIndex,
      manifests: [child('v2', 'amd64'), child('arm', 'arm64')],
    }),
  );
  const hex = createHash('sha256').update(indexBytes).digest('hex');
  writeFileSync(join(multiarch, 'blobs', 'sha256', hex), indexBytes);
  const top = JSON.parse(mIndex) as { manifests: Entry[] };
  top.manifests.push({
    mediaType: MEDIA.ociIndex,
    digest: `sha256:${hex}`,
    size: indexBytes.length,
    annotations: { [REF_NAME]: 'multi' },
  });
  writeFileSync(join(multiarch, 'index.json'), JSON.stringify(top));
  peers.push({
    path: 'multiarch-index',
    kind: 'oci-layout',
    writer: 'umoci + an index we wrote',
    tags: { multi: `sha256:${hex}` },
  });

  mkdirSync(join(out, 'crafted'), { recursive: true });
  for (const convention of CONVENTIONS) {
    const made = JSON.parse(
      ok('node', [
        CRAFT,
        image,
        join(out, 'crafted', `ref-${convention}`),
        convention,
        'v1',
      ]).toString('utf8'),
    ) as { subject: string; referrer: string; fallbackTag: string };
    peers.push({
      path: `crafted/ref-${convention}`,
      kind: 'oci-layout',
      writer: 'craft-referrer-layout.mjs',
      convention,
      tags: { v1: made.subject },
      referrer: made.referrer,
      fallbackTag: made.fallbackTag,
    });
  }
  rmSync(src, { recursive: true, force: true });
  writeFileSync(join(out, 'peers.json'), `${JSON.stringify(peers, null, 2)}\n`);
  return peers;
}
