#!/usr/bin/env node
// discover on a layout of MANIFESTS manifests, REFERRERS of them referrers (per-manifest convention,
// 10 per subject), against the floor: readFileSync + JSON.parse of index.json and of every manifest
// it lists (what any discovery must at least do). In one process, interleaved.
//   discover.mjs build DIR MANIFESTS REFERRERS   -> {"subject": ..., ...}
//   discover.mjs time DIR RUNS                   -> {"ours": {median,min,max}, "reference": {...}}
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Layout, convert, discoverReferrers, recordReferrers } from '../../dist/internal.js';
import { imageLayout, interleave, referrerManifests } from './common.mjs';

const PER_SUBJECT = 10;
const [mode, dir, a, b] = process.argv.slice(2);

if (mode === 'build') {
  const manifests = Number(a);
  const referrers = Number(b);
  const { layout, images } = await imageLayout(dir, manifests - referrers);
  const subjects = images.slice(0, Math.ceil(referrers / PER_SUBJECT));
  const edges = referrerManifests(layout, subjects, referrers);
  await recordReferrers(layout, edges, { convention: 'per-manifest' });
  const meta = { subject: subjects[0].digest, manifests, referrers, perSubject: PER_SUBJECT };
  writeFileSync(join(dir, '..', 'discover-meta.json'), JSON.stringify(meta));
  console.log(JSON.stringify(meta));
} else if (mode === 'convert') {
  // Same layout in another convention (for the extra fallback-tag figure).
  await convert(Layout.open(dir), a);
  console.log(JSON.stringify({ converted: a }));
} else if (mode === 'time') {
  const runs = Number(a);
  const meta = JSON.parse(readFileSync(join(dir, '..', 'discover-meta.json'), 'utf8'));
  let found = 0;
  const ours = () => {
    found = discoverReferrers(Layout.open(dir), meta.subject).length;
  };
  let parsed = 0;
  const reference = () => {
    const index = JSON.parse(readFileSync(join(dir, 'index.json'), 'utf8'));
    parsed = 0;
    // Every listed manifest, and every manifest listed by a listed index (fallback/response blobs).
    const queue = index.manifests.map((d) => d.digest);
    const seen = new Set();
    while (queue.length > 0) {
      const digest = queue.pop();
      if (seen.has(digest)) continue;
      seen.add(digest);
      const doc = JSON.parse(readFileSync(join(dir, 'blobs', 'sha256', digest.slice(7))));
      parsed++;
      if (Array.isArray(doc.manifests)) for (const d of doc.manifests) queue.push(d.digest);
    }
  };
  const stats = await interleave({ ours, reference }, runs);
  if (found !== meta.perSubject)
    throw new Error(`discover found ${found}, expected ${meta.perSubject}`);
  console.log(JSON.stringify({ ...stats, found, parsed }));
} else {
  console.error(
    'usage: discover.mjs build DIR MANIFESTS REFERRERS | convert DIR TO | time DIR RUNS',
  );
  process.exit(2);
}
