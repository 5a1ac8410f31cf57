#!/usr/bin/env node
// The executable. Turns on Node's module compile cache (22.1+; NODE_COMPILE_CACHE picks its
// directory, NODE_DISABLE_COMPILE_CACHE=1 turns it off) before the bundled CLI loads, so V8 reuses
// the bundle's compiled code from the last run: `--version` 0.27 -> 0.21 s on Node 24
// (spec-notes/performance.md). It has to run before the bundle is compiled, hence this file. Node
// 20 has no such cache and just loads the CLI.
import module from 'node:module';

(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
await import('./start.js');
