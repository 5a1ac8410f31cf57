// Benchmark settings from the environment, in one place. Sizes shrink with BENCH_SCALE=small so the
// harness can be developed on a loaded machine; the figures in BENCHMARKS.md come from the full scale.
import { mkdtempSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = resolve(fileURLToPath(new URL('../..', import.meta.url)));
export const BIN = join(ROOT, 'dist', 'cli', 'bin.js');
export const LIB = join(ROOT, 'dist', 'index.js');

const MiB = 1024 * 1024;
const GiB = 1024 * MiB;

/** Every size a row uses, per scale. `full` is what the goals in BENCHMARKS.md are stated for. */
const SCALES = {
  full: {
    pushBytes: GiB,
    imageLayers: 4,
    imageLayerBytes: 256 * MiB,
    bigImageLayers: 16, // 4 GiB for the RSS row, same 256 MiB layers as the 1 GiB image
    smallLayers: 200,
    smallLayerBytes: 64 * 1024,
    discoverManifests: 10_000,
    discoverReferrers: 1_000,
    convertReferrers: 10_000,
    convertSubjects: 1_000,
    indexSizes: [10_000, 100_000],
  },
  small: {
    pushBytes: 64 * MiB,
    imageLayers: 4,
    imageLayerBytes: 16 * MiB,
    bigImageLayers: 16,
    smallLayers: 40,
    smallLayerBytes: 64 * 1024,
    discoverManifests: 2_000,
    discoverReferrers: 200,
    convertReferrers: 2_000,
    convertSubjects: 200,
    indexSizes: [2_000, 20_000],
  },
};

function positiveInt(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1)
    throw new Error(`${name} must be a positive integer, got ${raw}`);
  return n;
}

export function loadConfig() {
  const scaleName = process.env.BENCH_SCALE ?? 'full';
  const sizes = SCALES[scaleName];
  if (sizes === undefined) throw new Error(`BENCH_SCALE must be full or small, got ${scaleName}`);
  const runs = positiveInt('BENCH_RUNS', 0);
  // BENCH_DIR is the parent; each run works in a fresh subdirectory of it (same filesystem as /tmp
  // by default, like a user's layouts).
  const parent = resolve(process.env.BENCH_DIR ?? tmpdir());
  mkdirSync(parent, { recursive: true });
  const work = mkdtempSync(join(parent, 'ocilayout-bench-'));
  const only = (process.env.BENCH_ONLY ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
  return {
    scale: scaleName,
    sizes,
    // Whole-process rows on small data run 5 times, rows that move GiBs 3 times (spec-notes/performance.md).
    runsSmall: runs || 5,
    runsBig: runs || 3,
    work,
    keep: process.env.KEEP === '1',
    only,
    output: resolve(process.env.BENCH_OUT ?? join(ROOT, 'BENCHMARKS.md')),
    skipInstall: process.env.BENCH_NO_INSTALL === '1',
  };
}

export function wants(config, rowId) {
  return config.only.length === 0 || config.only.some((o) => rowId.startsWith(o));
}

export { MiB, GiB };
