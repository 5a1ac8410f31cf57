#!/usr/bin/env node
// The executable. Runs the bundled CLI (dist/cli/cli.bundle.js, scripts/bundle-cli.mjs) through a
// V8 code cache (cli/code-cache.ts), which Node 20 offers only to scripts, not modules. Without the
// bundle (the unbundled tsc output, as tests transpile it) it imports process.js instead. It also
// turns on Node's module compile cache (22.1+; NODE_COMPILE_CACHE picks its directory,
// NODE_DISABLE_COMPILE_CACHE=1 turns it off) for itself and that fallback.
// Signals and exit status: cli/process.ts.
import { codeCacheDir, runCachedScript } from './code-cache.js';

// Built-ins through process.getBuiltinModule, not `import`: an ESM import of a built-in builds a
// module facade that reads every export, and that runs the lazy getters behind them (node:fs's
// `promises`, which loads readline; node:crypto's `webcrypto`): start-up work for nothing.
const { existsSync } = process.getBuiltinModule('node:fs');
const module = process.getBuiltinModule('node:module');
const path = process.getBuiltinModule('node:path');
const { fileURLToPath } = process.getBuiltinModule('node:url');
const { createRequire } = module;

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

/**
 * Built-in modules that the bundle imports at its top but only some commands use (the registry
 * client and server, credential helpers, compression, export's hash worker): loading them made
 * every start-up pay for what most commands never use. The bundle reads them only by property
 * (`http.request(...)`, esbuild's output for named imports), so a stand-in that loads the module
 * on its first property access is indistinguishable to it.
 */
const LAZY_BUILTINS = new Set([
  'node:http',
  'node:https',
  'node:net',
  'node:child_process',
  'node:zlib', // compressed archives only
  'node:worker_threads', // export's hash worker only
]);

function lazyBuiltins(real: NodeJS.Require): NodeJS.Require {
  const lazy = (id: string): unknown => {
    if (!LAZY_BUILTINS.has(id)) return real(id);
    let loaded: object | undefined;
    const load = (): object => (loaded ??= real(id) as object);
    return new Proxy(
      {},
      {
        get: (_t, key) => Reflect.get(load(), key) as unknown,
        set: (_t, key, value) => Reflect.set(load(), key, value),
        has: (_t, key) => Reflect.has(load(), key),
        ownKeys: () => Reflect.ownKeys(load()),
        getOwnPropertyDescriptor: (_t, key) => {
          const d = Reflect.getOwnPropertyDescriptor(load(), key);
          // A proxy may not report a property non-configurable that its (empty) target lacks.
          return d === undefined ? undefined : { ...d, configurable: true };
        },
      },
    );
  };
  return Object.assign(lazy, real) as NodeJS.Require;
}

const bundle = fileURLToPath(new URL('./cli.bundle.js', import.meta.url));
if (existsSync(bundle)) {
  const script = runCachedScript(bundle, codeCacheDir());
  const mod = { exports: {} as { runProcess?: () => Promise<void> } };
  (script.value as BundleWrapper)(
    mod.exports,
    lazyBuiltins(createRequire(bundle)),
    mod,
    bundle,
    path.dirname(bundle),
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
