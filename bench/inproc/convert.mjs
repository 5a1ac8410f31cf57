#!/usr/bin/env node
// convert REFERRERS referrers (over SUBJECTS images) between every ordered pair of conventions,
// in-process (the library's convert(): graph, index blobs, one index.json commit). Each timed
// convert runs on a fresh hard-linked copy (`cp -al`, untimed) of a source layout already in the
// `from` convention, so the ones that must write new index blobs always do.
//   convert.mjs build DIR REFERRERS SUBJECTS   -> DIR/per-manifest, DIR/fallback-tag, DIR/subject-annotation
//   convert.mjs time DIR RUNS                  -> {"per-manifest->fallback-tag": {median,...}, ...}
import { spawnSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import {
  CONVENTION_NAMES,
  Layout,
  convert,
  recordReferrers,
  referrerGraph,
} from '../../dist/internal.js';
import { imageLayout, referrerManifests, summarize, timeMs } from './common.mjs';

const [mode, dir, a, b] = process.argv.slice(2);

function linkCopy(from, to) {
  rmSync(to, { recursive: true, force: true });
  const r = spawnSync('cp', ['-al', from, to]);
  if (r.status !== 0) throw new Error(`cp -al ${from} ${to} failed: ${r.stderr}`);
}

function referrerCount(root) {
  return referrerGraph(Layout.open(root)).records().length;
}

if (mode === 'build') {
  const referrers = Number(a);
  const subjects = Number(b);
  const base = join(dir, 'per-manifest');
  const { layout, images } = await imageLayout(base, subjects);
  await recordReferrers(layout, referrerManifests(layout, images, referrers), {
    convention: 'per-manifest',
  });
  for (const to of ['fallback-tag', 'subject-annotation']) {
    linkCopy(base, join(dir, to));
    await convert(Layout.open(join(dir, to)), to);
  }
  const counts = Object.fromEntries(CONVENTION_NAMES.map((c) => [c, referrerCount(join(dir, c))]));
  console.log(JSON.stringify({ referrers, subjects, counts }));
} else if (mode === 'time') {
  const runs = Number(a);
  const expected = referrerCount(join(dir, 'per-manifest'));
  const pairs = CONVENTION_NAMES.flatMap((from) =>
    CONVENTION_NAMES.filter((to) => to !== from).map((to) => [from, to]),
  );
  const samples = Object.fromEntries(pairs.map(([f, t]) => [`${f}->${t}`, []]));
  const scratch = join(dir, 'run');
  for (let i = 0; i < runs; i++) {
    for (const [from, to] of pairs) {
      linkCopy(join(dir, from), scratch);
      spawnSync('sync');
      let plan;
      const t = await timeMs(async () => {
        plan = await convert(Layout.open(scratch), to);
      });
      if (!plan.changed) throw new Error(`${from}->${to} changed nothing`);
      if (i === 0 && referrerCount(scratch) !== expected) {
        throw new Error(`${from}->${to} lost referrers`);
      }
      samples[`${from}->${to}`].push(t);
      rmSync(scratch, { recursive: true, force: true });
    }
  }
  const out = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, summarize(v)]));
  console.log(JSON.stringify({ expected, pairs: out }));
} else {
  console.error('usage: convert.mjs build DIR REFERRERS SUBJECTS | time DIR RUNS');
  process.exit(2);
}
