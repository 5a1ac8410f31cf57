#!/usr/bin/env node
// The executable. Turns on Node's module compile cache (22.1+; NODE_COMPILE_CACHE picks its
// directory, NODE_DISABLE_COMPILE_CACHE=1 turns it off) before the bundled CLI (start.ts) loads, so
// V8 reuses the bundle's compiled code from the last run (figures: spec-notes/performance.md). It
// has to run before the bundle is compiled, hence this separate file; Node 20 has no such cache.
// Signals and exit status: cli/process.ts.
import module from 'node:module';

(module as { enableCompileCache?: () => unknown }).enableCompileCache?.();
await import('./start.js');
