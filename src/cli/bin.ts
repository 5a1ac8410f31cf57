#!/usr/bin/env node
// The executable. Runs the bundled CLI (dist/cli/cli.bundle.js, scripts/bundle-cli.mjs) through a
// V8 code cache (cli/code-cache.ts), which Node 20 offers only to scripts, not modules. Without the
// bundle (the unbundled tsc output, as tests transpile it) it imports process.js instead. It also
// turns on Node's module compile cache (22.1+; NODE_COMPILE_CACHE picks its directory,
// NODE_DISABLE_COMPILE_CACHE=1 turns it off) for itself and that fallback.
// Signals and exit status: cli/process.ts.
import { existsSync } from 'node:fs';
import module, { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { codeCacheDir, runCachedScript } from './code-cache.js';

(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();

/** The bundle's wrapper: CommonJS's parameters, plus what its ESM dependencies read from import.meta. */
type BundleWrapper = (
  exports: object,
  require: NodeJS.Require,
  module: { exports: object },
  filename: string,
  dirname: string,
  importMetaUrl: string,
  importMetaResolve: (specifier: string) => string,
) => void;

const bundle = fileURLToPath(new URL('./cli.bundle.js', import.meta.url));
if (existsSync(bundle)) {
  const script = runCachedScript(bundle, codeCacheDir());
  const mod = { exports: {} as { runProcess?: () => Promise<void> } };
  (script.value as BundleWrapper)(
    mod.exports,
    createRequire(bundle),
    mod,
    bundle,
    dirname(bundle),
    // The bundle's own URL, as import.meta.url was in its place (yargs looks for files from it).
    new URL('./cli.bundle.js', import.meta.url).href,
    (specifier) => import.meta.resolve(specifier),
  );
  await mod.exports.runProcess!();
  script.save();
} else {
  const { runProcess } = await import('./process.js');
  await runProcess();
}
