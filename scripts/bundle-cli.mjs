#!/usr/bin/env node
// Build step after tsc: bundle the CLI (dist/cli/start.js and everything it imports, dependencies
// included) into that same one file; dist/cli/bin.js, the executable, stays a small loader of it
// (it turns the compile cache on first). Loading ~110 of our modules plus zod's and yargs' through
// the ESM loader was most of the CLI's start-up (0.25 s -> 0.15 s, 70 -> 58 MiB; BENCHMARKS.md).
// The library entry (dist/index.js) stays unbundled for library users.
import { build } from 'esbuild';
import { chmodSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const entry = fileURLToPath(new URL('../dist/cli/start.js', import.meta.url));
const bin = fileURLToPath(new URL('../dist/cli/bin.js', import.meta.url));
await build({
  entryPoints: [entry],
  outfile: entry,
  allowOverwrite: true,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'linked',
  legalComments: 'linked',
  logLevel: 'warning',
  // CommonJS dependencies (proper-lockfile, graceful-fs) call require() for Node built-ins.
  banner: {
    js: "import { createRequire as __ocilayoutRequire } from 'node:module';\nconst require = __ocilayoutRequire(import.meta.url);",
  },
});
chmodSync(bin, 0o755);
