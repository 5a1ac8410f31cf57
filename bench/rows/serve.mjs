// serve against docker-registry (CNCF distribution, Debian's build), same run, same content: skopeo
// pull and push of the 1 GiB 4-layer image, 32 concurrent pulls with the manifest latency under
// that load (bench/inproc/pull-load.mjs, one client for both), and the peak RSS (VmHWM) of the
// serve process while it serves the 4 GiB image.
//
// Each server runs in its own process on its own port. Pulls and pushes go to different servers:
// skopeo remembers where it saw a blob (its blob-info cache, per registry host) and would otherwise
// push by cross-repository mount instead of uploading.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { ROOT } from '../lib/config.mjs';
import { umociImage } from '../lib/fixtures.mjs';
import { runInProcess, sh, summarize } from '../lib/measure.mjs';
import { boundRow, msToS, ratioRow, removeAll, side } from '../lib/rows.mjs';
import { peakRssMiB, registryRepository, startRegistry, startServe } from '../lib/servers.mjs';

const PULL_LOAD = join(ROOT, 'bench', 'inproc', 'pull-load.mjs');
const CONCURRENT = 32;

export async function serveRows(ctx) {
  const { work, sizes, runsBig } = ctx.config;
  const tmp = join(work, 'tmp');
  mkdirSync(tmp, { recursive: true });
  const skopeoEnv = { TMPDIR: tmp };
  const servers = [];
  const started = async (p) => {
    const s = await p;
    servers.push(s);
    return s;
  };
  try {
    // Fixtures: the 1 GiB image as repository bench/app of a serve tree, the same bytes pushed into
    // docker-registry by skopeo (not timed).
    const tree = join(work, 'serve-tree');
    const layout = join(tree, 'bench', 'app');
    mkdirSync(join(tree, 'bench'), { recursive: true });
    const imageBytes = sizes.imageLayers * sizes.imageLayerBytes;
    ctx.log(`serve: building the ${ctx.size(imageBytes)} image`);
    umociImage(layout, 'v4', sizes.imageLayers, sizes.imageLayerBytes, join(work, 'src'));
    const servePull = await started(startServe(tree));
    const regPull = await started(startRegistry(join(work, 'reg-pull')));
    sh(
      [
        'skopeo',
        'copy',
        '-q',
        '--dest-tls-verify=false',
        `oci:${layout}:v4`,
        `docker://${regPull.host}/bench/app:v4`,
      ],
      { env: { ...process.env, ...skopeoEnv } },
    );
    const serveRssAfterStart = peakRssMiB(servePull.pid);

    // skopeo pull, serve vs docker-registry.
    const out = (name) => join(work, `serve-${name}`);
    const pull = (key, name, host) => ({
      key,
      argv: [
        'skopeo',
        'copy',
        '-q',
        '--src-tls-verify=false',
        `docker://${host}/bench/app:v4`,
        `oci:${out(name)}:v4`,
      ],
      env: skopeoEnv,
      cleanup: () => removeAll(out(name)),
    });
    const p = ctx.time(
      'serve pull',
      [
        pull('skopeo pull from docker-registry', 'pull-reg', regPull.host),
        pull('skopeo pull from ocilayout serve', 'pull-serve', servePull.host),
      ],
      runsBig,
    );

    // skopeo push into an empty repository of each (taken away after every run).
    const pushTree = join(work, 'serve-push-tree');
    mkdirSync(pushTree, { recursive: true });
    const servePush = await started(startServe(pushTree));
    const regPushDir = join(work, 'reg-push');
    const regPush = await started(startRegistry(regPushDir));
    const push = (key, host, cleanup) => ({
      key,
      argv: [
        'skopeo',
        'copy',
        '-q',
        '--dest-tls-verify=false',
        `oci:${layout}:v4`,
        `docker://${host}/push/app:v4`,
      ],
      env: skopeoEnv,
      cleanup,
    });
    const u = ctx.time(
      'serve push',
      [
        // distribution keeps blobs globally and links them per repository: dropping the
        // repository makes the next push upload every blob again.
        push('skopeo push to docker-registry', regPush.host, () =>
          removeAll(registryRepository(regPushDir, 'push')),
        ),
        push('skopeo push to ocilayout serve', servePush.host, () =>
          removeAll(join(pushTree, 'push')),
        ),
      ],
      runsBig,
    );

    // 32 concurrent pulls, with the manifest latency probe, interleaved.
    const load = { reg: [], serve: [] };
    const loadArgv = (url) => [PULL_LOAD, url, 'bench/app', 'v4', CONCURRENT];
    for (let i = 0; i < runsBig; i++) {
      for (const [key, s] of [
        ['reg', regPull],
        ['serve', servePull],
      ]) {
        const r = runInProcess(loadArgv(s.url)[0], loadArgv(s.url).slice(1));
        if (r.bytes < CONCURRENT * imageBytes) throw new Error(`${key}: short pulls (${r.bytes})`);
        ctx.log(
          `  ${key} ${CONCURRENT} pulls run ${i + 1}/${runsBig}: ${(r.pullMs / 1000).toFixed(3)} s; manifest p99 ${r.latency.p99.toFixed(1)} ms over ${r.latency.n}; client loop delay p99 ${r.clientLoopDelay.p99.toFixed(1)} ms`,
        );
        load[key].push(r);
      }
    }
    const serveRss1 = peakRssMiB(servePull.pid);
    ctx.inproc(
      `${CONCURRENT} concurrent pulls + manifest latency`,
      `node bench/inproc/pull-load.mjs URL bench/app v4 ${CONCURRENT}`,
    );

    // Peak RSS while serving the 4 GiB image: a fresh server, two pulls of it at once.
    const bigTree = join(work, 'serve-big-tree');
    const bigLayout = join(bigTree, 'bench', 'big');
    mkdirSync(join(bigTree, 'bench'), { recursive: true });
    const bigBytes = sizes.bigImageLayers * sizes.imageLayerBytes;
    removeAll(join(tree)); // the 1 GiB image is no longer needed (disk)
    ctx.log(`serve: building the ${ctx.size(bigBytes)} image`);
    umociImage(bigLayout, 'v16', sizes.bigImageLayers, sizes.imageLayerBytes, join(work, 'src'));
    const serveBig = await started(startServe(bigTree));
    const bigLoad = runInProcess(PULL_LOAD, [serveBig.url, 'bench/big', 'v16', 2]);
    if (bigLoad.bytes < 2 * bigBytes) throw new Error(`big pulls short (${bigLoad.bytes})`);
    const serveRss4 = peakRssMiB(serveBig.pid);
    ctx.log(
      `  serve VmHWM: ${serveRss1.toFixed(0)} MiB (${ctx.size(imageBytes)} image rows), ${serveRss4.toFixed(0)} MiB (${ctx.size(bigBytes)} image)`,
    );
    removeAll(bigTree);

    const sec = (list, f) => msToS(summarize(list.map(f)));
    return [
      ratioRow({
        id: 'serve-pull',
        work: `skopeo copy docker:// of the ${ctx.size(imageBytes)} ${sizes.imageLayers}-layer image from serve, vs from docker-registry`,
        ours: side('skopeo pull from ocilayout serve', p['skopeo pull from ocilayout serve'].wall),
        ref: side('skopeo pull from docker-registry', p['skopeo pull from docker-registry'].wall),
        max: 0.8,
      }),
      ratioRow({
        id: 'serve-push',
        work: `skopeo copy of the ${ctx.size(imageBytes)} image to serve (verified, fsync'd, committed), vs to docker-registry`,
        ours: side('skopeo push to ocilayout serve', u['skopeo push to ocilayout serve'].wall),
        ref: side('skopeo push to docker-registry', u['skopeo push to docker-registry'].wall),
        max: 1.0,
      }),
      ratioRow({
        id: 'serve-pull32',
        work: `${CONCURRENT} concurrent pulls of the ${ctx.size(imageBytes)} image (one client, bench/inproc/pull-load.mjs), vs docker-registry (goal ours: no slower)`,
        ours: side(
          `${CONCURRENT} pulls from ocilayout serve`,
          sec(load.serve, (r) => r.pullMs),
        ),
        ref: side(
          `${CONCURRENT} pulls from docker-registry`,
          sec(load.reg, (r) => r.pullMs),
        ),
        max: 1.0,
      }),
      ratioRow({
        id: 'serve-latency',
        work: `manifest GET p99 latency during the ${CONCURRENT} concurrent pulls (probe on a thread of its own), vs docker-registry (goal ours: no slower)`,
        ours: side(
          'p99 manifest GET, ocilayout serve',
          sec(load.serve, (r) => r.latency.p99),
        ),
        ref: side(
          'p99 manifest GET, docker-registry',
          sec(load.reg, (r) => r.latency.p99),
        ),
        max: 1.0,
      }),
      boundRow({
        id: 'serve-rss',
        work: `peak RSS (VmHWM) of serve serving the ${ctx.size(bigBytes)} image to 2 clients at once (flat? ${serveRssAfterStart.toFixed(0)} MiB after start; ${serveRss1.toFixed(0)} MiB after the ${ctx.size(imageBytes)} rows above)`,
        ours: side('ocilayout serve', summarize([serveRss4])),
        max: 128,
        unit: 'MiB',
      }),
    ];
  } finally {
    for (const s of servers) await s.stop();
    removeAll(join(work, 'serve-tree'), join(work, 'serve-push-tree'), join(work, 'reg-pull'));
    rmSync(join(work, 'reg-push'), { recursive: true, force: true });
  }
}
