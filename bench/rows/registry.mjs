// The registry bridge against skopeo, through the same loopback docker-registry, same image (the
// 1 GiB-row recipe): pull (`copy docker:// DIR` vs `skopeo copy docker:// oci:`; wall and peak
// RSS), push into an empty repository, and push into a registry that already holds the blobs in
// another repository (both tools remember where they saw blobs and mount instead of uploading).
//
// Each tool keeps its own record of where blobs were seen: ours under XDG_CACHE_HOME (here a
// directory of the run), skopeo's blob-info cache in the user's home. The plain push goes to its
// own registry instance, whose repositories are removed after every run, so neither tool finds the
// blobs there; a record naming a removed repository costs a refused mount, for both alike.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { BIN } from '../lib/config.mjs';
import { umociImage } from '../lib/fixtures.mjs';
import { sh } from '../lib/measure.mjs';
import { boundRow, ratioRow, removeAll, side } from '../lib/rows.mjs';
import { registryRepository, startRegistry } from '../lib/servers.mjs';

const PULL_MAX_RATIO = 0.8;
const PULL_MAX_RSS_MIB = 64;
const MOUNT_MAX_RATIO = 2.0;

export async function registryRows(ctx) {
  const { work, sizes, runsBig } = ctx.config;
  const tmp = join(work, 'tmp');
  mkdirSync(tmp, { recursive: true });
  const skopeoEnv = { TMPDIR: tmp };
  const cache = join(work, 'registry-cache');
  const oursEnv = { XDG_CACHE_HOME: cache };
  const servers = [];
  const started = async (p) => {
    const s = await p;
    servers.push(s);
    return s;
  };
  const layout = join(work, 'registry-image');
  const pullDir = join(work, 'reg-bridge-pull');
  const pushDir = join(work, 'reg-bridge-push');
  const mountDir = join(work, 'reg-bridge-mount');
  try {
    const imageBytes = sizes.imageLayers * sizes.imageLayerBytes;
    ctx.log(`registry: building the ${ctx.size(imageBytes)} image`);
    umociImage(layout, 'v4', sizes.imageLayers, sizes.imageLayerBytes, join(work, 'src'));
    const skopeoPush = (host, repo) => [
      'skopeo',
      'copy',
      '-q',
      '--dest-tls-verify=false',
      `oci:${layout}:v4`,
      `docker://${host}/${repo}:v4`,
    ];
    const oursPush = (host, repo) => [
      process.execPath,
      BIN,
      'copy',
      '--quiet',
      `${layout}:v4`,
      `docker://${host}/${repo}:v4`,
    ];

    // Pull: the image in bench/app, put there by skopeo (not timed).
    const regPull = await started(startRegistry(pullDir));
    sh(skopeoPush(regPull.host, 'bench/app'), { env: { ...process.env, ...skopeoEnv } });
    const out = (name) => join(work, `registry-pull-${name}`);
    const p = ctx.time(
      'registry pull',
      [
        {
          key: 'skopeo copy docker:// oci:',
          argv: [
            'skopeo',
            'copy',
            '-q',
            '--src-tls-verify=false',
            `docker://${regPull.host}/bench/app:v4`,
            `oci:${out('skopeo')}:v4`,
          ],
          env: skopeoEnv,
          cleanup: () => removeAll(out('skopeo')),
        },
        {
          key: 'ocilayout copy docker:// DIR',
          argv: [
            process.execPath,
            BIN,
            'copy',
            '--quiet',
            `docker://${regPull.host}/bench/app:v4`,
            `${out('ours')}:v4`,
          ],
          env: oursEnv,
          cleanup: () => removeAll(out('ours'), cache),
        },
      ],
      runsBig,
    );

    // Push into an empty repository (taken away after every run).
    const regPush = await started(startRegistry(pushDir));
    const u = ctx.time(
      'registry push',
      [
        {
          key: 'skopeo copy oci: docker://',
          argv: skopeoPush(regPush.host, 'push/skopeo'),
          env: skopeoEnv,
          cleanup: () => removeAll(registryRepository(pushDir, 'push/skopeo')),
        },
        {
          key: 'ocilayout copy DIR docker://',
          argv: oursPush(regPush.host, 'push/ours'),
          env: oursEnv,
          cleanup: () => removeAll(registryRepository(pushDir, 'push/ours')),
        },
      ],
      runsBig,
    );

    // Push with mount: the registry holds the blobs in seed/skopeo and seed/ours, each pushed there
    // by the tool that then pushes again (so each has recorded where the blobs are; not timed).
    const regMount = await started(startRegistry(mountDir));
    sh(skopeoPush(regMount.host, 'seed/skopeo'), { env: { ...process.env, ...skopeoEnv } });
    sh(oursPush(regMount.host, 'seed/ours'), { env: { ...process.env, ...oursEnv } });
    const m = ctx.time(
      'registry push with mount',
      [
        {
          key: 'skopeo copy oci: docker:// (blobs in seed/skopeo)',
          argv: skopeoPush(regMount.host, 'mount/skopeo'),
          env: skopeoEnv,
          cleanup: () => removeAll(registryRepository(mountDir, 'mount/skopeo')),
        },
        {
          key: 'ocilayout copy DIR docker:// (blobs in seed/ours)',
          argv: oursPush(regMount.host, 'mount/ours'),
          env: oursEnv,
          cleanup: () => removeAll(registryRepository(mountDir, 'mount/ours')),
        },
      ],
      runsBig,
    );

    const pullOurs = p['ocilayout copy docker:// DIR'];
    return [
      ratioRow({
        id: 'registry-pull',
        work: `pull the ${ctx.size(imageBytes)} ${sizes.imageLayers}-layer image from docker-registry into a layout, vs skopeo copy docker:// oci:`,
        ours: side('ocilayout copy docker:// DIR', pullOurs.wall),
        ref: side('skopeo copy docker:// oci:', p['skopeo copy docker:// oci:'].wall),
        max: PULL_MAX_RATIO,
      }),
      boundRow({
        id: 'registry-pull-rss',
        work: `peak RSS of that pull (skopeo's: ${p['skopeo copy docker:// oci:'].rss.median.toFixed(0)} MiB)`,
        ours: side('ocilayout copy docker:// DIR', pullOurs.rss),
        max: PULL_MAX_RSS_MIB,
        unit: 'MiB',
      }),
      ratioRow({
        id: 'registry-push',
        work: `push the ${ctx.size(imageBytes)} image from a layout into an empty docker-registry repository, vs skopeo (context)`,
        ours: side('ocilayout copy DIR docker://', u['ocilayout copy DIR docker://'].wall),
        ref: side('skopeo copy oci: docker://', u['skopeo copy oci: docker://'].wall),
      }),
      ratioRow({
        id: 'registry-push-mount',
        work: `push the ${ctx.size(imageBytes)} image to a docker-registry that holds its blobs in another repository (mounted, not uploaded), vs skopeo`,
        ours: side(
          'ocilayout copy DIR docker:// (blobs in seed/ours)',
          m['ocilayout copy DIR docker:// (blobs in seed/ours)'].wall,
        ),
        ref: side(
          'skopeo copy oci: docker:// (blobs in seed/skopeo)',
          m['skopeo copy oci: docker:// (blobs in seed/skopeo)'].wall,
        ),
        max: MOUNT_MAX_RATIO,
      }),
    ];
  } finally {
    for (const s of servers) await s.stop();
    removeAll(layout, pullDir, pushDir, mountDir, cache);
  }
}
