#!/usr/bin/env node
// `npm run bench`: measures every row of the benchmark table against its reference, in one run
// on one machine, and writes BENCHMARKS.md. Fixtures are built here (umoci for images, our library for
// referrers), in a fresh work directory under BENCH_DIR (default: the OS temp dir), removed at the end
// unless KEEP=1.
//
// Environment: BENCH_SCALE=full|small (small: MiB instead of GiB, for developing the harness),
// BENCH_RUNS=N (default 5 small / 3 big), BENCH_DIR=DIR, KEEP=1, BENCH_ONLY=push,big,small,rss,
// discover,convert,index,zstd,serve,registry,startup (prefixes; a subset; zstd needs the bench run under Node 22.15+), BENCH_OUT=FILE (default BENCHMARKS.md),
// BENCH_NO_INSTALL=1 (fail instead of apt-get installing skopeo/umoci).
import { existsSync, rmSync } from 'node:fs';
import { GiB, MiB, BIN, ROOT, loadConfig, wants } from './lib/config.mjs';
import { ensurePeerTools } from './lib/fixtures.mjs';
import { freeBytes, loadAverage, machineInfo, sourceState } from './lib/machine.mjs';
import { timeVariants } from './lib/measure.mjs';
import { writeReport } from './lib/report.mjs';
import { skippedRow } from './lib/rows.mjs';
import { bigImageRows, rssRows, smallLayerRows } from './rows/images.mjs';
import { convertRows, discoverRows, indexCommitRows } from './rows/library.mjs';
import { pushRows } from './rows/push.mjs';
import { registryRows } from './rows/registry.mjs';
import { serveRows } from './rows/serve.mjs';
import { startupRows } from './rows/startup.mjs';
import { zstdRows } from './rows/zstd.mjs';

const log = (msg) =>
  process.stderr.write(`[bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);

function size(bytes) {
  if (bytes >= GiB && bytes % GiB === 0) return `${bytes / GiB} GiB`;
  if (bytes >= MiB) return `${Math.round(bytes / MiB)} MiB`;
  return `${Math.round(bytes / 1024)} KiB`;
}

function quote(arg) {
  return /^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replaceAll("'", "'\\''")}'`;
}

const config = loadConfig();
if (!existsSync(BIN))
  throw new Error(`${BIN} missing: run \`npm run build\` first (npm run bench does)`);
const cleanup = () => {
  if (!config.keep) rmSync(config.work, { recursive: true, force: true });
};
process.once('SIGINT', () => {
  cleanup();
  process.exit(130);
});

const display = (argv) =>
  argv
    .map((a) => (a === process.execPath ? 'node' : a))
    .map(quote)
    .map((a) => a.replaceAll(config.work, '$W').replaceAll(`${ROOT}/`, './'))
    .join(' ');

const details = [];
const inproc = [];
const loads = [{ when: 'start', load: loadAverage() }];
const ctx = {
  config,
  log,
  size,
  time(row, variants, runs, options = {}) {
    log(`${row}: ${variants.map((v) => v.key).join(' | ')} × ${runs}`);
    const r = timeVariants(variants, runs, { ...options, log });
    for (const v of variants) {
      details.push({ row, key: v.key, command: display(r[v.key].argv), ...r[v.key] });
    }
    return r;
  },
  inproc(name, command) {
    inproc.push([name, command]);
  },
};

const s = config.sizes;
const fixtures = [
  'start-up: `ocilayout init` and `push` of one 6-byte file make the one-image layout `tags` lists; the code cache is written by the warm-up runs into a directory of the run.',
  `push: one file of ${size(s.pushBytes)} of random bytes.`,
  `1 GiB-row image: \`umoci init/new\`, ${s.imageLayers} × \`umoci insert\` of a directory holding ${size(s.imageLayerBytes)} of random bytes (gzip layers, incompressible), \`umoci gc\` (the layout holds exactly that image, tag v4); the import rows read the archive \`ocilayout export\` made of it.`,
  `small-layer image: the same recipe with ${s.smallLayers} layers of ${size(s.smallLayerBytes)} (tag many).`,
  `4 GiB RSS row: the same recipe with ${s.bigImageLayers} layers of ${size(s.imageLayerBytes)}.`,
  `discover: ${s.discoverManifests - s.discoverReferrers} tagged image manifests (sharing one config and one 1 KiB layer) and ${s.discoverReferrers} OCI 1.1 artifact referrers, 10 per subject, recorded per-manifest in one commit, written by our library (bench/inproc/discover.mjs); discover asks for one subject's referrers.`,
  `convert: ${s.convertSubjects} tagged images and ${s.convertReferrers} referrers (${s.convertReferrers / s.convertSubjects} per subject), written by our library, one source layout per convention; each timed convert runs on a fresh \`cp -al\` copy (bench/inproc/convert.mjs).`,
  `index commit: ${s.indexSizes.join(' and ')} tags over two stored manifests; each commit moves one tag (bench/inproc/index-commit.mjs).`,
  `registry: the 1 GiB-row recipe, pulled from and pushed to docker-registry on loopback by \`ocilayout copy\` and by \`skopeo copy\`; the pull source is put there by skopeo; push-with-mount pushes into a registry that holds the blobs in another repository, put there by the same tool beforehand (so each tool's own record of where blobs were seen names it). Our record lives in the run's work directory (XDG_CACHE_HOME), skopeo's blob-info cache in the user's home.`,
  `serve: the 1 GiB-row recipe as repository bench/app of a tree served by \`ocilayout serve\`, and the same image copied into docker-registry by skopeo; the RSS row serves the 4 GiB recipe. Each server is its own process on loopback; pushes go to other instances than pulls (skopeo's blob-info cache would mount instead of uploading).`,
];

// Disk: the 1 GiB rows keep at most the image, one archive, one destination and skopeo's temp copy.
const baseNeed = 3 * s.pushBytes + 6 * s.imageLayers * s.imageLayerBytes + GiB / 4;
const free = freeBytes(config.work);
log(`work dir ${config.work}; ${size(free)} free; load ${loadAverage()}`);
if (free < baseNeed) {
  cleanup();
  throw new Error(
    `only ${size(free)} free under ${config.work}; the benchmark needs ~${size(baseNeed)} (set BENCH_DIR)`,
  );
}
ensurePeerTools({ skipInstall: config.skipInstall, log });
const machine = { ...machineInfo(config.work), source: sourceState(ROOT) };
const started = new Date().toISOString();
const rows = [];
const notes = [];
let failed = false;

async function section(id, title, fn) {
  if (!wants(config, id)) return;
  log(`== ${title}`);
  try {
    rows.push(...(await fn()));
  } catch (err) {
    failed = true;
    log(`${title} failed: ${err.stack ?? err}`);
    rows.push({
      ...skippedRow({ id, work: title, goal: '—', reason: '' }),
      skipped: undefined,
      error: String(err.message ?? err).split('\n')[0],
    });
  }
  loads.push({ when: `after ${title}`, load: loadAverage() });
}

await section('startup', 'CLI start-up', () => startupRows(ctx));
await section('push', 'push', () => pushRows(ctx));
let big;
await section('big', '1 GiB image: copy, export, import', async () => {
  big = await bigImageRows(ctx);
  return big.rows;
});
await section('rss', 'peak RSS', async () => {
  if (big === undefined)
    return [
      skippedRow({
        id: 'rss',
        work: 'peak RSS export/import',
        goal: '≤ 64 MiB',
        reason: 'needs the 1 GiB image rows (BENCH_ONLY=big,rss)',
      }),
    ];
  return rssRows(ctx, big);
});
await section('small', 'small layers: copy, export, import', () => smallLayerRows(ctx));
await section('discover', 'discover', () => discoverRows(ctx));
await section('convert', 'convert', () => convertRows(ctx));
await section('index', 'index.json commit', () => indexCommitRows(ctx));
await section('zstd', 'zstd archives', () => zstdRows(ctx));
await section('serve', 'serve vs docker-registry', () => serveRows(ctx));
await section('registry', 'registry pull and push vs skopeo', () => registryRows(ctx));

if (config.scale !== 'full')
  notes.push(
    `BENCH_SCALE=${config.scale}: sizes are reduced; these are not the full-scale figures the goals name.`,
  );
if (config.only.length > 0) notes.push(`BENCH_ONLY=${config.only.join(',')}: only these rows ran.`);
const finished = new Date().toISOString();
writeReport(config.output, {
  machine,
  config,
  started,
  finished,
  loads,
  rows,
  details,
  inproc,
  notes,
  fixtures,
});
log(`wrote ${config.output}`);
cleanup();
if (config.keep) log(`kept ${config.work}`);
for (const r of rows) {
  const v = r.value === undefined ? '' : r.value.toFixed(3) + (r.unit ?? '');
  log(
    `${r.met === true ? 'met   ' : r.met === false ? 'MISSED' : '      '} ${r.id}: ${v} (goal ${r.goal})${r.error ? ` ERROR ${r.error}` : ''}${r.skipped ? ` SKIPPED ${r.skipped}` : ''}`,
  );
}
process.exitCode = failed ? 1 : 0;
