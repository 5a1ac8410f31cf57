#!/usr/bin/env node
// `npm run package`: dist/ocilayout, one executable file that runs the CLI on a host with neither
// Node nor npm (air gaps). It is a copy of the Node binary running this script, with the CLI
// injected as a Node single executable application (SEA):
//   1. esbuild bundles src/cli/sea.ts and every dependency into one CommonJS script (Node 20's SEA
//      runs CommonJS only, and its `require` reaches built-in modules only);
//   2. `node --experimental-sea-config` turns the script into a preparation blob;
//   3. postject writes the blob into the copy as the NODE_SEA_BLOB resource and flips the sentinel
//      fuse that tells Node to run it.
// The executable runs on the OS and CPU of the Node that built it (Linux here); on macOS it would
// also need re-signing, which this script does not do.
import { build } from 'esbuild';
import { execFileSync } from 'node:child_process';
import {
  chmodSync,
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  renameSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { inject } from 'postject';
import { assertLazyStringWidth, lazyStringWidth } from './lazy-string-width.mjs';

// The fuse string Node's SEA support looks for (Node's single-executable-applications docs).
const SENTINEL_FUSE = 'NODE_SEA_FUSE_fce680ab2cc467b6e072b8b5df1996b2';

const root = fileURLToPath(new URL('..', import.meta.url));
const out = join(root, 'dist', 'ocilayout');
// The executable is written beside its final name (same filesystem) and renamed into place, so
// dist/ocilayout is never half written.
const exe = join(root, 'dist', `.ocilayout.${process.pid}.tmp`);
const work = mkdtempSync(join(tmpdir(), 'ocilayout-sea-'));
try {
  const script = join(work, 'ocilayout.cjs');
  await build({
    entryPoints: [join(root, 'src', 'cli', 'sea.ts')],
    outfile: script,
    bundle: true,
    platform: 'node',
    format: 'cjs',
    target: 'node20',
    // Licences of the bundled dependencies travel inside the executable.
    legalComments: 'eof',
    logLevel: 'warning',
    plugins: [lazyStringWidth],
    // ESM dependencies (yargs) read import.meta.url, which CommonJS lacks: give them the file URL
    // of the script (in a SEA, __filename is the executable's path).
    define: { 'import.meta.url': '__ocilayout_import_meta_url' },
    banner: {
      js: "const __ocilayout_import_meta_url = require('node:url').pathToFileURL(__filename).href;",
    },
  });
  assertLazyStringWidth(readFileSync(script, 'utf8'), script);
  const blob = join(work, 'sea-prep.blob');
  const config = join(work, 'sea-config.json');
  writeFileSync(
    config,
    JSON.stringify({
      main: script,
      output: blob,
      disableExperimentalSEAWarning: true,
      // V8's compile cache for the script: start-up close to the bundled bin.js.
      useCodeCache: true,
    }),
  );
  execFileSync(process.execPath, ['--experimental-sea-config', config], { stdio: 'ignore' });
  mkdirSync(join(root, 'dist'), { recursive: true });
  copyFileSync(process.execPath, exe);
  chmodSync(exe, 0o755);
  // postject logs through console.log/warn; keep npm run package quiet unless it fails.
  const log = { log: console.log, warn: console.warn };
  console.log = console.warn = () => undefined;
  try {
    await inject(exe, 'NODE_SEA_BLOB', readFileSync(blob), { sentinelFuse: SENTINEL_FUSE });
  } finally {
    Object.assign(console, log);
  }
  renameSync(exe, out);
} finally {
  rmSync(exe, { force: true });
  rmSync(work, { recursive: true, force: true });
}
console.log(`wrote ${out}`);
