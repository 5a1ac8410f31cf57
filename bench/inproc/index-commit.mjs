#!/usr/bin/env node
// One index.json commit (IndexStore.update via Layout.updateIndex: lock, re-read, validate, apply,
// serialise, write tmp + fsync + rename + dir fsync) on an index of ENTRIES tags, against the floor
// JSON.stringify(JSON.parse(readFileSync(index.json))) of the same file. In one process, interleaved.
// Every commit moves one tag between two manifests, so each one really writes.
//   index-commit.mjs DIR ENTRIES RUNS  -> {"ours": {...}, "reference": {...}, "bytes": N}
import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { setTag } from '../../dist/internal.js';
import { imageLayout, interleave } from './common.mjs';

const [dir, entriesArg, runsArg] = process.argv.slice(2);
const entries = Number(entriesArg);
// Two stored manifests; `entries` tags spread over them (a layout with many tags: a mirror).
const { layout, images } = await imageLayout(dir, 2);
await layout.updateIndex((index) => {
  for (let i = index.manifests.length; i < entries; i++) {
    index.manifests.push({
      ...images[i % 2],
      annotations: { 'org.opencontainers.image.ref.name': `tag-${i}` },
    });
  }
  return { index, result: undefined };
});
const path = join(dir, 'index.json');
let flip = 0;
const ours = () =>
  layout.updateIndex((index) => {
    flip ^= 1;
    setTag(index, 'moving-tag', images[flip]);
    return { index, result: undefined };
  });
const reference = () => JSON.stringify(JSON.parse(readFileSync(path, 'utf8')));
const stats = await interleave({ ours, reference }, Number(runsArg));
const count = layout.readIndex().manifests.length;
if (count !== entries + 1) throw new Error(`index has ${count} entries, expected ${entries + 1}`);
console.log(JSON.stringify({ ...stats, entries: count, bytes: statSync(path).size }));
