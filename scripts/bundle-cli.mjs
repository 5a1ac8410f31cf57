#!/usr/bin/env node
// Build step after tsc: bundle the CLI (dist/cli/process.js and everything it imports, dependencies
// included) into one script, dist/cli/cli.bundle.js, which dist/cli/bin.js runs through a V8 code
// cache (src/cli/code-cache.ts). Loading ~110 of our modules plus zod's and yargs' through the ESM
// loader was most of the CLI's start-up (0.25 s -> 0.15 s, 70 -> 58 MiB), compiling the bundle most
// of the rest (spec-notes/performance.md, CLI start-up). The library entry (dist/index.js) stays
// unbundled for library users.
//
// The script is CommonJS wrapped in a function expression, as Node's CommonJS loader wraps a module:
// a vm.Script (the only code cache Node 20 has) evaluates to that function, and bin.js calls it.
import { build } from 'esbuild';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { assertLazyStringWidth, lazyStringWidth } from './lazy-string-width.mjs';

const entry = fileURLToPath(new URL('../dist/cli/process.js', import.meta.url));
const outfile = fileURLToPath(new URL('../dist/cli/cli.bundle.js', import.meta.url));
const bin = fileURLToPath(new URL('../dist/cli/bin.js', import.meta.url));

await build({
  entryPoints: [entry],
  outfile,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  sourcemap: 'linked',
  legalComments: 'linked',
  logLevel: 'warning',
  plugins: [lazyStringWidth],
  // ESM dependencies (yargs) read import.meta, which a script lacks: bin.js passes the bundle's URL.
  define: { 'import.meta.url': '__importMetaUrl', 'import.meta.resolve': '__importMetaResolve' },
  banner: {
    js: '(function (exports, require, module, __filename, __dirname, __importMetaUrl, __importMetaResolve) {',
  },
  footer: { js: '})' },
});
// esbuild escapes non-ASCII characters in strings, but not in the comments it keeps; escaped there
// too, the script is ASCII, which bin.js decodes as latin1, 3x faster than utf8 (src/cli/code-cache.ts).
// An escape means the same character in a string, regular expression or template, so this is safe
// wherever else one might be.
const text = readFileSync(outfile, 'utf8').replace(
  /[^\x00-\x7f]/g,
  (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`,
);
writeFileSync(outfile, text);
assertLazyStringWidth(text, outfile);
chmodSync(bin, 0o755);
