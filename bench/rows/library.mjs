// Rows about library operations, timed in-process with the reference computed in the same process
// (bench/inproc/*.mjs): discover, convert, index.json commit. Plus a whole-process discover, for
// context.
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN } from '../lib/config.mjs';
import { runInProcess } from '../lib/measure.mjs';
import { boundRow, msToS, ratioRow, removeAll, side } from '../lib/rows.mjs';

const script = (name) => fileURLToPath(new URL(`../inproc/${name}`, import.meta.url));

export async function discoverRows(ctx) {
  const { work, sizes, runsSmall } = ctx.config;
  const base = join(work, 'discover');
  mkdirSync(base, { recursive: true });
  const dir = join(base, 'layout');
  const m = sizes.discoverManifests;
  const r = sizes.discoverReferrers;
  ctx.log(`discover: building ${m} manifests, ${r} referrers (our library)`);
  const meta = runInProcess(script('discover.mjs'), ['build', dir, m, r]);
  ctx.inproc('discover', `node bench/inproc/discover.mjs time $W/discover/layout ${runsSmall}`);
  const t = runInProcess(script('discover.mjs'), ['time', dir, runsSmall]);
  const rows = [
    ratioRow({
      id: 'discover',
      work: `discover on ${m} manifests, ${r} referrers (per-manifest), in-process`,
      ours: side('discoverReferrers() (in-process)', msToS(t.ours)),
      ref: side('readFileSync+JSON.parse loop (in-process)', msToS(t.reference)),
      max: 2,
    }),
  ];
  // The CLI's start-up has rows of its own (rows/startup.mjs); this one is the whole command.
  const c = ctx.time(
    'discover CLI',
    [
      {
        key: 'ocilayout discover --json',
        argv: [process.execPath, BIN, 'discover', `${dir}@${meta.subject}`, '--json'],
      },
    ],
    runsSmall,
    { warmup: true },
  );
  rows.push({
    id: 'discover-cli',
    work: 'discover, whole CLI process (context)',
    value: c['ocilayout discover --json'].wall.median,
    ours: side('ocilayout discover --json', c['ocilayout discover --json'].wall),
    unit: 's',
    goal: '—',
    met: null,
  });
  // The same referrers in the fallback-tag convention (1 index per subject): another read path.
  runInProcess(script('discover.mjs'), ['convert', dir, 'fallback-tag']);
  const f = runInProcess(script('discover.mjs'), ['time', dir, runsSmall]);
  rows.push(
    ratioRow({
      id: 'discover-fallback',
      work: `discover, same layout converted to fallback-tag, in-process`,
      ours: side('discoverReferrers() (in-process)', msToS(f.ours)),
      ref: side('readFileSync+JSON.parse loop (in-process)', msToS(f.reference)),
      max: 2,
    }),
  );
  removeAll(base);
  return rows;
}

export async function convertRows(ctx) {
  const { work, sizes, runsSmall } = ctx.config;
  const dir = join(work, 'convert');
  const n = sizes.convertReferrers;
  ctx.log(`convert: building ${n} referrers over ${sizes.convertSubjects} subjects (our library)`);
  runInProcess(script('convert.mjs'), ['build', dir, n, sizes.convertSubjects]);
  ctx.inproc('convert', `node bench/inproc/convert.mjs time $W/convert ${runsSmall}`);
  const t = runInProcess(script('convert.mjs'), ['time', dir, runsSmall]);
  removeAll(dir);
  return Object.entries(t.pairs).map(([pair, stats]) =>
    boundRow({
      id: `convert ${pair}`,
      work: `convert ${n} referrers (${sizes.convertSubjects} subjects) ${pair.replace('->', ' → ')}, in-process`,
      ours: side('convert() (in-process)', msToS(stats)),
      max: 5,
      unit: 's',
    }),
  );
}

export async function indexCommitRows(ctx) {
  const { work, sizes, runsSmall } = ctx.config;
  const rows = [];
  for (const entries of sizes.indexSizes) {
    const dir = join(work, `index-${entries}`);
    ctx.log(`index commit: ${entries} entries`);
    ctx.inproc(
      `index commit ${entries}`,
      `node bench/inproc/index-commit.mjs $W/index-${entries} ${entries} ${runsSmall}`,
    );
    const t = runInProcess(script('index-commit.mjs'), [dir, entries, runsSmall]);
    removeAll(dir);
    rows.push(
      ratioRow({
        id: `index-${entries}`,
        work: `index.json commit at ${entries.toLocaleString('en')} entries (${(t.bytes / 1e6).toFixed(1)} MB), in-process`,
        ours: side('Layout.updateIndex (in-process)', msToS(t.ours)),
        ref: side('JSON.parse+JSON.stringify (in-process)', msToS(t.reference)),
        max: 2,
      }),
    );
  }
  return rows;
}
